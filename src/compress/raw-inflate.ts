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

/** The private state of fflate 0.8.x `Inflate` that we use (see the module comment). */
interface InflateInternals {
  /** f: final block seen; l: Huffman block still open; p: bit position in `p`; b: bytes of window in `o`. */
  s: { f?: number; l?: unknown; p?: number; b?: number };
  /** Unconsumed input. */
  p: Uint8Array;
  /** Output buffer: the 32 KiB window, then this push's output. */
  o: Uint8Array;
}

/**
 * Output buffer handed to fflate for every push. Without it fflate allocates a fresh buffer per push
 * (>= 160 KiB, zero-filled, then doubled as it fills): small pushes then cost more in allocation than
 * in inflating. With it, 4 KiB pushes run as fast as 256 KiB ones (measured: 0.94 s vs 0.93 s for
 * 150 MB), so we can push small pieces and bound the output of one push (deflate expands at most
 * ~1032x). fflate still grows its own buffer if one push ever needs more.
 */
const SCRATCH_SIZE = 1024 * 1024 + 160 * 1024;

let checked = false;

export class RawInflater {
  private readonly inflate: Inflate;
  private readonly state: InflateInternals;
  private produced: Uint8Array[] = [];
  private done = false;
  private readonly scratch = new Uint8Array(SCRATCH_SIZE);

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
    const st = this.state;
    if (st.o !== this.scratch) {
      // fflate left the window in a fresh buffer of exactly s.b bytes: move it into the scratch buffer.
      this.scratch.set(st.o.subarray(0, st.s.b ?? 0));
      st.o = this.scratch;
    }
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
  // Small pushes, so the window is carried across pushes and the end falls inside a later push.
  const out: number[] = [];
  let at = 0;
  while (at < input.length && !inf.ended) {
    for (const c of inf.push(input.subarray(at, at + 7))) out.push(...c);
    at += 7;
  }
  const rest = inf.ended ? [...inf.rest(), ...input.subarray(at)] : [];
  if (out.length !== text.length || out.some((v, i) => v !== text[i]) || rest.length !== tail.length || rest.some((v, i) => v !== tail[i])) {
    checked = false;
    throw new Error('fflate internals changed: cannot locate the end of a deflate stream (see src/compress/raw-inflate.ts)');
  }
}
