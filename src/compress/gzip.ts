/**
 * Streaming gzip, compressed in parallel on a pool of worker threads (pigz-style).
 *
 * Format choice: ONE standard gzip member whose deflate stream is the concatenation of independently
 * compressed, sync-flushed 1 MiB chunks, with the chunk CRCs combined (crc32Combine) for the trailer.
 * Not one member per chunk, because:
 *  - every decoder reads a single member; concatenated members are standard too, but some readers
 *    stop after the first one (browser/HTTP decoders, older Java GZIPInputStream), silently truncating;
 *  - the trailer CRC-32 and ISIZE then cover the whole file, so `gzip -t` / our gunzip check the
 *    backup end to end, not chunk by chunk;
 *  - each chunk is primed with the previous 32 KiB (the whole deflate window), which members cannot
 *    carry over; the cost is ~5 bytes of sync marker per MiB instead of 18+ bytes and a cold window.
 * This is what `pigz` writes, and it decodes with gzip, pigz, python3 and Go (see the tests).
 *
 * Memory is bounded: at most 2 chunks per worker are in flight (in and out, ~1.5 MiB each), and the
 * next input chunk is read only when the consumer asks for more output (async-iterator backpressure).
 */
import { createHash } from 'node:crypto';
import { BackupError, ErrorCode } from '../errors.js';
import { WINDOW, deflateChunk, type DeflateChunkResult, type Level } from './deflate-core.js';
import { FINAL_EMPTY_BLOCK, gzipHeader, gzipTrailer } from './gzip-format.js';
import { crc32Combine } from './crc32.js';
import { CompressPool, DEFAULT_WORKERS } from './pool.js';
import { releaseYoungGarbage } from '../memory.js';
import {
  checkAborted,
  rechunk,
  toGzipStream,
  yieldToEventLoop,
  type ByteSource,
  type GzipProgress,
  type GzipStream,
  type GzipSummary,
} from './stream-util.js';

/** Input bytes per parallel chunk. Larger: less sync-flush overhead; smaller: less memory. */
export const CHUNK_SIZE = 1024 * 1024;
export const DEFAULT_LEVEL: Level = 6;
/** Chunks queued per worker: one being compressed, one waiting, so a worker never idles. */
const IN_FLIGHT_PER_WORKER = 2;
/**
 * Input between two minor collections on the calling thread. Every chunk leaves a dead output
 * Buffer there (the compressed bytes, once written); V8 frees their memory only when it collects the
 * small wrappers, late, so tens of MiB of them stay resident during a large backup. A minor GC every
 * 8 MiB about halves that and costs well under a millisecond each. Only with workers: on the calling
 * thread (workers: 0) the deflate itself allocates, and its caller chose that mode for small inputs.
 */
const MINOR_GC_EVERY_BYTES = 8 * 1024 * 1024;

/** Options of gzipStream. */
export interface GzipOptions {
  /** Compression level 0 (store) to 9 (smallest). Level 6 is gzip's default. @default 6 */
  level?: Level;
  /**
   * Worker threads to compress on. `0` compresses on the calling thread in 1 MiB steps, yielding to
   * the event loop between steps (each step blocks it ~40 ms at level 6): for hosts without
   * worker_threads. Ignored when `pool` is given.
   * @default DEFAULT_WORKERS (one per core, at most 4)
   */
  workers?: number;
  /** A pool to reuse across calls (not closed by us). Without it each call starts and stops its own. */
  pool?: CompressPool;
  /** Location of compress-worker.js, for bundled apps. @default next to this module */
  workerUrl?: URL | string;
  /** Cancels the operation; the stream then throws an AbortError (code EABORTED). */
  signal?: AbortSignal;
  /** Called after each output chunk. */
  onProgress?: (progress: GzipProgress) => void;
  /** Name used in error messages (file or remote path). @default "stream" */
  name?: string;
}

/** Options the file functions pass down; not part of the public stream API. */
export interface InternalStreamOptions {
  /** The source chunks are ours to transfer to workers (never the caller's buffers). */
  owned?: boolean;
  totalIn?: number;
  /**
   * gunzip: leave out the SHA-256 of the input and/or of the output (its summary field is then
   * empty), for a caller that hashes those bytes itself or never reads the hash: each costs this
   * thread ~1.4 ms per MiB.
   */
  skipHash?: { compressed?: boolean; uncompressed?: boolean };
}

/** Compresses a byte source into one gzip member. See GzipStream for how to read the result. */
export function gzipStream(source: ByteSource, options: GzipOptions = {}): GzipStream {
  return gzipStreamInternal(source, options, {});
}

export function gzipStreamInternal(source: ByteSource, options: GzipOptions, internal: InternalStreamOptions): GzipStream {
  const name = options.name ?? 'stream';
  const level = options.level ?? DEFAULT_LEVEL;
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new RangeError(`gzip level must be 0..9, got ${level}`);
  const workers = options.workers ?? DEFAULT_WORKERS;
  if (!Number.isInteger(workers) || workers < 0) throw new RangeError(`workers must be an integer >= 0, got ${workers}`);
  return toGzipStream(name, () => run(source, options, internal, name, level, workers));
}

async function* run(
  source: ByteSource,
  options: GzipOptions,
  internal: InternalStreamOptions,
  name: string,
  level: Level,
  workers: number,
): AsyncGenerator<Uint8Array, GzipSummary> {
  const { signal, onProgress } = options;
  checkAborted(signal, name);
  const ownPool = !options.pool && workers > 0 ? new CompressPool({ size: workers, workerUrl: options.workerUrl }) : undefined;
  const pool = options.pool ?? ownPool;
  const maxInFlight = pool ? pool.size * IN_FLIGHT_PER_WORKER : 1;
  const compress = pool
    ? (chunk: Uint8Array, dict?: Uint8Array) => pool.deflate(chunk, level, dict)
    : async (chunk: Uint8Array, dict?: Uint8Array) => {
        await yieldToEventLoop();
        return deflateChunk(chunk, level, dict);
      };

  const hashIn = createHash('sha256');
  const hashOut = createHash('sha256');
  let bytesIn = 0;
  let bytesOut = 0;
  let crc = 0;
  const inFlight: { result: Promise<DeflateChunkResult>; length: number }[] = [];

  const emit = (b: Uint8Array): Uint8Array => {
    hashOut.update(b);
    bytesOut += b.length;
    onProgress?.(internal.totalIn === undefined ? { bytesIn, bytesOut } : { bytesIn, bytesOut, totalIn: internal.totalIn });
    return b;
  };
  const next = async (): Promise<Uint8Array> => {
    const { result, length } = inFlight.shift()!;
    const r = await result;
    crc = crc32Combine(crc, r.crc, length);
    return r.out;
  };

  try {
    yield emit(gzipHeader(level));
    let dictionary: Uint8Array | undefined;
    for await (const chunk of rechunk(source, CHUNK_SIZE, internal.owned === true)) {
      checkAborted(signal, name);
      // Everything that reads `chunk` comes first: it is transferred to a worker (detached, length 0).
      const length = chunk.length;
      hashIn.update(chunk);
      bytesIn += length;
      if (pool && bytesIn % MINOR_GC_EVERY_BYTES === 0) releaseYoungGarbage();
      const tail = chunk.slice(Math.max(0, length - WINDOW));
      const result = compress(chunk, dictionary);
      result.catch(() => {}); // awaited in order below; this only stops an "unhandled rejection"
      inFlight.push({ result, length });
      dictionary = tail; // chunks are CHUNK_SIZE >= WINDOW bytes, except the last one
      while (inFlight.length >= maxInFlight) {
        yield emit(await next());
        checkAborted(signal, name);
      }
    }
    while (inFlight.length > 0) {
      yield emit(await next());
      checkAborted(signal, name);
    }
    const end = new Uint8Array(FINAL_EMPTY_BLOCK.length + 8);
    end.set(FINAL_EMPTY_BLOCK);
    end.set(gzipTrailer(crc, bytesIn), FINAL_EMPTY_BLOCK.length);
    yield emit(end);
    return {
      uncompressedBytes: bytesIn,
      uncompressedSha256: hashIn.digest('hex'),
      compressedBytes: bytesOut,
      compressedSha256: hashOut.digest('hex'),
      crc32: crc,
      members: 1,
    };
  } catch (e) {
    if (e instanceof BackupError && e.code === ErrorCode.COMPRESS_WORKER && !e.message.includes(JSON.stringify(name))) {
      throw new BackupError(ErrorCode.COMPRESS_WORKER, `${JSON.stringify(name)}: ${e.message}`, { path: name, cause: e });
    }
    throw e;
  } finally {
    await ownPool?.close();
  }
}

