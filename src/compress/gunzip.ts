/**
 * Streaming gunzip with two codecs under the same strict gzip rules (gunzip-checks.ts):
 *  - `zlib` (default): Node's built-in zlib inflates on libuv's thread pool (zlib-gunzip.ts), near
 *    the speed of `gzip -d`; this thread only parses the framing, checks the CRC-32, hashes and does
 *    the I/O, so the event loop stays responsive without a worker of ours.
 *  - `fflate`: pure JS (fflate-gunzip.ts), for where `node:zlib` is a stand-in without Node's native
 *    inflate (a bundler's shim): this package imports `node:zlib` either way. It runs in a worker by
 *    default, while this thread checks the CRC-32, hashes and does the I/O; `worker: false` runs it
 *    on the calling thread in steps of 512 KiB of output, yielding between steps.
 */
import { createHash } from 'node:crypto';
import { BackupError, ErrorCode } from '../errors.js';
import { FflateGunzipParser } from './fflate-gunzip.js';
import { CrcCheck, type GunzipOutput, type GunzipTotals } from './gunzip-checks.js';
import { CompressPool, type GunzipStep } from './pool.js';
import {
  checkAborted,
  toGzipStream,
  yieldToEventLoop,
  type ByteSource,
  type GzipProgress,
  type GzipStream,
  type GzipSummary,
} from './stream-util.js';
import type { InternalStreamOptions } from './gzip.js';
import { zlibGunzip } from './zlib-gunzip.js';

/** Output produced per worker round trip. */
const STEP_OUTPUT = 2 * 1024 * 1024;
/**
 * Output produced per synchronous slice of work on the calling thread: a few milliseconds of fflate
 * each, so the application's timers and I/O wait at most that long (plus a GC pause) between slices.
 */
const INLINE_STEP_OUTPUT = 512 * 1024;
/** Worker requests in flight: one being processed, one queued, so the worker never idles. */
const PIPELINE = 2;

/** The inflate implementation of gunzip. */
export type GunzipCodec = 'zlib' | 'fflate';

/** Options of gunzipStream. */
export interface GunzipOptions {
  /**
   * `'zlib'`: Node's built-in zlib, on libuv's thread pool (no worker of ours needed): about the
   * speed of `gzip -d`. `'fflate'`: pure JS (fflate), for a `node:zlib` stand-in without Node's
   * native inflate; about half the speed, and run in a worker (see `worker`). Both check the same
   * things and raise the same errors.
   * @default 'zlib'
   */
  codec?: GunzipCodec;
  /**
   * `codec: 'fflate'` only: decompress in a worker thread (true) or on the calling thread in small
   * steps (false). Ignored when `pool` is given. @default true
   */
  worker?: boolean;
  /** `codec: 'fflate'` only: a pool to reuse across calls (not closed by us). */
  pool?: CompressPool;
  /** `codec: 'fflate'` only: location of compress-worker.js, for bundled apps. @default next to this module */
  workerUrl?: URL | string;
  /** Cancels the operation; the stream then throws an AbortError (code EABORTED). */
  signal?: AbortSignal;
  /** Called after each output chunk. */
  onProgress?: (progress: GzipProgress) => void;
  /** Name used in error messages (file or remote path). @default "stream" */
  name?: string;
}

/**
 * Decompresses gzip data (one or more members) from a byte source, checking every member's CRC-32
 * and length. Throws BackupError EGZIP_NOT_GZIP, EGZIP_TRUNCATED, EGZIP_CRC, EGZIP_SIZE,
 * EGZIP_TRAILING or EGZIP_CORRUPT; an empty (0-byte) input is EGZIP_TRUNCATED.
 */
export function gunzipStream(source: ByteSource, options: GunzipOptions = {}): GzipStream {
  return gunzipStreamInternal(source, options, {});
}

export function gunzipStreamInternal(source: ByteSource, options: GunzipOptions, internal: InternalStreamOptions): GzipStream {
  const name = options.name ?? 'stream';
  const codec = options.codec ?? 'zlib';
  if (codec !== 'zlib' && codec !== 'fflate') throw new RangeError(`gunzip codec must be 'zlib' or 'fflate', got ${String(codec)}`);
  return toGzipStream(name, () => run(source, options, internal, name));
}

async function* run(source: ByteSource, options: GunzipOptions, internal: InternalStreamOptions, name: string): AsyncGenerator<Uint8Array, GzipSummary> {
  const { signal, onProgress } = options;
  checkAborted(signal, name);
  const hashIn = internal.skipHash?.compressed ? undefined : createHash('sha256');
  const hashOut = internal.skipHash?.uncompressed ? undefined : createHash('sha256');
  let bytesIn = 0;
  let bytesOut = 0;
  const input = async function* () {
    for await (const c of source) {
      if (!(c instanceof Uint8Array)) throw new TypeError(`expected Uint8Array chunks, got ${typeof c}`);
      checkAborted(signal, name);
      hashIn?.update(c);
      bytesIn += c.length;
      yield c;
    }
  };
  const emit = (b: Uint8Array): Uint8Array => {
    hashOut?.update(b);
    bytesOut += b.length;
    onProgress?.(internal.totalIn === undefined ? { bytesIn, bytesOut } : { bytesIn, bytesOut, totalIn: internal.totalIn });
    return b;
  };

  const fflate = options.codec === 'fflate';
  const useWorker = fflate && (options.pool !== undefined || options.worker !== false);
  const ownPool = useWorker && !options.pool ? new CompressPool({ size: 1, workerUrl: options.workerUrl }) : undefined;
  const pool = useWorker ? (options.pool ?? ownPool) : undefined;
  let totals: GunzipTotals;
  const crc = new CrcCheck(name);
  const steps = !fflate ? zlibGunzip(input(), name) : pool ? inWorker(pool, input(), name, internal.owned === true) : onThisThread(input(), name);
  try {
    for (;;) {
      const r = await steps.next();
      if (r.done) {
        totals = r.value;
        break;
      }
      for (const b of r.value.out) {
        crc.update(b);
        yield emit(b);
      }
      if (r.value.memberEnd) crc.endMember(r.value.memberEnd);
      checkAborted(signal, name);
    }
  } catch (e) {
    if (e instanceof BackupError && e.code === ErrorCode.COMPRESS_WORKER && !e.message.includes(JSON.stringify(name))) {
      throw new BackupError(ErrorCode.COMPRESS_WORKER, `${JSON.stringify(name)}: ${e.message}`, { path: name, cause: e });
    }
    throw e;
  } finally {
    // On an error or an early stop by the consumer: closes the source and the worker session.
    await steps.return(undefined as unknown as GunzipTotals).catch(() => {});
    await ownPool?.close();
  }
  return {
    uncompressedBytes: bytesOut,
    uncompressedSha256: hashOut?.digest('hex') ?? '',
    compressedBytes: bytesIn,
    compressedSha256: hashIn?.digest('hex') ?? '',
    crc32: crc.crc32,
    members: totals.members,
  };
}

/** Drives an FflateGunzipParser in a worker; yields batches of output chunks, returns the totals. */
async function* inWorker(pool: CompressPool, input: AsyncGenerator<Uint8Array>, name: string, transfer: boolean): AsyncGenerator<GunzipOutput, GunzipTotals> {
  const session = pool.openGunzip(name);
  const inFlight: Promise<GunzipStep>[] = [];
  let lastMore = false;
  let inputDone = false;
  let endSent = false;
  const send = (p: Promise<GunzipStep>): void => {
    p.catch(() => {}); // awaited in order below
    inFlight.push(p);
  };
  try {
    for (;;) {
      while (inFlight.length < PIPELINE) {
        if (lastMore) {
          // The worker still holds input: let it drain before sending more (bounds its buffer).
          send(session.step(undefined, false, STEP_OUTPUT));
          lastMore = false;
        } else if (!inputDone) {
          const r = await input.next();
          if (r.done) inputDone = true;
          else send(session.step(r.value, false, STEP_OUTPUT, transfer));
        } else if (!endSent) {
          send(session.step(undefined, true, STEP_OUTPUT));
          endSent = true;
        } else break;
      }
      const p = inFlight.shift();
      if (!p) throw new Error('gunzip: worker pipeline stalled'); // cannot happen: end always answers done, more or an error
      const step = await p;
      lastMore = step.more;
      if (step.outs.length > 0 || step.memberEnd) yield step.memberEnd ? { out: step.outs, memberEnd: step.memberEnd } : { out: step.outs };
      if (step.done) return step.done;
    }
  } finally {
    session.close();
    await input.return(undefined);
  }
}

/** The same on the calling thread, yielding to the event loop between steps. */
async function* onThisThread(input: AsyncGenerator<Uint8Array>, name: string): AsyncGenerator<GunzipOutput, GunzipTotals> {
  const parser = new FflateGunzipParser(name);
  try {
    for (let chunk = await input.next(); ; chunk = await input.next()) {
      if (chunk.done) parser.end();
      else parser.push(chunk.value);
      for (;;) {
        const r = parser.drain(INLINE_STEP_OUTPUT);
        if (r.out.length > 0 || r.memberEnd) yield r;
        if (r.done) return r.done;
        if (!r.more) break;
        await yieldToEventLoop();
      }
      if (chunk.done) throw new Error('gunzip: parser did not finish after end of input'); // cannot happen
    }
  } finally {
    await input.return(undefined);
  }
}
