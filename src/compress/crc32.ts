/**
 * CRC-32 (the gzip/zlib polynomial 0xEDB88320), plus `crc32Combine`.
 *
 * `crc32` is Node's native `zlib.crc32`, several times faster than JS; every Node this package
 * supports has it (package.json engines: >= 20.19). `crc32Js`, a slicing-by-8 table implementation,
 * stands in where a `node:zlib` has no `crc32` (a bundler's zlib shim, another runtime's Node
 * compatibility layer: the places the fflate gunzip codec is for), and is the reference the tests
 * check the native one against.
 *
 * `crc32Combine(crcA, crcB, lenB)` gives the CRC of A followed by B from the two CRCs and B's length,
 * which lets parallel workers checksum their own chunks (zlib's `crc32_combine64`, the x^(2^n)
 * table method of zlib 1.2.12).
 */
import * as zlib from 'node:zlib';

const POLY = 0xedb88320;

/** 8 tables of 256 entries: TABLE[k * 256 + b] is the CRC of byte b followed by k zero bytes. */
const TABLE: Int32Array = (() => {
  const t = new Int32Array(256 * 8);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[b] = c;
  }
  for (let b = 0; b < 256; b++) {
    for (let k = 1; k < 8; k++) {
      const prev = t[(k - 1) * 256 + b]!;
      t[k * 256 + b] = (prev >>> 8) ^ t[prev & 0xff]!;
    }
  }
  return t;
})();

type Crc32 = (data: Uint8Array, crc?: number) => number;
/** Read through the namespace: a named import of a missing export would fail to link on old Node. */
const nativeCrc32 = (zlib as unknown as { crc32?: Crc32 }).crc32;

/** CRC-32 of `data`, continuing from `crc` (the CRC of what came before; 0 to start). Unsigned. */
export const crc32: Crc32 = nativeCrc32 ? (data, crc = 0) => nativeCrc32(data, crc) : crc32Js;

/** The portable JS CRC-32 (slicing-by-8), used where Node has no `zlib.crc32`. */
export function crc32Js(data: Uint8Array, crc = 0): number {
  const t = TABLE;
  const n = data.length;
  const end8 = n - (n & 7);
  let c = ~crc;
  let i = 0;
  for (; i < end8; i += 8) {
    const a = (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) ^ c;
    c =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + data[i + 4]!]! ^
      t[512 + data[i + 5]!]! ^
      t[256 + data[i + 6]!]! ^
      t[data[i + 7]!]!;
  }
  for (; i < n; i++) c = t[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** a * b modulo the CRC polynomial (bit-reflected representation). */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** X2N[k] = x^(2^k) modulo the polynomial. */
const X2N: Uint32Array = (() => {
  const t = new Uint32Array(32);
  let p = 0x40000000; // x^1
  t[0] = p;
  for (let k = 1; k < 32; k++) t[k] = p = multModP(p, p);
  return t;
})();

/** x^(n * 2^k) modulo the polynomial; n may be any safe integer. */
function x2nModP(n: number, k: number): number {
  let p = 0x80000000; // x^0
  while (n > 0) {
    if (n % 2 === 1) p = multModP(X2N[k & 31]!, p);
    n = Math.floor(n / 2);
    k++;
  }
  return p;
}

/** CRC-32 of A followed by B, given crc32(A), crc32(B) and B's length in bytes (any safe integer). */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  // Appending lengthB bytes multiplies A's contribution by x^(8 * lengthB): 2^3 = 8, hence k = 3.
  return (multModP(x2nModP(lengthB, 3), crcA >>> 0) ^ (crcB >>> 0)) >>> 0;
}
