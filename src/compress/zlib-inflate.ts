/**
 * One member's raw deflate data through Node's built-in zlib (`createInflateRaw`): the inflate runs
 * on libuv's thread pool, so the calling thread only moves buffers. Part of Node and Electron, not an
 * addon. Used by zlib-gunzip.ts, which parses the gzip framing itself.
 *
 * zlib tells us where the deflate data ended: it stops consuming input at the end of the final
 * block and ends its readable side, and `bytesWritten` counts the input it consumed. We write one
 * chunk at a time and wait until zlib has processed it, so the unconsumed tail of that chunk (the
 * trailer and whatever follows) is `fed - bytesWritten`. A stream that ends exactly at the end of a
 * chunk is noticed with the next write, which zlib then leaves entirely unconsumed.
 *
 * Memory: zlib produces at most `OUTPUT_CHUNK` bytes per step and pauses while `OUTPUT_BUFFER` bytes
 * wait unread (Readable backpressure), whatever the compression ratio.
 */
import type { TransformOptions } from 'node:stream';
import { createInflateRaw, type InflateRaw, type ZlibOptions } from 'node:zlib';

/** Output bytes zlib produces per thread-pool step (its `chunkSize`). */
const OUTPUT_CHUNK = 256 * 1024;
/** Output zlib may hold for us before it pauses (the readable side's highWaterMark). */
const OUTPUT_BUFFER = 512 * 1024;

export class ZlibRawInflate {
  private readonly inflate: InflateRaw;
  /** Input bytes written so far. */
  private fed = 0;
  /** The pending write has been fully processed. */
  private settled = true;
  /** end() was called: output continues until zlib's readable side ends. */
  private ending = false;
  private endEmitted = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor() {
    // zlib passes stream options on to its Transform (not in @types/node's ZlibOptions).
    const options: ZlibOptions & TransformOptions = { chunkSize: OUTPUT_CHUNK, readableHighWaterMark: OUTPUT_BUFFER };
    this.inflate = createInflateRaw(options);
    const poke = (): void => {
      const w = this.wake;
      this.wake = undefined;
      w?.();
    };
    this.inflate.on('readable', poke);
    this.inflate.on('end', () => {
      this.endEmitted = true;
      poke();
    });
    this.inflate.on('error', (e: Error) => {
      this.failure ??= e;
      poke();
    });
    this.poke = poke;
  }

  private readonly poke: () => void;

  /** Input bytes zlib consumed: the length of the deflate data once `ended`. */
  get consumed(): number {
    return this.inflate.bytesWritten;
  }

  /** The deflate data is complete (its final block was decoded); `unconsumed` input follows it. */
  get ended(): boolean {
    return this.endEmitted || (this.settled && this.fed > this.inflate.bytesWritten);
  }

  /** Bytes of the last written chunk that come after the deflate data (once `ended`). */
  get unconsumed(): number {
    return this.fed - this.inflate.bytesWritten;
  }

  /** Feeds a chunk; then call `read()` until it returns undefined before writing again. */
  write(chunk: Uint8Array): void {
    this.settled = false;
    this.fed += chunk.length;
    this.inflate.write(chunk, () => {
      this.settled = true;
      this.poke();
    });
  }

  /** End of input: `read()` then throws zlib's Z_BUF_ERROR if the deflate data is incomplete. */
  end(): void {
    this.ending = true;
    this.inflate.end();
  }

  /**
   * The next piece of output, or undefined once the last write (or the end) is fully processed.
   * Throws zlib's error (code Z_DATA_ERROR on corrupt data, Z_BUF_ERROR on a truncated stream).
   */
  async read(): Promise<Uint8Array | undefined> {
    for (;;) {
      const b = this.inflate.read() as Buffer | null;
      if (b !== null) return b;
      if (this.failure) throw this.failure;
      if (this.endEmitted || (!this.ending && this.settled && this.inflate.readableLength === 0)) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** Frees zlib's state (after an error, an abort, or at the end). */
  destroy(): void {
    this.inflate.destroy();
  }
}
