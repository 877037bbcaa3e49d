/**
 * WasmEngine: SQLite compiled to WebAssembly, running in a worker thread over our node:fs VFS.
 * No native addon, so it installs with --ignore-scripts anywhere Node runs (Alpine, arm64, Electron).
 */
import { Worker } from 'node:worker_threads';
import { AbortError, BackupError, ErrorCode } from '../errors.js';
import { workerExecArgv } from '../worker-options.js';
import type {
  Engine,
  EngineCallOptions,
  EngineProgress,
  IntegrityCheckOptions,
  IntegrityResult,
  LiveCopyOptions,
  OnlineBackupOptions,
  SnapshotResult,
} from './types.js';
import { DEFAULT_CACHE_SIZE_KIB, MAX_CACHE_SIZE_KIB, type SqlValue } from './operations.js';
import {
  DEFAULT_COPY_ATTEMPTS,
  DEFAULT_INITIAL_BACKOFF_MS,
  DEFAULT_MAX_BACKOFF_MS,
  type LiveCopyResult,
} from './live-copy.js';
import { deserializeError, type CallMessage, type WorkerConfig, type WorkerMessage } from './wire.js';
import { pathExists, removeDatabaseFiles } from '../fs/sync.js';
import { resolve } from 'node:path';

export const DEFAULT_PAGES_PER_STEP = 100;
export const DEFAULT_SLEEP_MS = 10;
export const DEFAULT_MAX_RESTARTS = 10;
export const DEFAULT_MAX_ERRORS = 100;
/** After an abort, how long the worker gets to stop by itself before it is terminated. */
export const DEFAULT_ABORT_GRACE_MS = 2000;

/** Options of WasmEngine. */
export interface WasmEngineOptions {
  /**
   * Where the worker entry (`worker.js` next to this module) is. Set it when a bundler moves files,
   * e.g. in an Electron app. @default new URL('./worker.js', import.meta.url)
   */
  workerUrl?: URL | string;
  /** Path of `sqlite3.wasm`, when a bundler moved it away from `@sqlite.org/sqlite-wasm/dist/`. */
  wasmPath?: string;
  /** SQLite page cache per connection in KiB, at most 65536 (wasm memory never shrinks). @default 16384 */
  cacheSizeKiB?: number;
  /** VFS read-ahead block size for databases we read; 0 turns read-ahead off. @default 65536 */
  readAheadBytes?: number;
  /** Directory for SQLite's own temp files. @default os.tmpdir() */
  tempDir?: string;
  /** @default 2000 */
  abortGraceMs?: number;
}

type Op = CallMessage['op'];
type Args<O extends Op> = Extract<CallMessage, { op: O }>['args'];

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  onProgress?: ((p: EngineProgress) => void) | undefined;
  /** The snapshot this call writes: removed if the worker dies before it could clean up itself. */
  dest?: string | undefined;
}

/**
 * The Engine: SQLite compiled to WebAssembly, in a worker thread of its own (started on first use).
 * It never writes the source database. Pass one to several operations (`engine` option) to reuse the
 * worker; close() stops it.
 */
export class WasmEngine implements Engine {
  readonly name = 'wasm';
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly config: WorkerConfig;
  private readonly workerUrl: URL | string;
  private readonly abortGraceMs: number;
  /** Calls run one at a time: the worker is single-threaded and each call is one long wasm call. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: WasmEngineOptions = {}) {
    const cacheSizeKiB = options.cacheSizeKiB ?? DEFAULT_CACHE_SIZE_KIB;
    if (!Number.isInteger(cacheSizeKiB) || cacheSizeKiB < 64 || cacheSizeKiB > MAX_CACHE_SIZE_KIB) {
      throw new RangeError(`cacheSizeKiB must be an integer from 64 to ${MAX_CACHE_SIZE_KIB}, got ${cacheSizeKiB}`);
    }
    this.config = {
      cacheSizeKiB,
      wasmPath: options.wasmPath,
      readAheadBytes: options.readAheadBytes,
      tempDir: options.tempDir,
    };
    this.workerUrl = options.workerUrl ?? new URL('./worker.js', import.meta.url);
    this.abortGraceMs = options.abortGraceMs ?? DEFAULT_ABORT_GRACE_MS;
  }

  vacuumInto(source: string, dest: string, options: EngineCallOptions = {}): Promise<SnapshotResult> {
    return this.call('vacuumInto', { source, dest }, options, resolve(dest)) as Promise<SnapshotResult>;
  }

  onlineBackup(source: string, dest: string, options: OnlineBackupOptions = {}): Promise<SnapshotResult> {
    const params = {
      pagesPerStep: options.pagesPerStep ?? DEFAULT_PAGES_PER_STEP,
      sleepMs: options.sleepMs ?? DEFAULT_SLEEP_MS,
      maxRestarts: options.maxRestarts ?? DEFAULT_MAX_RESTARTS,
    };
    if (!Number.isInteger(params.pagesPerStep) || params.pagesPerStep === 0 || params.pagesPerStep < -1) {
      throw new RangeError(`pagesPerStep must be a positive integer (or -1 for all), got ${params.pagesPerStep}`);
    }
    if (!(params.sleepMs >= 0)) throw new RangeError(`sleepMs must be >= 0, got ${params.sleepMs}`);
    if (!Number.isInteger(params.maxRestarts) || params.maxRestarts < 0) {
      throw new RangeError(`maxRestarts must be an integer >= 0, got ${params.maxRestarts}`);
    }
    return this.call('onlineBackup', { source, dest, params }, options, resolve(dest)) as Promise<SnapshotResult>;
  }

  copyLive(source: string, dest: string, options: LiveCopyOptions = {}): Promise<LiveCopyResult> {
    const params = {
      maxAttempts: options.maxAttempts ?? DEFAULT_COPY_ATTEMPTS,
      initialBackoffMs: options.initialBackoffMs ?? DEFAULT_INITIAL_BACKOFF_MS,
      maxBackoffMs: options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS,
      unsafeSkipValidation: options.unsafeSkipValidation ?? false,
    };
    if (!Number.isInteger(params.maxAttempts) || params.maxAttempts < 1) {
      throw new RangeError(`maxAttempts must be a positive integer, got ${params.maxAttempts}`);
    }
    if (!(params.initialBackoffMs >= 0) || !(params.maxBackoffMs >= 0)) throw new RangeError('backoff times must be >= 0');
    const target = resolve(dest);
    return this.call('copyLive', { source: resolve(source), dest: target, params }, options, target) as Promise<LiveCopyResult>;
  }

  integrityCheck(path: string, options: IntegrityCheckOptions = {}): Promise<IntegrityResult> {
    const args = { path, mode: options.mode ?? 'full', maxErrors: options.maxErrors ?? DEFAULT_MAX_ERRORS };
    return this.call('integrityCheck', args, options) as Promise<IntegrityResult>;
  }

  selectRows(path: string, sql: string, bind: readonly (string | number)[] = [], options: EngineCallOptions = {}): Promise<SqlValue[][]> {
    return this.call('selectRows', { path, sql, bind: [...bind] }, options) as Promise<SqlValue[][]>;
  }

  /** Starts the worker, loads the wasm and runs SQLite's hot code once (see Engine.warmUp). */
  async warmUp(): Promise<void> {
    await this.call('warmUp', {}, {});
  }

  /** @internal VFS counters and worker memory, for tests and the benchmark. */
  stats(): Promise<Record<string, number>> {
    return this.call('stats', {}, {}) as Promise<Record<string, number>>;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.failAll(new AbortError('engine closed'));
    if (worker) await worker.terminate();
  }

  private call<O extends Op>(op: O, args: Args<O>, options: EngineCallOptions, dest?: string): Promise<unknown> {
    const run = (): Promise<unknown> => this.run(op, args, options, dest);
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private run<O extends Op>(op: O, args: Args<O>, options: EngineCallOptions, dest?: string): Promise<unknown> {
    const { signal, onProgress } = options;
    if (signal?.aborted) return Promise.reject(new AbortError(`${op} aborted`, { cause: signal.reason }));
    const worker = this.ensureWorker();
    const id = this.nextId++;
    const abort = new SharedArrayBuffer(4);
    const flag = new Int32Array(abort);
    return new Promise<unknown>((resolvePromise, rejectPromise) => {
      let graceTimer: NodeJS.Timeout | undefined;
      const onAbort = (): void => {
        Atomics.store(flag, 0, 1);
        Atomics.notify(flag, 0);
        // The worker checks the flag between SQLite VM steps; if it is stuck in one long fs call,
        // stop it the hard way and clean up what it was writing.
        graceTimer = setTimeout(() => {
          if (!this.pending.has(id)) return;
          const own = this.pending.get(id)?.dest;
          this.pending.delete(id);
          if (this.worker === worker) this.worker = undefined;
          void worker.terminate().then(() => {
            removeSnapshot(own);
            rejectPromise(new AbortError(`${op} aborted (worker terminated)`, { cause: signal?.reason }));
          });
        }, this.abortGraceMs);
      };
      const settle = (): void => {
        if (graceTimer) clearTimeout(graceTimer);
        signal?.removeEventListener('abort', onAbort);
        if (this.pending.size === 0) this.worker?.unref();
      };
      this.pending.set(id, {
        resolve: (v) => {
          settle();
          resolvePromise(v);
        },
        reject: (e) => {
          settle();
          rejectPromise(e);
        },
        onProgress,
        // Only a destination that does not exist yet may be cleaned up for the call: never a file
        // that was there before (the worker refuses those with EDEST_EXISTS).
        dest: dest !== undefined && !pathExists(dest) ? dest : undefined,
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      worker.ref();
      worker.postMessage({ type: 'call', id, op, args, abort } as CallMessage);
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.workerUrl, { workerData: this.config, execArgv: workerExecArgv() });
    worker.on('message', (msg: WorkerMessage) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      if (msg.type === 'progress') {
        p.onProgress?.(msg.progress);
        return;
      }
      this.pending.delete(msg.id);
      if (msg.type === 'result') p.resolve(msg.value);
      else p.reject(deserializeError(msg.error));
    });
    worker.on('error', (e) => {
      if (this.worker === worker) this.worker = undefined;
      this.failAll(new BackupError(ErrorCode.ENGINE_CRASHED, `the engine's worker failed: ${e.message}`, { cause: e }));
    });
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      if (this.pending.size > 0) {
        this.failAll(new BackupError(ErrorCode.ENGINE_CRASHED, `the engine's worker exited with code ${code}`));
      }
    });
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private failAll(error: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) {
      removeSnapshot(p.dest);
      p.reject(error);
    }
  }
}

/** The call checked that `dest` did not exist, so whatever stands there now is its partial output. */
function removeSnapshot(dest: string | undefined): void {
  if (dest) removeDatabaseFiles(dest);
}
