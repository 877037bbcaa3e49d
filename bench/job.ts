/**
 * The whole backup job, end to end: `backup()` (validated live copy, VACUUM INTO, integrity_check,
 * gzip with sha256, sidecar, latest.txt) in a child process of its own, so its peak RSS and its
 * main thread's event-loop delay are the job's alone; against the native serial pipeline
 * `sqlite3 VACUUM INTO` && `sqlite3 PRAGMA integrity_check` && `gzip -6` && `sha256sum`, in the same run.
 * Targets (issue 10): ours <= 1.0x native, peak RSS < 150 MB, event-loop delay p99 < 50 ms.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { backup, parseConfig } from '../src/index.js';
import { compareRuns, type Comparison } from './util.js';
import { backupPhase, PhaseSampler } from './phase-rss.js';

const THIS_FILE = fileURLToPath(import.meta.url);
export const JOB_TARGET = 1.0;
export const JOB_RSS_BUDGET_BYTES = 150 * 1048576;
export const JOB_ELD_BUDGET_MS = 50;

export interface ChildReport {
  /** The published backup's file name. */
  name: string;
  ms: number;
  gzBytes: number;
  dbBytes: number;
  maxRssBytes: number;
  eldP99Ms: number;
  eldMaxMs: number;
  /** Peak sampled RSS per phase (phase-rss.ts: copy, snapshot, check, compress, publish). */
  phases?: { phase: string; peakRssBytes: number }[];
}

export interface JobBenchResult extends Comparison {
  runs: number;
  peakRssBytes: number;
  eventLoopP99Ms: number;
  eventLoopMaxMs: number;
  gzBytes: number;
  nativeGzBytes: number;
  /** Our .gz size / gzip -6's. */
  sizeRatio: number;
  /** Per phase, the highest peak of the runs. */
  phasePeakRss: { phase: string; peakRssBytes: number }[];
}

async function childMain(source: string, backupDir: string, extraToml: string): Promise<void> {
  const eld = monitorEventLoopDelay({ resolution: 10 });
  const t0 = performance.now();
  eld.enable();
  const sampler = new PhaseSampler();
  let current = 'start';
  const r = await backup(parseConfig(`source_path = ${JSON.stringify(source)}\nbackup_dir = ${JSON.stringify(backupDir)}\nkeep_last = 0\n${extraToml}`), {
    onProgress: (p) => sampler.enter((current = backupPhase(p.phase, p.bytesDone, current))),
  });
  const phases = sampler.stop().map(({ phase, peakRssBytes }) => ({ phase, peakRssBytes }));
  eld.disable();
  const report: ChildReport = {
    name: r.name,
    ms: performance.now() - t0,
    gzBytes: r.gzBytes,
    dbBytes: r.dbBytes,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    eldP99Ms: eld.percentile(99) / 1e6,
    eldMaxMs: eld.max / 1e6,
    phases,
  };
  console.log(JSON.stringify(report));
}

/** One backup() in a child process of its own; `extraToml` is appended to the config (e.g. [[push]]). */
export function runJobChild(source: string, backupDir: string, extraToml = '', env: NodeJS.ProcessEnv = process.env): ChildReport {
  const r = spawnSync(process.execPath, [THIS_FILE, '--child', source, backupDir, extraToml], { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`bench job child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as ChildReport;
}

/** The native serial pipeline; returns its wall time and the .gz size. */
function runNative(source: string, work: string): { ms: number; gzBytes: number } {
  const snap = join(work, 'native.db');
  const script =
    'set -e; src="$1"; snap="$2"; ' +
    // The path is our own scratch path (no quote in it): formatting it into SQL is safe here.
    'sqlite3 "$src" "VACUUM INTO \'$snap\'"; ' +
    'test "$(sqlite3 "$snap" "PRAGMA integrity_check")" = ok; ' +
    'gzip -6 -f "$snap"; sha256sum "$snap.gz" > "$snap.gz.sha256"';
  const t0 = performance.now();
  const r = spawnSync('sh', ['-c', script, 'sh', source, snap], { encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`native pipeline failed: ${r.stderr}`);
  const gzBytes = statSync(`${snap}.gz`).size;
  rmSync(`${snap}.gz`, { force: true });
  rmSync(`${snap}.gz.sha256`, { force: true });
  return { ms, gzBytes };
}

export async function benchJob(db: string, opts: { runs: number; log: (s: string) => void }): Promise<JobBenchResult> {
  const work = mkdtempSync(join(tmpdir(), 'sqlite-backup-bench-job-'));
  try {
    const ours: ChildReport[] = [];
    const native: { ms: number; gzBytes: number }[] = [];
    for (let i = 0; i < opts.runs; i++) {
      const dir = join(work, `ours-${i}`);
      ours.push(runJobChild(db, dir));
      rmSync(dir, { recursive: true, force: true });
      opts.log(`[bench] job run ${i + 1}: ours ${ours.at(-1)!.ms.toFixed(0)} ms (peak RSS ${(ours.at(-1)!.maxRssBytes / 1048576).toFixed(0)} MB)`);
      native.push(runNative(db, work));
      opts.log(`[bench] job run ${i + 1}: native ${native.at(-1)!.ms.toFixed(0)} ms`);
    }
    return {
      runs: opts.runs,
      ...compareRuns(
        ours.map((r) => r.ms),
        native.map((r) => r.ms),
        JOB_TARGET,
      ),
      peakRssBytes: Math.max(...ours.map((r) => r.maxRssBytes)),
      eventLoopP99Ms: Math.max(...ours.map((r) => r.eldP99Ms)),
      eventLoopMaxMs: Math.max(...ours.map((r) => r.eldMaxMs)),
      gzBytes: ours[0]!.gzBytes,
      nativeGzBytes: native[0]!.gzBytes,
      sizeRatio: ours[0]!.gzBytes / native[0]!.gzBytes,
      phasePeakRss: phasePeaks(ours),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The highest peak of each phase over the runs, in the order the phases came. */
export function phasePeaks(runs: ChildReport[]): { phase: string; peakRssBytes: number }[] {
  const peaks = new Map<string, number>();
  for (const r of runs) for (const p of r.phases ?? []) peaks.set(p.phase, Math.max(peaks.get(p.phase) ?? 0, p.peakRssBytes));
  return [...peaks].map(([phase, peakRssBytes]) => ({ phase, peakRssBytes }));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2] === '--child') {
  await childMain(process.argv[3]!, process.argv[4]!, process.argv[5] ?? '');
}
