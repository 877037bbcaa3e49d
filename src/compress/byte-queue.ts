/**
 * A FIFO of input chunks, read from the front without merging them (copies happen only when a read
 * spans chunks). Both gunzip codecs keep their not-yet-decompressed input here, and `offset` is the
 * position of the front byte in the whole compressed stream (for error messages).
 */
export class ByteQueue {
  private chunks: Uint8Array[] = [];
  /** Bytes queued. */
  length = 0;
  /** Bytes consumed so far: the stream offset of the front byte. */
  offset = 0;

  push(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.length += data.length;
  }

  /** Puts bytes back at the front (input a decoder did not consume). */
  unshift(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.unshift(data);
    this.length += data.length;
    this.offset -= data.length;
  }

  /** Up to n bytes from the front, without consuming them. */
  peek(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first === undefined) return new Uint8Array(0);
    if (first.length >= n) return first.subarray(0, n);
    const b = new Uint8Array(Math.min(n, this.length));
    let at = 0;
    for (const c of this.chunks) {
      if (at >= b.length) break;
      const part = c.subarray(0, b.length - at);
      b.set(part, at);
      at += part.length;
    }
    return b;
  }

  /** Consumes exactly n bytes (n <= length). */
  take(n: number): Uint8Array {
    const b = this.peek(n);
    this.skip(n);
    return b;
  }

  /** Consumes up to n bytes from the first chunk only (never copies). */
  takeUpTo(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first === undefined) return new Uint8Array(0);
    const b = first.subarray(0, n);
    this.skip(b.length);
    return b;
  }

  /**
   * Copies queued views that keep a much larger buffer alive (the rest of a chunk read in one piece),
   * for a queue that is held between calls: V8 frees such a buffer only once nothing refers to it.
   */
  compact(): void {
    for (let i = 0; i < this.chunks.length; i++) {
      const c = this.chunks[i]!;
      if (c.byteLength * 4 < c.buffer.byteLength) this.chunks[i] = c.slice();
    }
  }

  skip(n: number): void {
    this.length -= n;
    this.offset += n;
    while (n > 0) {
      const first = this.chunks[0]!;
      if (first.length <= n) {
        this.chunks.shift();
        n -= first.length;
      } else {
        this.chunks[0] = first.subarray(n);
        n = 0;
      }
    }
  }
}

/**
 * The last `keep` (or more) bytes of a stream that was handed on, addressable by stream offset:
 * what a decoder has already consumed but we still need to look at (a trailer, a header).
 */
export class RecentBytes {
  private chunks: { start: number; bytes: Uint8Array }[] = [];
  /** Stream offset after the last byte added. */
  end = 0;

  constructor(private readonly keep: number) {}

  /** Keeps a copy of `bytes` when it is a view into a larger buffer (see ByteQueue.compact). */
  add(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (bytes.byteLength !== bytes.buffer.byteLength) bytes = bytes.slice();
    this.chunks.push({ start: this.end, bytes });
    this.end += bytes.length;
    while (this.chunks.length > 1 && this.chunks[1]!.start <= this.end - this.keep) this.chunks.shift();
  }

  /** Bytes [from, to) of the stream, clipped to what is kept (and to `end`). */
  read(from: number, to: number): Uint8Array {
    to = Math.min(to, this.end);
    from = Math.max(from, this.chunks[0]?.start ?? this.end);
    const out = new Uint8Array(Math.max(0, to - from));
    for (const { start, bytes } of this.chunks) {
      const a = Math.max(from, start);
      const b = Math.min(to, start + bytes.length);
      if (a < b) out.set(bytes.subarray(a - start, b - start), a - from);
    }
    return out;
  }
}
