/**
 * One chunk of the parallel gzip stream (pigz-style), compressed independently of the others:
 * `new Deflate({ level, dictionary: last 32 KiB of the previous chunk })`, `push(chunk)`, then a sync
 * flush, which ends the output on a byte boundary with an empty stored block (00 00 FF FF) and no
 * BFINAL bit. Concatenating such chunks in order gives one valid deflate stream; the gzip writer adds
 * a final empty block (03 00) at the end. The dictionary lets matches reach back into the previous
 * chunk, exactly as a single-threaded deflate would (window 32 KiB), so the size stays within ~0.1%
 * of compressing in one piece. Runs in a worker (compress-worker.ts) or inline (`workers: 0`).
 */
import { Deflate, type DeflateOptions } from 'fflate';
import { crc32 } from './crc32.js';

export type Level = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

/** The deflate window: a dictionary longer than this is useless. */
export const WINDOW = 32 * 1024;

/**
 * fflate's `mem` for each chunk: a 2^(12+4) = 64 Ki-entry hash table (128 KiB). fflate's streaming
 * default is 2^20 entries (2 MiB), allocated and zeroed for every chunk; zlib's default memLevel 8 is
 * only 2^15. Measured on the bench database: same output size (+0.002%), same speed, ~10 MiB less RSS
 * with 2 workers.
 */
const HASH_MEM = 4;

export interface DeflateChunkResult {
  /** Raw deflate bytes of the chunk, byte-aligned, not final. */
  out: Uint8Array;
  /** CRC-32 of the chunk's input. */
  crc: number;
}

export function deflateChunk(data: Uint8Array, level: Level, dictionary?: Uint8Array): DeflateChunkResult {
  const parts: Uint8Array[] = [];
  let size = 0;
  const opts: DeflateOptions = { level, mem: HASH_MEM };
  if (dictionary && dictionary.length > 0) opts.dictionary = dictionary;
  const d = new Deflate(opts, (c) => {
    parts.push(c);
    size += c.length;
  });
  d.push(data);
  d.flush();
  const marker = syncMarker(d);
  parts.push(marker);
  size += marker.length;
  return { out: concat(parts, size), crc: crc32(data) };
}

/**
 * The end of a sync flush: the pending partial byte, an empty non-final stored block (3 header bits,
 * zero padding to the byte boundary), then LEN/NLEN = 00 00 FF FF.
 *
 * We do not call fflate 0.8.3's `flush(true)`: it passes its packed state `s.r` (pending byte << 3 |
 * bit count) as a bit position and omits the BFINAL bit, so its marker is only right when the pending
 * byte happens to be 0 - otherwise it emits `xx 00 00 00 00 00`, which no inflater accepts. `flush()`
 * (not sync) is correct: it emits every complete byte and keeps the partial one in `s.r`, which we read
 * here (fflate is pinned exactly; `selfCheck` verifies this on first use).
 */
function syncMarker(d: Deflate): Uint8Array {
  const r = (d as unknown as { s: { r?: number } }).s.r ?? 0;
  const bits = r & 7;
  const marker = new Uint8Array(Math.ceil((bits + 3) / 8) + 4);
  marker[0] = r >> 3;
  marker.set([0x00, 0x00, 0xff, 0xff], marker.length - 4);
  return marker;
}

export function concat(parts: Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1 && parts[0]!.byteOffset === 0 && parts[0]!.byteLength === parts[0]!.buffer.byteLength) return parts[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
