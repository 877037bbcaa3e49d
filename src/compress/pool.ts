/**
 * A small pool of long-lived compression workers. Starting a worker costs ~50 ms, so a pool is
 * started once and reused for every chunk (and, if the caller keeps it, for every file). Idle workers
 * are `unref()`ed: a pool that is not closed does not keep the process alive. Close it when done.
 */
import { workerExecArgv } from '../worker-options.js';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BackupError, ErrorCode, type ErrorCodeValue } from '../errors.js';
import type { DeflateChunkResult, Level } from './deflate-core.js';
import type { GunzipTotals, MemberEnd } from './gunzip-checks.js';
import type { WorkerReply, WorkerRequest } from './protocol.js';

/**
 * Default number of compression workers: one per core, at most 4 (`npm run bench` compares them
 * with the calling thread and `gzip -6`). More than 4 rarely pays for the memory (~20 MiB and 2
 * chunks in flight per worker) on a machine that also serves the application.
 */
export const DEFAULT_WORKERS = Math.max(1, Math.min(4, availableParallelism()));

/** Options of a CompressPool. */
export interface CompressPoolOptions {
  /** Number of worker threads. @default DEFAULT_WORKERS (cores, at most 4) */
  size?: number;
  /**
   * Where the worker module is, for bundled apps that move files around (Electron asar, bundlers).
   * @default new URL('./compress-worker.js', import.meta.url)
   */
  workerUrl?: URL | string;
}

export interface GunzipStep {
  outs: Uint8Array[];
  more: boolean;
  memberEnd?: MemberEnd;
  done?: GunzipTotals;
}

interface Pending {
  resolve(reply: WorkerReply & { ok: true }): void;
  reject(e: Error): void;
}

class Slot {
  readonly pending = new Map<number, Pending>();
  dead = false;
  /** Set by terminate(): from then on the worker stays ref'ed until it has exited. */
  private terminating = false;
  constructor(
    readonly worker: Worker,
    private readonly onDead: (slot: Slot) => void,
  ) {
    worker.unref();
    worker.on('message', (reply: WorkerReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0 && !this.terminating) worker.unref();
      if (reply.ok) p.resolve(reply);
      else p.reject(workerError(reply.error));
    });
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => this.fail(new Error(`compress worker exited with code ${code}`)));
  }

  request(msg: WorkerRequest, transfer: ArrayBuffer[]): Promise<WorkerReply & { ok: true }> {
    if (this.dead) return Promise.reject(new BackupError(ErrorCode.COMPRESS_WORKER, 'compress worker is gone'));
    return new Promise((resolve, reject) => {
      this.pending.set(msg.id, { resolve, reject });
      this.worker.ref(); // a pending reply must keep the process alive
      this.worker.postMessage(msg, transfer);
    });
  }

  /**
   * Stops the worker. It is ref'ed first, and kept so: terminate() resolves on the exit event, which
   * an unref'ed worker does not wait for, so the process could end with that promise pending.
   */
  terminate(): Promise<number> {
    this.terminating = true;
    this.worker.ref();
    return this.worker.terminate();
  }

  private fail(cause: Error): void {
    if (this.dead) return;
    this.dead = true;
    this.onDead(this);
    const e = new BackupError(ErrorCode.COMPRESS_WORKER, `compress worker failed: ${cause.message}`, { cause });
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}

function workerError(err: { code?: string; message: string; path?: string; stack?: string }): Error {
  if (err.code) return new BackupError(err.code as ErrorCodeValue, err.message, { path: err.path });
  const e = new BackupError(ErrorCode.COMPRESS_WORKER, `unexpected error in compress worker: ${err.message}`);
  if (err.stack) e.stack = err.stack;
  return e;
}

let nextSession = 1;

/**
 * Compression worker threads to share across gzip calls (the `pool` option): without one, each call
 * starts and stops its own. The caller closes it.
 */
export class CompressPool {
  /** Number of worker threads. */
  readonly size: number;
  private readonly workerUrl: URL | string | undefined;
  private slots: Slot[] = [];
  private nextId = 1;
  private closed = false;

  constructor(options: CompressPoolOptions = {}) {
    const size = options.size ?? DEFAULT_WORKERS;
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`CompressPool size must be an integer >= 1, got ${size}`);
    this.size = size;
    this.workerUrl = options.workerUrl;
  }

  /** @internal Deflates one chunk on the least busy worker. `data` is transferred: do not use it afterwards. */
  async deflate(data: Uint8Array, level: Level, dictionary?: Uint8Array): Promise<DeflateChunkResult> {
    const msg: WorkerRequest = { op: 'deflate', id: this.nextId++, data, level };
    if (dictionary) msg.dictionary = dictionary;
    const reply = await this.leastBusy().request(msg, ownedBuffers([data, dictionary]));
    if (!('out' in reply)) throw new Error('compress worker: unexpected reply to deflate');
    return { out: reply.out, crc: reply.crc };
  }

  /**
   * @internal
   * Opens a gunzip session pinned to one worker (its state lives there). Pushed data is copied to
   * the worker, or moved there with `transfer` (only for buffers the caller will never touch again).
   */
  openGunzip(name: string): GunzipSession {
    const slot = this.leastBusy();
    const session = nextSession++;
    let closed = false;
    let first = true;
    return {
      step: async (data, end, budget, transfer = false) => {
        const msg: WorkerRequest = { op: 'gunzip', id: this.nextId++, session, name, budget };
        if (first) {
          msg.first = true;
          first = false;
        }
        if (data) msg.data = data;
        if (end) msg.end = true;
        const reply = await slot.request(msg, transfer ? ownedBuffers([data]) : []);
        if (!('outs' in reply)) throw new Error('compress worker: unexpected reply to gunzip');
        if (reply.done) closed = true;
        const step: GunzipStep = { outs: reply.outs, more: reply.more };
        if (reply.memberEnd) step.memberEnd = reply.memberEnd;
        if (reply.done) step.done = reply.done;
        return step;
      },
      close: () => {
        if (closed || slot.dead) return;
        closed = true;
        slot.request({ op: 'gunzip-close', id: this.nextId++, session }, []).catch(() => {});
      },
    };
  }

  /** Stops the workers. Pending requests fail with ECOMPRESS_WORKER. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots;
    this.slots = [];
    await Promise.all(slots.map((s) => s.terminate()));
  }

  private leastBusy(): Slot {
    if (this.closed) throw new BackupError(ErrorCode.COMPRESS_WORKER, 'compress pool is closed');
    if (this.slots.length < this.size && this.slots.every((s) => s.pending.size > 0)) return this.spawn();
    let best = this.slots[0]!;
    for (const s of this.slots) if (s.pending.size < best.pending.size) best = s;
    return best;
  }

  private spawn(): Slot {
    const options = { execArgv: workerExecArgv() };
    const worker = this.workerUrl
      ? new Worker(this.workerUrl, options)
      : new Worker(new URL('./compress-worker.js', import.meta.url), options);
    const slot = new Slot(worker, (dead) => {
      this.slots = this.slots.filter((s) => s !== dead);
    });
    this.slots.push(slot);
    return slot;
  }
}

export interface GunzipSession {
  step(data: Uint8Array | undefined, end: boolean, budget: number, transfer?: boolean): Promise<GunzipStep>;
  /** Frees the session's state in the worker (after an error or an abort). */
  close(): void;
}

function ownedBuffers(list: (Uint8Array | undefined)[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const u of list) {
    if (!u) continue;
    const b = u.buffer;
    if (b instanceof ArrayBuffer && u.byteOffset === 0 && u.byteLength === b.byteLength && !out.includes(b)) out.push(b);
  }
  return out;
}
