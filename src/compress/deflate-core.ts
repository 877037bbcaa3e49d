/**
 * One chunk of the parallel gzip stream (pigz-style), compressed independently of the others: raw
 * deflate primed with the last 32 KiB of the previous chunk as dictionary, ended by a sync flush
 * (an empty stored block, 00 00 FF FF, on a byte boundary, no BFINAL bit). Concatenating such chunks
 * in order gives one valid deflate stream; the gzip writer adds a final empty block (03 00) at the
 * end. The dictionary lets matches reach back into the previous chunk, as a single-threaded deflate
 * would (window 32 KiB), so the size stays within ~0.1% of compressing in one piece. Runs in a worker
 * (compress-worker.ts) or inline (`workers: 0`).
 *
 * The deflate itself is Node's built-in zlib (part of Node and Electron, not an addon: nothing to
 * build or install): faster than a JS deflate, and its output is the size of `gzip -6`'s.
 * Decompression is zlib's too by default (zlib-gunzip.ts).
 */
import { constants, deflateRawSync } from 'node:zlib';
import { crc32 } from './crc32.js';

/** A deflate compression level, as gzip's -1 ... -9 (0 stores without compressing). */
export type Level = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

/** The deflate window: a dictionary longer than this is useless. */
export const WINDOW = 32 * 1024;

export interface DeflateChunkResult {
  /** Raw deflate bytes of the chunk, byte-aligned, not final. */
  out: Uint8Array;
  /** CRC-32 of the chunk's input. */
  crc: number;
}

export function deflateChunk(data: Uint8Array, level: Level, dictionary?: Uint8Array): DeflateChunkResult {
  const out = deflateRawSync(data, {
    level,
    // zlib's defaults, as `gzip -6` uses them.
    memLevel: 8,
    windowBits: 15,
    // Not Z_FINISH: no BFINAL block, the output ends on a byte boundary with 00 00 FF FF.
    finishFlush: constants.Z_SYNC_FLUSH,
    dictionary,
  });
  // The worker transfers `out.buffer` to the main thread: it must own its memory (a small result can
  // be a view into Node's shared Buffer pool, which must not be transferred).
  const owned = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength ? out : new Uint8Array(out);
  return { out: owned, crc: crc32(data) };
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
