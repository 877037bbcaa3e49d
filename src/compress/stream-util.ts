/** Small helpers for the async-iterable streams of this module. */
import type { FileHandle } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { AbortError } from '../errors.js';

/** What both directions report once a stream has been fully consumed. */
export interface GzipSummary {
  /** Length of the uncompressed data. */
  uncompressedBytes: number;
  /** SHA-256 (hex) of the uncompressed data. */
  uncompressedSha256: string;
  /** Length of the gzip data. */
  compressedBytes: number;
  /** SHA-256 (hex) of the gzip data: what the `.sha256` sidecar of a backup holds. */
  compressedSha256: string;
  /** CRC-32 of the uncompressed data (for gunzip: the member CRCs combined). */
  crc32: number;
  /** Number of gzip members: always 1 for what we write; more for `cat a.gz b.gz`. */
  members: number;
}

/** Progress of a gzip or gunzip stream, in bytes. */
export interface GzipProgress {
  /** Bytes consumed from the input so far. */
  bytesIn: number;
  /** Bytes produced so far. */
  bytesOut: number;
  /** Size of the input when known (file functions). */
  totalIn?: number;
}

/**
 * A compressed or decompressed stream: iterate it once to get the output chunks, then read
 * `summary`. Errors (and aborts) are thrown by the iteration; `summary` rejects with the same error
 * but never as an unhandled rejection. Works with `stream.Readable.from(s)` and `stream.pipeline`.
 */
export interface GzipStream extends AsyncIterable<Uint8Array> {
  /** Resolves when the stream has been read to its end; rejects with the stream's error. */
  readonly summary: Promise<GzipSummary>;
}

/** Input of the streaming functions: any (async) iterable of bytes, e.g. a Readable. */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** Wraps a generator that returns its summary into a GzipStream. */
export function toGzipStream(name: string, run: () => AsyncGenerator<Uint8Array, GzipSummary>): GzipStream {
  let resolve!: (s: GzipSummary) => void;
  let reject!: (e: unknown) => void;
  const summary = new Promise<GzipSummary>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  summary.catch(() => {}); // errors reach the caller through the iteration
  let started = false;
  return {
    summary,
    async *[Symbol.asyncIterator]() {
      if (started) throw new Error(`${JSON.stringify(name)}: a gzip stream can be consumed only once`);
      started = true;
      let settled = false;
      try {
        const result = yield* run();
        settled = true;
        resolve(result);
      } catch (e) {
        settled = true;
        reject(e);
        throw e;
      } finally {
        if (!settled) reject(new AbortError(`${JSON.stringify(name)}: stream closed before the end`));
      }
    },
  };
}

/**
 * Re-cuts a byte source into chunks of exactly `size` bytes (the last one shorter), each in its own
 * ArrayBuffer so it can be transferred to a worker. Input chunks are copied unless `owned` says the
 * caller gave them up and one already has the right shape.
 */
export async function* rechunk(source: ByteSource, size: number, owned: boolean): AsyncGenerator<Uint8Array> {
  let buf: Uint8Array | undefined;
  let fill = 0;
  for await (const c of source) {
    if (!(c instanceof Uint8Array)) throw new TypeError(`expected Uint8Array chunks, got ${typeof c}`);
    if (owned && fill === 0 && c.length === size && ownsBuffer(c)) {
      yield c;
      continue;
    }
    let at = 0;
    while (at < c.length) {
      buf ??= new Uint8Array(size);
      const n = Math.min(size - fill, c.length - at);
      buf.set(c.subarray(at, at + n), fill);
      fill += n;
      at += n;
      if (fill === size) {
        yield buf;
        buf = undefined;
        fill = 0;
      }
    }
  }
  if (buf && fill > 0) yield buf.slice(0, fill);
}

export function ownsBuffer(u: Uint8Array): boolean {
  return u.buffer instanceof ArrayBuffer && u.byteOffset === 0 && u.byteLength === u.buffer.byteLength;
}

/**
 * Reads a file sequentially in fresh `size`-byte chunks (the last one shorter), one read ahead: the
 * next chunk is read while the caller works on the current one.
 */
export async function* readChunks(fh: FileHandle, size: number): AsyncGenerator<Uint8Array> {
  const readOne = async (): Promise<Uint8Array | undefined> => {
    const buf = new Uint8Array(size);
    let fill = 0;
    while (fill < size) {
      const { bytesRead } = await fh.read(buf, fill, size - fill, null);
      if (bytesRead === 0) break;
      fill += bytesRead;
    }
    return fill === 0 ? undefined : fill === size ? buf : buf.slice(0, fill);
  };
  let next: Promise<Uint8Array | undefined> | undefined = readOne();
  try {
    while (next) {
      const chunk: Uint8Array | undefined = await next;
      next = chunk?.length === size ? readOne() : undefined;
      if (chunk) yield chunk;
    }
  } finally {
    next?.catch(() => {}); // a read still running when the consumer stopped: its result is dropped
  }
}

/** Lets timers and I/O run between two synchronous steps on the caller's thread. */
export function yieldToEventLoop(): Promise<void> {
  return nextTurn();
}

export function checkAborted(signal: AbortSignal | undefined, name: string): void {
  if (signal?.aborted) throw new AbortError(`${JSON.stringify(name)}: aborted`, { path: name, cause: signal.reason });
}
