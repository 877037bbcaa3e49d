/**
 * Engine benchmark: our WasmEngine against the native sqlite3 CLI, in the same run, on the same file.
 *
 * For each operation a fresh child node process runs our side (so its peak RSS - main thread, engine
 * worker, wasm memory - is that operation's alone); the parent drives it over IPC and alternates
 * ours/native each run, since the page cache cannot be dropped: everything runs warm.
 * Timings of ours are taken inside the child around the engine call (the engine is warmed up first
 * with a call on a tiny database; that cold start is reported separately). The child's main thread
 * also records its event-loop delay (monitorEventLoopDelay, 10 ms resolution) during each call: the
 * engine runs in a worker, so the caller's loop must stay free.
 */
import { fork } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { median, removeFiles, scratchDir, timeCommand, type CommandTiming } from './util.js';

export type EngineOp = 'vacuumInto' | 'onlineBackup' | 'integrityCheck';
export const ENGINE_OPS: readonly EngineOp[] = ['vacuumInto', 'onlineBackup', 'integrityCheck'];

/** Targets from the issue: ours / native. */
export const ENGINE_TARGETS: Partial<Record<EngineOp, number>> = { vacuumInto: 1.3, integrityCheck: 1.5 };

export interface EngineBenchOptions {
  /** Runs per side; the median is reported. @default 3 */
  runs?: number;
  ops?: readonly EngineOp[];
  /** WasmEngineOptions passed through (undefined = the engine's default). */
  cacheSizeKiB?: number;
  readAheadBytes?: number;
  /** Where snapshots are written. @default the source's directory (same file system) */
  scratchParent?: string;
  /** Runs our side under `node --cpu-prof` (worker threads get their own profiles) into this directory. */
  cpuProfDir?: string;
  log?: (msg: string) => void;
}

export interface EngineOpResult {
  op: EngineOp;
  oursMs: number[];
  nativeMs: number[];
  oursMedianMs: number;
  nativeMedianMs: number;
  /** oursMedian / nativeMedian (wall time). */
  ratio: number;
  /** CPU time (user + system, all threads) per run: less disturbed than wall time on a busy machine. */
  oursCpuMs: number[];
  nativeCpuMs: number[];
  /** Median CPU time ours / native; NaN without /usr/bin/time. */
  cpuRatio: number;
  /** The first run of ours (includes wasm tier-up of the code paths the operation uses). */
  oursFirstMs: number;
  target?: number;
  /** Peak RSS of the child process that ran ours (all threads). */
  oursPeakRssBytes: number;
  nativePeakRssBytes?: number;
  /** p99 / max event-loop delay of the caller's main thread during our calls (worst run). */
  eventLoopP99Ms: number;
  eventLoopMaxMs: number;
  /** p99 of the same histogram over 1 s of idling in the same process (timer jitter, other load). */
  eventLoopIdleP99Ms: number;
  /** VFS counters of one run of ours: xRead calls and actual fs reads. */
  readCalls: number;
  fsReads: number;
  /** Engine cold start (worker + wasm load + first tiny call). */
  startupMs: number;
}

export interface EngineBenchResult {
  database: string;
  databaseBytes: number;
  runs: number;
  cacheSizeKiB?: number;
  readAheadBytes?: number;
  results: EngineOpResult[];
}

// ---- IPC between the parent and the child that runs our engine ----
interface ChildInit {
  type: 'init';
  engine: { cacheSizeKiB?: number; readAheadBytes?: number };
  warmupDb: string;
}
interface ChildRun {
  type: 'run';
  op: EngineOp;
  src: string;
  dest: string;
}
interface ChildDone {
  type: 'done';
}
type ToChild = ChildInit | ChildRun | ChildDone;
type FromChild =
  | { type: 'ready'; startupMs: number; idleP99Ms: number }
  | { type: 'ran'; ms: number; cpuMs: number; p99Ms: number; maxMs: number; readCalls: number; fsReads: number; detail: string }
  | { type: 'rss'; maxRssBytes: number }
  | { type: 'error'; message: string };

class OursChild {
  private readonly child;
  private waiting: ((m: FromChild) => void) | undefined;
  private exitError: Error | undefined;

  constructor(execArgv: string[]) {
    const self = fileURLToPath(import.meta.url);
    this.child = fork(self, ['--bench-engine-child'], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: FromChild) => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.(m);
    });
    this.child.on('exit', (code) => {
      this.exitError = new Error(`[bench] engine child exited with code ${code}`);
      const w = this.waiting;
      this.waiting = undefined;
      w?.({ type: 'error', message: this.exitError.message });
    });
  }

  ask<T extends FromChild['type']>(msg: ToChild, expect: T): Promise<Extract<FromChild, { type: T }>> {
    if (this.exitError) return Promise.reject(this.exitError);
    return new Promise((resolvePromise, reject) => {
      this.waiting = (m) => {
        if (m.type === expect) resolvePromise(m as Extract<FromChild, { type: T }>);
        else reject(new Error(m.type === 'error' ? m.message : `[bench] unexpected child message ${m.type}`));
      };
      this.child.send(msg);
    });
  }

  async finish(): Promise<number> {
    const rss = await this.ask({ type: 'done' }, 'rss');
    await new Promise<void>((r) => (this.child.exitCode !== null ? r() : this.child.once('exit', () => r())));
    return rss.maxRssBytes;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill();
  }
}

/** The child side: owns one WasmEngine and runs what the parent asks. */
async function childMain(): Promise<void> {
  const { WasmEngine } = await import('../src/index.js');
  let engine: InstanceType<typeof WasmEngine> | undefined;
  const send = (m: FromChild): void => void process.send!(m);
  process.on('message', async (msg: ToChild) => {
    try {
      if (msg.type === 'init') {
        engine = new WasmEngine(msg.engine);
        const t0 = process.hrtime.bigint();
        const r = await engine.integrityCheck(msg.warmupDb, { mode: 'quick' });
        if (!r.ok) throw new Error(`warm-up integrity check failed: ${r.messages.join('; ')}`);
        const startupMs = Number(process.hrtime.bigint() - t0) / 1e6;
        // The histogram's floor on this machine when nothing runs: the call's p99 is judged against it.
        const idle = monitorEventLoopDelay({ resolution: 10 });
        idle.enable();
        await new Promise((r) => setTimeout(r, 1000));
        idle.disable();
        send({ type: 'ready', startupMs, idleP99Ms: idle.percentile(99) / 1e6 });
      } else if (msg.type === 'run') {
        const e = engine!;
        const before = await e.stats();
        const h = monitorEventLoopDelay({ resolution: 10 });
        let progressEvents = 0;
        const onProgress = (): void => void progressEvents++;
        h.enable();
        const cpu0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        let detail: string;
        if (msg.op === 'vacuumInto') {
          const r = await e.vacuumInto(msg.src, msg.dest, { onProgress });
          detail = `${r.bytes} bytes`;
        } else if (msg.op === 'onlineBackup') {
          // Like the sqlite3 CLI's .backup: 100 pages per step, no pause between steps.
          const r = await e.onlineBackup(msg.src, msg.dest, { onProgress, pagesPerStep: 100, sleepMs: 0 });
          detail = `${r.bytes} bytes`;
        } else {
          const r = await e.integrityCheck(msg.src, { mode: 'full', onProgress });
          if (!r.ok) throw new Error(`integrity check not ok: ${r.messages.slice(0, 3).join('; ')}`);
          detail = 'ok';
        }
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        const cpu = process.cpuUsage(cpu0);
        h.disable();
        const after = await e.stats();
        send({
          type: 'ran',
          ms,
          cpuMs: (cpu.user + cpu.system) / 1000,
          p99Ms: h.percentile(99) / 1e6,
          maxMs: h.max / 1e6,
          readCalls: (after.readCalls ?? 0) - (before.readCalls ?? 0),
          fsReads: (after.fsReads ?? 0) - (before.fsReads ?? 0),
          detail: `${detail}, ${progressEvents} progress events`,
        });
      } else if (msg.type === 'done') {
        await engine?.close();
        send({ type: 'rss', maxRssBytes: process.resourceUsage().maxRSS * 1024 });
        process.disconnect();
      }
    } catch (err) {
      send({ type: 'error', message: (err as Error).stack ?? String(err) });
    }
  });
}

function nativeArgs(op: EngineOp, src: string, dest: string): string[] {
  // The destination is a path this benchmark made itself (no quotes in it), so formatting it is safe.
  if (/['"\n]/.test(dest)) throw new Error(`[bench] unexpected quote in scratch path ${dest}`);
  switch (op) {
    case 'vacuumInto':
      return ['-bail', src, `VACUUM INTO '${dest}'`];
    case 'onlineBackup':
      return ['-bail', src, `.backup '${dest}'`];
    case 'integrityCheck':
      return ['-bail', src, 'PRAGMA integrity_check'];
  }
}

export async function benchEngine(database: string, options: EngineBenchOptions = {}): Promise<EngineBenchResult> {
  const { runs = 3, ops = ENGINE_OPS, log = () => {} } = options;
  const src = resolve(database);
  const scratch = scratchDir(options.scratchParent ?? resolve(src, '..'));
  const engineOpts = {
    ...(options.cacheSizeKiB !== undefined ? { cacheSizeKiB: options.cacheSizeKiB } : {}),
    ...(options.readAheadBytes !== undefined ? { readAheadBytes: options.readAheadBytes } : {}),
  };
  const results: EngineOpResult[] = [];
  try {
    const warmupDb = join(scratch.path, 'warmup.db');
    const made = spawnSync('sqlite3', [warmupDb, 'CREATE TABLE t(x); INSERT INTO t VALUES(1);'], { stdio: 'ignore' });
    if (made.status !== 0) throw new Error('[bench] the native sqlite3 CLI is required (apt-get install sqlite3)');
    // Warm the page cache with the source once.
    await timeCommand('sqlite3', ['-bail', src, 'PRAGMA quick_check']);

    for (const op of ops) {
      const execArgv = options.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir] : [];
      const child = new OursChild(execArgv);
      try {
        const { startupMs, idleP99Ms } = await child.ask({ type: 'init', engine: engineOpts, warmupDb }, 'ready');
        const oursMs: number[] = [];
        const nativeMs: number[] = [];
        const nativeRss: number[] = [];
        const oursCpuMs: number[] = [];
        const nativeCpuMs: number[] = [];
        let p99 = 0;
        let max = 0;
        let reads = { readCalls: 0, fsReads: 0 };
        for (let i = 0; i < runs; i++) {
          const ours = async (): Promise<void> => {
            const dest = join(scratch.path, `ours-${op}-${i}.db`);
            const r = await child.ask({ type: 'run', op, src, dest }, 'ran');
            if (op !== 'integrityCheck' && !(existsSync(dest) && statSync(dest).size > 0)) {
              throw new Error(`[bench] ${op} wrote no ${dest}`);
            }
            removeFiles(dest);
            oursMs.push(r.ms);
            oursCpuMs.push(r.cpuMs);
            p99 = Math.max(p99, r.p99Ms);
            max = Math.max(max, r.maxMs);
            reads = { readCalls: r.readCalls, fsReads: r.fsReads };
          };
          const native = async (): Promise<void> => {
            const dest = join(scratch.path, `native-${op}-${i}.db`);
            const r: CommandTiming = await timeCommand('sqlite3', nativeArgs(op, src, dest));
            if (op === 'integrityCheck' && r.stdout.trim() !== 'ok') throw new Error(`[bench] native integrity_check: ${r.stdout}`);
            removeFiles(dest);
            nativeMs.push(r.ms);
            if (r.cpuMs !== undefined) nativeCpuMs.push(r.cpuMs);
            if (r.maxRssBytes !== undefined) nativeRss.push(r.maxRssBytes);
          };
          // Alternate the order: whoever runs second may profit from what the first left in caches.
          if (i % 2 === 0) {
            await ours();
            await native();
          } else {
            await native();
            await ours();
          }
          log(`[bench] ${op} run ${i + 1}/${runs}: ours ${oursMs.at(-1)!.toFixed(0)} ms, native ${nativeMs.at(-1)!.toFixed(0)} ms`);
        }
        const oursPeakRssBytes = await child.finish();
        const oursMedianMs = median(oursMs);
        const nativeMedianMs = median(nativeMs);
        const target = ENGINE_TARGETS[op];
        results.push({
          op,
          oursMs,
          nativeMs,
          oursMedianMs,
          nativeMedianMs,
          ratio: oursMedianMs / nativeMedianMs,
          oursCpuMs,
          nativeCpuMs,
          cpuRatio: nativeCpuMs.length ? median(oursCpuMs) / median(nativeCpuMs) : NaN,
          oursFirstMs: oursMs[0]!,
          ...(target !== undefined ? { target } : {}),
          oursPeakRssBytes,
          ...(nativeRss.length ? { nativePeakRssBytes: Math.max(...nativeRss) } : {}),
          eventLoopP99Ms: p99,
          eventLoopMaxMs: max,
          eventLoopIdleP99Ms: idleP99Ms,
          ...reads,
          startupMs,
        });
      } finally {
        child.kill();
      }
    }
  } finally {
    scratch.remove();
  }
  return {
    database: src,
    databaseBytes: statSync(src).size,
    runs,
    ...engineOpts,
    results,
  };
}

if (process.argv.includes('--bench-engine-child') && process.argv[1] === fileURLToPath(import.meta.url)) {
  void childMain();
}
