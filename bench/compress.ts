/**
 * Compression benchmark: our gzipFile (parallel workers) vs `gzip -6` and `pigz -6 -p 2`, our gunzipFile
 * (node:zlib codec; the fflate codec for reference) vs `gzip -d`, on a ~150 MB SQLite database (generated with python3's sqlite3 when none is given),
 * median of N runs, runs interleaved so background load hits every tool alike. Ours runs in a child
 * process so its peak RSS is its own; inside it, the main thread's event-loop delay is sampled
 * (perf_hooks.monitorEventLoopDelay). A ~600 MB input (the database repeated) shows that memory does
 * not grow with the input.
 *
 *   node dist/bench/compress.js [file] [--runs N] [--big-mib M (0: skip)] [--work-dir DIR]
 */
import { ensureBenchDatabase } from './fixtures.js';
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gunzipFile, gzipFile } from '../src/compress/index.js';

export interface BenchRow {
  /** What was measured, e.g. "gzip ours (2 workers)". */
  name: string;
  input: string;
  inputBytes: number;
  outputBytes: number;
  runsMs: number[];
  medianMs: number;
  /** Input MB (10^6 bytes) per second at the median. */
  mbPerS: number;
  /** User + system CPU of the whole process (all threads), median run. */
  cpuMs?: number;
  peakRssMiB?: number;
  /** Peak RSS minus the RSS just before the operation started (node + modules loaded). */
  rssGrowthMiB?: number;
  eventLoopP99Ms?: number;
  eventLoopMaxMs?: number;
}

export interface BenchCompressOptions {
  /** Input file; the shared bench fixture (bench/fixtures.ts) when absent. */
  file?: string;
  /** Where generated inputs and outputs go. @default <repo>/.bench */
  workDir?: string;
  /** Runs per measurement; the median is reported. @default 3 */
  runs?: number;
  /** Size of the large memory-check input in MiB; 0 skips it. @default 600 */
  bigMiB?: number;
  /** Compression workers for ours. @default 2 */
  workers?: number;
  log?: (line: string) => void;
}

const THIS_FILE = fileURLToPath(import.meta.url);
const DEFAULT_WORK_DIR = fileURLToPath(new URL('../../.bench/', import.meta.url));
const MB = 1e6;
const MiB = 1024 * 1024;

export async function benchCompress(options: BenchCompressOptions = {}): Promise<BenchRow[]> {
  const log = options.log ?? ((l: string) => console.log(l));
  const workDir = options.workDir ?? DEFAULT_WORK_DIR;
  const runs = options.runs ?? 3;
  const workers = options.workers ?? 2;
  const bigMiB = options.bigMiB ?? 600;
  mkdirSync(workDir, { recursive: true });
  const file = options.file ?? (await ensureBenchDatabase({ sizeMB: 150, dir: workDir }));
  const size = statSync(file).size;
  const out = (name: string) => join(workDir, `compress-bench-${process.pid}-${name}`);
  const rows: BenchRow[] = [];
  log(`compress bench: ${file} (${(size / MB).toFixed(1)} MB), ${runs} runs each, median; ${workers} workers`);

  // Compression, interleaved.
  const ours: Child[] = [];
  const gzip6: Native[] = [];
  const pigz: Native[] = [];
  for (let i = 0; i < runs; i++) {
    ours.push(child('gzip', file, out('ours.gz'), String(workers)));
    gzip6.push(native(['gzip', '-6', '-c', file], out('gzip6.gz')));
    pigz.push(native(['pigz', '-6', '-p', '2', '-c', file], out('pigz.gz')));
  }
  const oursGz = statSync(out('ours.gz')).size;
  rows.push(childRow(`gzip ours (${workers} workers)`, file, size, oursGz, ours));
  rows.push(nativeRow('gzip -6', file, size, statSync(out('gzip6.gz')).size, gzip6));
  rows.push(nativeRow('pigz -6 -p 2', file, size, statSync(out('pigz.gz')).size, pigz));
  // For reference: the same pipeline on one worker, and with no worker at all (workers: 0).
  rows.push(childRow('gzip ours (1 worker)', file, size, oursGz, [child('gzip', file, out('ours1.gz'), '1')]));
  rows.push(childRow('gzip ours (workers: 0, calling thread)', file, size, oursGz, [child('gzip', file, out('ours0.gz'), '0')]));

  // Decompression of the same gzip -6 file, interleaved.
  const gzFile = out('gzip6.gz');
  const gzSize = statSync(gzFile).size;
  const oursD: Child[] = [];
  const gzipD: Native[] = [];
  for (let i = 0; i < runs; i++) {
    oursD.push(child('gunzip', gzFile, out('ours.db'), 'zlib'));
    gzipD.push(native(['gzip', '-d', '-c', gzFile], out('gzipd.db')));
  }
  rows.push(childRow('gunzip ours (zlib)', gzFile, gzSize, size, oursD));
  rows.push(nativeRow('gzip -d', gzFile, gzSize, size, gzipD));
  // For reference: the pure-JS codec, in its worker and on the calling thread.
  rows.push(childRow('gunzip ours (fflate, worker)', gzFile, gzSize, size, [child('gunzip', gzFile, out('ours-fflate.db'), 'fflate')]));
  rows.push(childRow('gunzip ours (fflate, worker: false)', gzFile, gzSize, size, [child('gunzip', gzFile, out('ours-inline.db'), 'fflate-inline')]));

  // Memory does not grow with the input: ~4x larger input, one run each.
  if (bigMiB > 0) {
    const big = await bigInput(workDir, file, bigMiB * MiB, log);
    const bigSize = statSync(big).size;
    rows.push(childRow(`gzip ours (${workers} workers), large input`, big, bigSize, 0, [child('gzip', big, out('big.gz'), String(workers))]));
    const bigGz = statSync(out('big.gz')).size;
    rows[rows.length - 1]!.outputBytes = bigGz;
    rows.push(childRow('gunzip ours (zlib), large input', out('big.gz'), bigGz, bigSize, [child('gunzip', out('big.gz'), out('big.db'), 'zlib')]));
  }
  for (const n of ['ours.gz', 'gzip6.gz', 'pigz.gz', 'ours1.gz', 'ours0.gz', 'ours.db', 'gzipd.db', 'ours-fflate.db', 'ours-inline.db', 'big.gz', 'big.db']) rmSync(out(n), { force: true });

  printRows(rows, log);
  const by = (name: string) => rows.find((r) => r.name.startsWith(name))!;
  const g = by(`gzip ours (${workers} workers)`);
  const d = by('gunzip ours (zlib)');
  log('');
  log(`compression throughput vs gzip -6:      ${ratio(by('gzip -6').medianMs, g.medianMs)}x   (goal >= 1.6x)`);
  log(`compression throughput vs pigz -6 -p 2: ${ratio(by('pigz').medianMs, g.medianMs)}x`);
  log(`output size vs gzip -6:                 ${(g.outputBytes / by('gzip -6').outputBytes).toFixed(4)}x (goal <= 1.04x); vs pigz ${(g.outputBytes / by('pigz').outputBytes).toFixed(4)}x`);
  log(`decompression throughput vs gzip -d:    ${ratio(by('gzip -d').medianMs, d.medianMs)}x   (goal >= 0.9x: near gzip -d)`);
  log(`event-loop delay p99 while compressing: ${g.eventLoopP99Ms?.toFixed(1)} ms (goal < 50 ms); while decompressing: ${d.eventLoopP99Ms?.toFixed(1)} ms`);
  for (const r of rows.filter((x) => x.rssGrowthMiB !== undefined && x.name.includes('ours') && !x.name.includes('reference'))) {
    log(`peak RSS ${r.name} on ${(r.inputBytes / MB).toFixed(0)} MB: ${r.peakRssMiB?.toFixed(0)} MiB (growth ${r.rssGrowthMiB?.toFixed(0)} MiB, goal < 64)`);
  }
  return rows;
}

// --- our side, in a child process -------------------------------------------------------------------

interface Child {
  ms: number;
  cpuMs: number;
  maxRssKiB: number;
  baselineRssKiB: number;
  eldP99Ms: number;
  eldMaxMs: number;
}

/** `how`: the number of workers for gzip; `zlib`, `fflate` (worker) or `fflate-inline` for gunzip. */
function child(op: 'gzip' | 'gunzip', src: string, dest: string, how: string): Child {
  rmSync(dest, { force: true });
  const r = spawnSync(process.execPath, [THIS_FILE, '--child', op, src, dest, how], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench child ${op} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Child;
}

async function childMain(op: string, src: string, dest: string, how: string): Promise<void> {
  const baselineRssKiB = process.memoryUsage().rss / 1024;
  const eld = monitorEventLoopDelay({ resolution: 5 });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  eld.enable();
  if (op === 'gzip') await gzipFile(src, dest, { workers: Number(how), overwrite: true });
  else await gunzipFile(src, dest, how === 'zlib' ? { overwrite: true } : { codec: 'fflate', worker: how === 'fflate', overwrite: true });
  eld.disable();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const res: Child = {
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    maxRssKiB: process.resourceUsage().maxRSS,
    baselineRssKiB,
    eldP99Ms: eld.percentile(99) / 1e6,
    eldMaxMs: eld.max / 1e6,
  };
  console.log(JSON.stringify(res));
}

function childRow(name: string, input: string, inputBytes: number, outputBytes: number, runs: Child[]): BenchRow {
  const med = medianBy(runs, (r) => r.ms);
  return {
    name,
    input,
    inputBytes,
    outputBytes,
    runsMs: runs.map((r) => Math.round(r.ms)),
    medianMs: med.ms,
    mbPerS: inputBytes / MB / (med.ms / 1000),
    cpuMs: med.cpuMs,
    peakRssMiB: Math.max(...runs.map((r) => r.maxRssKiB)) / 1024,
    rssGrowthMiB: Math.max(...runs.map((r) => r.maxRssKiB - r.baselineRssKiB)) / 1024,
    eventLoopP99Ms: Math.max(...runs.map((r) => r.eldP99Ms)),
    eventLoopMaxMs: Math.max(...runs.map((r) => r.eldMaxMs)),
  };
}

// --- native tools ---------------------------------------------------------------------------------------

interface Native {
  ms: number;
  cpuMs?: number;
  maxRssKiB?: number;
}

const HAS_TIME = existsSync('/usr/bin/time');

/** Runs `cmd > outFile`, timed; CPU and peak RSS from /usr/bin/time when it exists. */
function native(cmd: string[], outFile: string): Native {
  const timeFile = `${outFile}.time`;
  const script = 'out="$1"; shift; exec "$@" > "$out"';
  const args = HAS_TIME ? ['-f', '%U %S %M', '-o', timeFile, 'sh', '-c', script, 'sh', outFile, ...cmd] : ['-c', script, 'sh', outFile, ...cmd];
  const t0 = performance.now();
  const r = spawnSync(HAS_TIME ? '/usr/bin/time' : 'sh', args, { encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${r.stderr}`);
  if (!HAS_TIME) return { ms };
  const [u, s, m] = readFileSync(timeFile, 'utf8').trim().split(/\s+/).map(Number);
  rmSync(timeFile, { force: true });
  return { ms, cpuMs: (u! + s!) * 1000, maxRssKiB: m! };
}

function nativeRow(name: string, input: string, inputBytes: number, outputBytes: number, runs: Native[]): BenchRow {
  const med = medianBy(runs, (r) => r.ms);
  const row: BenchRow = { name, input, inputBytes, outputBytes, runsMs: runs.map((r) => Math.round(r.ms)), medianMs: med.ms, mbPerS: inputBytes / MB / (med.ms / 1000) };
  if (med.cpuMs !== undefined) row.cpuMs = med.cpuMs;
  if (med.maxRssKiB !== undefined) row.peakRssMiB = med.maxRssKiB / 1024;
  return row;
}

// --- inputs -----------------------------------------------------------------------------------------------

/** The input repeated up to `target` bytes (compresses like the original; only memory matters here). */
async function bigInput(workDir: string, file: string, target: number, log: (l: string) => void): Promise<string> {
  const path = join(workDir, `compress-big-${Math.round(target / MiB)}m.bin`);
  if (existsSync(path) && statSync(path).size >= target) return path;
  log(`building ${path} (${file} repeated)...`);
  const copies = Math.ceil(target / statSync(file).size);
  const tmp = `${path}.part`;
  async function* repeated() {
    for (let i = 0; i < copies; i++) yield* createReadStream(file);
  }
  await pipeline(repeated, createWriteStream(tmp));
  renameSync(tmp, path);
  return path;
}

// --- output -----------------------------------------------------------------------------------------------

function printRows(rows: BenchRow[], log: (l: string) => void): void {
  const head = ['', 'input MB', 'output MB', 'median s', 'runs s', 'MB/s', 'CPU s', 'peak RSS MiB', 'RSS growth', 'ELD p99 ms', 'ELD max'];
  const body = rows.map((r) => [
    r.name,
    (r.inputBytes / MB).toFixed(1),
    (r.outputBytes / MB).toFixed(2),
    (r.medianMs / 1000).toFixed(2),
    r.runsMs.map((m) => (m / 1000).toFixed(2)).join(' '),
    r.mbPerS.toFixed(1),
    r.cpuMs === undefined ? '' : (r.cpuMs / 1000).toFixed(2),
    r.peakRssMiB === undefined ? '' : r.peakRssMiB.toFixed(0),
    r.rssGrowthMiB === undefined ? '' : r.rssGrowthMiB.toFixed(0),
    r.eventLoopP99Ms === undefined ? '' : r.eventLoopP99Ms.toFixed(1),
    r.eventLoopMaxMs === undefined ? '' : r.eventLoopMaxMs.toFixed(1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  for (const line of [head, ...body]) log(line.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
}

function medianBy<T>(xs: T[], key: (x: T) => number): T {
  const sorted = [...xs].sort((a, b) => key(a) - key(b));
  return sorted[(sorted.length - 1) >> 1]!;
}

function ratio(nativeMs: number, oursMs: number): string {
  return (nativeMs / oursMs).toFixed(2);
}

// --- command line -------------------------------------------------------------------------------------------

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    await childMain(args[1]!, args[2]!, args[3]!, args[4]!);
  } else {
    const opts: BenchCompressOptions = {};
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === '--runs') opts.runs = Number(args[++i]);
      else if (a === '--big-mib') opts.bigMiB = Number(args[++i]);
      else if (a === '--work-dir') opts.workDir = args[++i]!;
      else if (a === '--workers') opts.workers = Number(args[++i]);
      else opts.file = a;
    }
    await benchCompress(opts);
  }
}
