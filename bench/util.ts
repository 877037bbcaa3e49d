/**
 * Small benchmark helpers: timing external commands (argument arrays, never a shell), medians,
 * peak RSS, and output as a table or JSON.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg, tmpdir } from 'node:os';

export interface CommandTiming {
  ms: number;
  /** Peak RSS of the command in bytes, when /usr/bin/time is available. */
  maxRssBytes?: number;
  /** User + system CPU time of the command in ms (10 ms resolution), when /usr/bin/time is available. */
  cpuMs?: number;
  stdout: string;
}

const GNU_TIME = '/usr/bin/time';
let gnuTime: boolean | undefined;

/** Whether GNU time (`/usr/bin/time -f`) is installed, to read a child's peak RSS. */
export function hasGnuTime(): boolean {
  if (gnuTime === undefined) {
    gnuTime = existsSync(GNU_TIME) && spawnSync(GNU_TIME, ['-f', '%M', 'true'], { stdio: 'ignore' }).status === 0;
  }
  return gnuTime;
}

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { stdio: 'ignore' }).status === 0;
}

/**
 * Runs `cmd args` and measures its wall time (spawn to exit). With GNU time installed the command runs
 * under `/usr/bin/time -f '%M %U %S' -o <file>`, which adds ~1 ms and gives its peak RSS and CPU time. Throws on failure.
 */
export function timeCommand(cmd: string, args: string[]): Promise<CommandTiming> {
  const useTime = hasGnuTime();
  let rssDir: string | undefined;
  let argv = [cmd, ...args];
  if (useTime) {
    rssDir = mkdtempSync(join(tmpdir(), 'bench-time-'));
    argv = [GNU_TIME, '-f', '%M %U %S', '-o', join(rssDir, 'rss'), ...argv];
  }
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      let maxRssBytes: number | undefined;
      let cpuMs: number | undefined;
      if (rssDir) {
        try {
          const last = readFileSync(join(rssDir, 'rss'), 'utf8').trim().split('\n').pop() ?? '';
          const [kb, user, sys] = last.split(' ').map(Number);
          if (Number.isFinite(kb)) maxRssBytes = kb! * 1024;
          if (Number.isFinite(user) && Number.isFinite(sys)) cpuMs = (user! + sys!) * 1000;
        } catch {
          /* no rss file: the command did not start */
        }
        rmSync(rssDir, { recursive: true, force: true });
      }
      if (code !== 0) reject(new Error(`[bench] ${cmd} ${args.join(' ')} exited ${code}: ${stderr.trim()}`));
      else {
        resolve({
          ms,
          stdout,
          ...(maxRssBytes !== undefined ? { maxRssBytes } : {}),
          ...(cpuMs !== undefined ? { cpuMs } : {}),
        });
      }
    });
  });
}

/** Times an async function in milliseconds. */
export async function timeAsync<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, value };
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Runs `fn` `n` times and returns every result (callers take the median). */
export async function repeat<T>(n: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(await fn(i));
  return out;
}

/** Peak RSS of this process (all threads) so far, in bytes. */
export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

export const fmtMs = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
export const fmtMB = (bytes: number | undefined): string => (bytes === undefined ? '-' : `${(bytes / 1048576).toFixed(0)} MB`);
export const fmtRatio = (r: number): string => (Number.isFinite(r) ? `${r.toFixed(2)}x` : '-');

/** A plain-text table: first row is the header; columns are padded, numbers right-aligned. */
export function formatTable(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const numeric = /^[-+]?[\d.]+\s*(x|s|ms|MB|%)?$/;
  const line = (r: string[]): string =>
    r.map((cell, c) => (numeric.test(cell) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd();
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(rows[0]!), sep, ...rows.slice(1).map(line)].join('\n');
}

/** A scratch directory, by default inside `parent` so snapshots land on the same file system as the source. */
export function scratchDir(parent: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(parent, 'tmp-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Removes files, ignoring missing ones. */
export function removeFiles(...paths: string[]): void {
  for (const p of paths) rmSync(p, { force: true });
}

/** What a measuring child process prints as its last stdout line (see runNodeChild). */
export interface ChildTiming {
  /** Wall time of the measured call, inside the child (process start-up and imports excluded). */
  ms: number;
  /** Each phase's duration in ms, in the order they started (from the call's progress callback). */
  phases: [phase: string, ms: number][];
  /** Peak RSS of the child process (all threads), in bytes. */
  maxRssBytes: number;
  /** Peak sampled RSS per phase (every 100 ms, phase-rss.ts), in bytes. */
  phaseRss?: [phase: string, bytes: number][];
  /** With SQLITE_BACKUP_BENCH_SMAPS=1: where the memory was at the peak sample. */
  peakBreakdown?: string;
}

/** `download 95, check 136` (MB), and the smaps breakdown at the peak when there is one. */
export function fmtPhaseRssOf(r: ChildTiming): string {
  const phases = (r.phaseRss ?? []).map(([p, b]) => `${p} ${(b / 1048576).toFixed(0)}`).join(', ');
  return r.peakBreakdown ? `${phases} [peak at ${r.peakBreakdown}]` : phases;
}

/**
 * Runs `node <file> --child ...args` and returns the JSON object on the last line of its stdout: each of
 * our measured calls runs in a process of its own, so its peak RSS (`process.resourceUsage().maxRSS`)
 * is that call's alone, not the benchmark's. Throws with the child's stderr when it fails.
 */
export function runNodeChild<T>(file: string, args: string[]): T {
  const r = spawnSync(process.execPath, [file, '--child', ...args], { encoding: 'utf8', maxBuffer: 64 * 1048576 });
  if (r.status !== 0) throw new Error(`[bench] child ${file} ${args[0] ?? ''} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as T;
}

/**
 * Records the phases of a call from its progress callback: `mark(phase)` on every progress event,
 * `finish()` when the call returned; gives [phase, duration ms] in start order (a repeated phase
 * name after another phase starts a new entry).
 */
export function phaseRecorder(start = performance.now()): { mark(phase: string): void; finish(): [string, number][] } {
  const starts: [string, number][] = [];
  return {
    mark(phase) {
      if (starts.at(-1)?.[0] !== phase) starts.push([phase, performance.now() - start]);
    },
    finish() {
      const end = performance.now() - start;
      return starts.map(([phase, at], k) => [phase, (starts[k + 1]?.[1] ?? end) - at]);
    },
  };
}

/** Median duration of each phase over runs (phases keyed by name, summed within a run), in first-seen order. */
export function medianPhases(runs: [string, number][][]): [string, number][] {
  const names: string[] = [];
  for (const r of runs) for (const [p] of r) if (!names.includes(p)) names.push(p);
  return names.map((p) => [p, median(runs.map((r) => r.filter(([q]) => q === p).reduce((a, [, ms]) => a + ms, 0)))]);
}

/** `download 1.23s, verify 0.98s`. */
export function fmtPhases(phases: [string, number][]): string {
  return phases.map(([p, ms]) => `${p} ${(ms / 1000).toFixed(2)}s`).join(', ');
}

/** The 1-minute load average now, two decimals (the machine is shared: every figure carries it). */
export function load1(): number {
  return Math.round(loadavg()[0]! * 100) / 100;
}

/** Ours against a native peer, from every run's wall time. */
export interface Comparison {
  oursMs: number;
  nativeMs: number;
  ratio: number;
  target: number;
  oursRunsMs: number[];
  nativeRunsMs: number[];
}

export function compareRuns(oursRunsMs: number[], nativeRunsMs: number[], target: number): Comparison {
  const oursMs = median(oursRunsMs);
  const nativeMs = median(nativeRunsMs);
  return { oursMs, nativeMs, ratio: oursMs / nativeMs, target, oursRunsMs: oursRunsMs.map(Math.round), nativeRunsMs: nativeRunsMs.map(Math.round) };
}

/** A comparison whose runs were timed phase by phase, ours each in a child process of its own. */
export interface PhasedComparison extends Comparison {
  /** Median per phase of ours. */
  oursPhases: [string, number][];
  /** Median per phase of the native pipeline. */
  nativePhases: [string, number][];
  /** Peak RSS of our child processes, max over runs. */
  peakRssBytes: number;
  /** 1-minute load average before each of our runs. */
  load: number[];
}

/** A native run's wall time is the sum of its phases. */
export function comparePhased(
  ours: { ms: number; phases: [string, number][]; maxRssBytes: number }[],
  native: [string, number][][],
  target: number,
  load: number[],
): PhasedComparison {
  return {
    ...compareRuns(
      ours.map((r) => r.ms),
      native.map((n) => n.reduce((a, [, ms]) => a + ms, 0)),
      target,
    ),
    oursPhases: medianPhases(ours.map((r) => r.phases)),
    nativePhases: medianPhases(native),
    peakRssBytes: Math.max(...ours.map((r) => r.maxRssBytes)),
    load,
  };
}
