/**
 * The gzip container (RFC 1952): the 10-byte header we write, a parser for every header a real gzip
 * tool writes (FEXTRA, FNAME, FCOMMENT, FHCRC), and the 8-byte trailer.
 */
import { crc32 } from './crc32.js';

export const GZIP_ID1 = 0x1f;
export const GZIP_ID2 = 0x8b;
export const CM_DEFLATE = 8;

export const FLAG_TEXT = 0x01;
export const FLAG_HCRC = 0x02;
export const FLAG_EXTRA = 0x04;
export const FLAG_NAME = 0x08;
export const FLAG_COMMENT = 0x10;
const FLAG_RESERVED = 0xe0;

/** Longest FNAME or FCOMMENT we accept (gzip sets no limit; this bounds memory on hostile input). */
export const MAX_HEADER_STRING = 64 * 1024;

/** A final, empty, fixed-Huffman deflate block: what zlib writes for Z_FINISH after a sync flush. */
export const FINAL_EMPTY_BLOCK: Uint8Array = Uint8Array.of(0x03, 0x00);

export const TRAILER_SIZE = 8;

/**
 * The header we write: no name, no mtime (so output depends only on the input and the level),
 * OS = 255 "unknown" (platform-independent), XFL as gzip sets it for levels 9 and 1.
 */
export function gzipHeader(level: number): Uint8Array {
  const xfl = level >= 9 ? 2 : level === 1 ? 4 : 0;
  return Uint8Array.of(GZIP_ID1, GZIP_ID2, CM_DEFLATE, 0, 0, 0, 0, 0, xfl, 255);
}

export function gzipTrailer(crc: number, size: number): Uint8Array {
  const t = new Uint8Array(TRAILER_SIZE);
  const v = new DataView(t.buffer);
  v.setUint32(0, crc >>> 0, true);
  v.setUint32(4, size % 0x1_0000_0000, true); // ISIZE is the length modulo 2^32
  return t;
}

export function readTrailer(t: Uint8Array): { crc: number; size: number } {
  const v = new DataView(t.buffer, t.byteOffset, t.byteLength);
  return { crc: v.getUint32(0, true), size: v.getUint32(4, true) };
}

/** What a parsed header told us. Names are decoded as latin-1, as RFC 1952 specifies. */
export interface GzipHeaderInfo {
  /** Header length in bytes (where the deflate data starts). */
  length: number;
  flags: number;
  mtime: number;
  os: number;
  name?: string;
  comment?: string;
  extra?: Uint8Array;
}

/** A header problem: `kind` maps to an error code in the caller, which knows the file name. */
export class HeaderError extends Error {
  constructor(
    readonly kind: 'not-gzip' | 'corrupt' | 'crc',
    message: string,
  ) {
    super(message);
  }
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

/**
 * Parses a gzip member header at the start of `b`. Returns undefined when `b` is a valid but incomplete
 * prefix (more input needed); throws HeaderError when it can never become a valid header.
 */
export function parseHeader(b: Uint8Array): GzipHeaderInfo | undefined {
  if (b.length >= 1 && b[0] !== GZIP_ID1) throw new HeaderError('not-gzip', 'not in gzip format (bad magic bytes)');
  if (b.length >= 2 && b[1] !== GZIP_ID2) throw new HeaderError('not-gzip', 'not in gzip format (bad magic bytes)');
  if (b.length >= 3 && b[2] !== CM_DEFLATE) {
    throw new HeaderError('corrupt', `unknown compression method ${b[2]} (only 8, deflate, exists)`);
  }
  if (b.length >= 4 && b[3]! & FLAG_RESERVED) {
    throw new HeaderError('corrupt', `reserved header flag bits set (flags 0x${b[3]!.toString(16)})`);
  }
  if (b.length < 10) return undefined;
  const flags = b[3]!;
  const info: GzipHeaderInfo = {
    length: 0,
    flags,
    mtime: (b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24)) >>> 0,
    os: b[9]!,
  };
  let p = 10;
  if (flags & FLAG_EXTRA) {
    if (b.length < p + 2) return undefined;
    const xlen = b[p]! | (b[p + 1]! << 8);
    p += 2;
    if (b.length < p + xlen) return undefined;
    info.extra = b.slice(p, p + xlen);
    p += xlen;
  }
  for (const [flag, key] of [
    [FLAG_NAME, 'name'],
    [FLAG_COMMENT, 'comment'],
  ] as const) {
    if (!(flags & flag)) continue;
    const end = b.indexOf(0, p);
    if (end < 0) {
      if (b.length - p > MAX_HEADER_STRING) throw new HeaderError('corrupt', `header ${key} longer than ${MAX_HEADER_STRING} bytes`);
      return undefined;
    }
    info[key] = latin1(b.subarray(p, end));
    p = end + 1;
  }
  if (flags & FLAG_HCRC) {
    if (b.length < p + 2) return undefined;
    const stored = b[p]! | (b[p + 1]! << 8);
    const actual = crc32(b.subarray(0, p)) & 0xffff;
    if (stored !== actual) {
      throw new HeaderError(
        'crc',
        `header CRC16 mismatch (stored 0x${stored.toString(16).padStart(4, '0')}, computed 0x${actual.toString(16).padStart(4, '0')})`,
      );
    }
    p += 2;
  }
  info.length = p;
  return info;
}
