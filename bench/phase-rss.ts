/**
 * Peak RSS per phase of backup, verify, restore and pull (issue 21: memory must not grow with the
 * database). Each operation runs in a child process of its own that samples its own RSS
 * (process.memoryUsage.rss(), every worker thread included) every SAMPLE_MS and files each sample
 * under the phase the operation's onProgress last reported; the process's maxRSS (getrusage) is the
 * overall peak, which also catches what happened between two samples.
 *
 * Phases: backup: copy (validated private copy of the source), snapshot (VACUUM INTO), check
 * (integrity_check), compress (gzip + sha256), publish (sidecar, latest.txt, prune); verify and
 * restore: gunzip, check (and place); pull: download (gunzip alongside), check, publish.
 * Pull here reads from a LocalTransport (no sshd): the transfer's own memory is bench/pull.ts's.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { backup, parseConfig, pull, restore, verify, LocalTransport } from '../src/index.js';

const THIS_FILE = fileURLToPath(import.meta.url);
const SAMPLE_MS = 100;

export type PhasedOp = 'backup' | 'verify' | 'restore' | 'pull';

export interface PhaseRssReport {
  op: PhasedOp;
  ms: number;
  maxRssBytes: number;
  /** Peak sampled RSS per phase, in the order the phases came. */
  phases: { phase: string; peakRssBytes: number; ms: number; peakHeapBytes: number; peakExternalBytes: number }[];
  /** backup: the published file (for verify/restore/pull of it). */
  path?: string;
  dbBytes?: number;
  /** With SQLITE_BACKUP_BENCH_SMAPS=1: what the memory was at the peak sample (smapsBreakdown). */
  peakBreakdown?: string;
}

/**
 * Where the process's anonymous memory is, from /proc/self/smaps (Linux; with
 * SQLITE_BACKUP_BENCH_SMAPS=1, at the peak sample): mappings of at most 256 KiB are V8 heap pages
 * (every isolate's), bigger ones malloc arenas (one per thread that allocated: Buffers, zlib, V8's
 * compiler zones) and wasm memory.
 */
function smapsBreakdown(): string {
  let text: string;
  try {
    text = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return '';
  }
  let v8 = 0;
  let big = 0;
  let file = 0;
  const bigOnes: number[] = [];
  let size = 0;
  let named = false;
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (m) {
      size = parseInt(m[2]!, 16) - parseInt(m[1]!, 16);
      named = m[3]!.startsWith('/');
      continue;
    }
    const r = /^Rss:\s+(\d+) kB/.exec(line);
    if (!r) continue;
    const rss = Number(r[1]) * 1024;
    if (named) file += rss;
    else if (size <= 256 * 1024) v8 += rss;
    else {
      big += rss;
      bigOnes.push(rss);
    }
  }
  const mb = (n: number): string => (n / 1e6).toFixed(1);
  bigOnes.sort((a, b) => b - a);
  return `v8 pages ${mb(v8)}, larger anon ${mb(big)} (${bigOnes.slice(0, 6).map(mb).join(' ')}), file ${mb(file)}`;
}

export class PhaseSampler {
  private peak = 0;
  peakBreakdown = '';
  private current = 'start';
  private since = performance.now();
  private readonly phases = new Map<string, { peak: number; ms: number; heap: number; ext: number }>();
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.sample();
  }

  enter(phase: string): void {
    if (phase === this.current) return;
    this.sample();
    this.close();
    this.current = phase;
    this.since = performance.now();
    this.sample();
  }

  private close(): void {
    const p = this.phases.get(this.current) ?? { peak: 0, ms: 0, heap: 0, ext: 0 };
    p.ms += performance.now() - this.since;
    this.phases.set(this.current, p);
  }

  private sample(): void {
    // The main thread's V8 heap and its external memory (Buffers): what buffer churn would grow.
    const m = process.memoryUsage();
    const p = this.phases.get(this.current) ?? { peak: 0, ms: 0, heap: 0, ext: 0 };
    p.peak = Math.max(p.peak, m.rss);
    if (m.rss > this.peak) {
      this.peak = m.rss;
      if (process.env.SQLITE_BACKUP_BENCH_SMAPS) this.peakBreakdown = `${this.current}: ${smapsBreakdown()}`;
    }
    p.heap = Math.max(p.heap, m.heapTotal);
    p.ext = Math.max(p.ext, m.external);
    this.phases.set(this.current, p);
  }

  stop(): PhaseRssReport['phases'] {
    this.sample();
    this.close();
    clearInterval(this.timer);
    return [...this.phases].filter(([name]) => name !== 'start').map(([phase, p]) => ({ phase, peakRssBytes: p.peak, ms: Math.round(p.ms), peakHeapBytes: p.heap, peakExternalBytes: p.ext }));
  }
}

/** backup()'s phases under the names of the issue: `snapshot` until the engine reports VACUUM progress is the live copy. */
export function backupPhase(phase: string, bytesDone: number | undefined, current: string): string {
  if (phase === 'snapshot') return bytesDone === undefined && current !== 'snapshot' ? 'copy' : 'snapshot';
  if (phase === 'verify') return 'check';
  if (phase === 'compress') return 'compress';
  if (phase === 'lock') return 'lock';
  return 'publish';
}

async function childMain(op: PhasedOp, a: string, b: string): Promise<void> {
  const sampler = new PhaseSampler();
  let current = 'start';
  const enter = (p: string): void => {
    current = p;
    sampler.enter(p);
  };
  const t0 = performance.now();
  const report: Partial<PhaseRssReport> = { op };
  if (op === 'backup') {
    const r = await backup(parseConfig(`source_path = ${JSON.stringify(a)}\nbackup_dir = ${JSON.stringify(b)}\nkeep_last = 0\n`), {
      onProgress: (p) => enter(backupPhase(p.phase, p.bytesDone, current)),
    });
    report.path = r.path;
    report.dbBytes = r.dbBytes;
  } else if (op === 'verify' || op === 'restore') {
    const onProgress = (p: { phase: string }): void => enter(p.phase === 'gunzip' ? 'gunzip' : 'check');
    if (op === 'verify') {
      const r = await verify(a, { onProgress });
      if (!r.ok) throw new Error(`verify failed: ${r.messages.join('; ')}`);
    } else await restore(a, b, { onProgress, force: true });
  } else {
    const config = parseConfig(`[pull]\nhost = "unused"\nuser = "unused"\nremote_dir = "/unused"\nlocal_dir = ${JSON.stringify(b)}\n`);
    await pull(config, {
      transport: new LocalTransport(a),
      onProgress: (p) => enter(p.phase === 'download' ? 'download' : p.phase === 'verify' ? 'check' : p.phase === 'connect' || p.phase === 'find' ? 'find' : 'publish'),
    });
  }
  report.phases = sampler.stop();
  if (sampler.peakBreakdown) report.peakBreakdown = sampler.peakBreakdown;
  report.ms = performance.now() - t0;
  report.maxRssBytes = process.resourceUsage().maxRSS * 1024;
  console.log(JSON.stringify(report));
}

/**
 * One operation in a child process: backup (`a` the source, `b` backup_dir), verify (`a` the backup),
 * restore (`a` the backup, `b` the target), pull (`a` the backup directory, `b` local_dir).
 */
export function runPhased(op: PhasedOp, a: string, b = ''): PhaseRssReport {
  const r = spawnSync(process.execPath, [THIS_FILE, '--phased-child', op, a, b], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`bench ${op} child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as PhaseRssReport;
}

/** MiB, printed as MB like the rest of the bench (util.ts fmtMB). */
const MB = 1048576;
/** `copy 98 | snapshot 112 | check 131 | compress 120 | publish 95` (MB). */
export function fmtPhaseRss(r: PhaseRssReport): string {
  return r.phases.map((p) => `${p.phase} ${(p.peakRssBytes / MB).toFixed(0)}`).join(' | ');
}

/** The main thread's share: `copy heap 8 ext 3 | ...` (MB). */
export function fmtPhaseHeap(r: PhaseRssReport): string {
  return r.phases.map((p) => `${p.phase} heap ${(p.peakHeapBytes / MB).toFixed(0)} ext ${(p.peakExternalBytes / MB).toFixed(0)}`).join(' | ');
}

if (process.argv[2] === '--phased-child' && import.meta.url === pathToFileURL(process.argv[1]!).href) {
  childMain(process.argv[3] as PhasedOp, process.argv[4]!, process.argv[5]!).catch((e) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  });
}
