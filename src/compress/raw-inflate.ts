/**
 * Streaming raw-deflate decompression on fflate's `Inflate`, plus the one thing its public API lacks:
 * where the deflate stream ends. A gzip member is header + deflate + 8-byte trailer, and we check the
 * trailer ourselves, so we must know which input bytes come after the final deflate block.
 *
 * fflate's own streaming `Gunzip` finds it the same way (its state `s.f` = final block seen,
 * `s.l` = a Huffman block still open, `s.p` = bit position in the unconsumed input `p`), but it never
 * checks the CRC or ISIZE. We read those fields of fflate 0.8.x (pinned exactly in package.json);
 * `selfCheck()` proves on first use that they still mean what we think, so an fflate upgrade that
 * changes them fails loudly instead of mis-parsing trailers.
 */
import { Inflate, deflateSync } from 'fflate';

/** The private state of fflate 0.8.x `Inflate` that we read (see the module comment). */
interface InflateInternals {
  s: { f?: number; l?: unknown; p?: number };
  p: Uint8Array;
}

let checked = false;

export class RawInflater {
  private readonly inflate: Inflate;
  private readonly state: InflateInternals;
  private produced: Uint8Array[] = [];
  private done = false;

  constructor() {
    if (!checked) selfCheck();
    this.inflate = new Inflate((chunk) => {
      if (chunk.length > 0) this.produced.push(chunk);
    });
    this.state = this.inflate as unknown as InflateInternals;
  }

  /** True once the final deflate block has been fully decoded. */
  get ended(): boolean {
    return this.done;
  }

  /**
   * Decompresses `data` (any length, any split) and returns the output it completes. Throws fflate's
   * error (with a numeric `code`: 1 invalid block type, 2 invalid length/literal, 3 invalid distance)
   * on corrupt data. Must not be called once `ended`.
   */
  push(data: Uint8Array): Uint8Array[] {
    this.inflate.push(data, false);
    const s = this.state.s;
    this.done = s.f === 1 && !s.l;
    const out = this.produced;
    this.produced = [];
    return out;
  }

  /** Once `ended`: the input bytes that followed the deflate stream (the trailer and beyond). */
  rest(): Uint8Array {
    const bit = this.state.s.p ?? 0;
    return this.state.p.subarray(Math.ceil(bit / 8));
  }
}

/** Proves that the fflate internals read above behave as expected; throws if fflate changed. */
function selfCheck(): void {
  checked = true;
  const text = new TextEncoder().encode('the quick brown fox jumps over the lazy dog '.repeat(50));
  const stream = deflateSync(text, { level: 6 });
  const tail = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9);
  const input = new Uint8Array(stream.length + tail.length);
  input.set(stream);
  input.set(tail, stream.length);
  const inf = new RawInflater();
  // Split so the end of the stream falls in a later push than its start.
  let out = 0;
  const cut = stream.length >> 1;
  for (const part of [input.subarray(0, cut), input.subarray(cut)]) {
    if (inf.ended) break;
    for (const c of inf.push(part)) out += c.length;
  }
  const rest = inf.ended ? inf.rest() : new Uint8Array(0);
  if (out !== text.length || rest.length !== tail.length || rest.some((v, i) => v !== tail[i])) {
    checked = false;
    throw new Error('fflate internals changed: cannot locate the end of a deflate stream (see src/compress/raw-inflate.ts)');
  }
}
