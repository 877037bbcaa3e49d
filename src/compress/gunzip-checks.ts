/**
 * The strict gzip rules both gunzip codecs (zlib-gunzip.ts, fflate-gunzip.ts) apply around the
 * deflate data, with the errors they raise: headers parsed by us (gzip-format.ts), every member's
 * ISIZE and CRC-32 checked, members may follow each other, anything else after the last one is
 * rejected. The codecs only differ in how they inflate and find where a member's deflate data ends.
 *
 * The CRC-32 check is `CrcCheck`, fed with the output by whoever consumes it (gunzip.ts): with the
 * fflate codec in a worker, the inflate runs there and the CRC on the calling thread.
 */
import { ErrorCode, type ErrorCodeValue } from '../errors.js';
import { crc32, crc32Combine } from './crc32.js';
import { gzipError } from './errors.js';
import { GZIP_ID1, GZIP_ID2, HeaderError, MAX_HEADER_STRING, parseHeader, readTrailer, type GzipHeaderInfo } from './gzip-format.js';

/** Longest possible header we accept: fixed part + FEXTRA + FNAME + FCOMMENT + FHCRC. */
export const MAX_HEADER = 10 + 2 + 0xffff + 2 * (MAX_HEADER_STRING + 1) + 2;

export interface GunzipTotals {
  /** Number of gzip members (1 for ordinary files, more for `cat a.gz b.gz`). */
  members: number;
  /** Decompressed bytes. */
  bytesOut: number;
}

/** The end of a member, reported after its last output: check the CRC-32 of its output against it. */
export interface MemberEnd {
  /** 1-based member number. */
  member: number;
  /** CRC-32 stored in the member's trailer. */
  crc: number;
  /** Decompressed length of the member (ISIZE already checked). */
  bytes: number;
}

/** Output of a codec: chunks, then possibly the end of the member they complete. */
export interface GunzipOutput {
  out: Uint8Array[];
  memberEnd?: MemberEnd;
}

/** Where the input ended too early, for EGZIP_TRUNCATED. */
export type TruncatedAt = 'inside the gzip header' | 'inside the compressed data' | 'inside the 8-byte trailer';

/** Errors of one gunzip run: each names the input, the member and the byte offset. */
export class GunzipErrors {
  constructor(readonly name: string) {}

  /**
   * Parses the header of member `members + 1` at the start of `bytes` (all of the input there is
   * when `ended`). Returns undefined when more input is needed; throws on a bad header, or when the
   * input ended inside it.
   */
  header(bytes: Uint8Array, ended: boolean, members: number, offset: number): GzipHeaderInfo | undefined {
    let info: GzipHeaderInfo | undefined;
    try {
      info = parseHeader(bytes);
    } catch (e) {
      if (!(e instanceof HeaderError)) throw e;
      const code = e.kind === 'not-gzip' ? ErrorCode.GZIP_NOT_GZIP : e.kind === 'crc' ? ErrorCode.GZIP_CRC : ErrorCode.GZIP_CORRUPT;
      const where = members === 0 ? '' : ` (member ${members + 1} at byte ${offset})`;
      throw this.error(code, `${e.message}${where}`);
    }
    if (info === undefined && ended) {
      if (members === 0 && offset === 0 && bytes.length === 0) {
        throw this.error(ErrorCode.GZIP_TRUNCATED, 'empty input (0 bytes): not a gzip file (gzip of empty data is 20 bytes)');
      }
      throw this.truncated('inside the gzip header', members, offset + bytes.length);
    }
    return info;
  }

  /** Checks ISIZE against the member's decompressed length; returns what the CRC check needs. */
  trailer(t: Uint8Array, member: number, memberBytes: number): MemberEnd {
    const { crc, size } = readTrailer(t);
    const actual = memberBytes % 0x1_0000_0000;
    if (size !== actual) {
      throw this.error(ErrorCode.GZIP_SIZE, `length mismatch in member ${member}: trailer says ${size} bytes (mod 2^32), decompressed ${actual}`);
    }
    return { member, crc, bytes: memberBytes };
  }

  /** Data after member `members` that does not start like another member (first 2 bytes or fewer). */
  trailing(members: number, offset: number): Error {
    return this.error(ErrorCode.GZIP_TRAILING, `unexpected data after the end of gzip member ${members} at byte ${offset} (trailing garbage is rejected)`);
  }

  /** `members` complete members were read; the input ended after `total` bytes. */
  truncated(where: TruncatedAt, members: number, total: number): Error {
    return this.error(ErrorCode.GZIP_TRUNCATED, `unexpected end of input ${where} of member ${members + 1} (after ${total} bytes): the file is truncated`);
  }

  corrupt(member: number, offset: number, cause: unknown): Error {
    const what = cause instanceof Error ? cause.message : String(cause);
    return this.error(ErrorCode.GZIP_CORRUPT, `corrupt deflate data in member ${member} near byte ${offset}: ${what}`, cause);
  }

  error(code: ErrorCodeValue, detail: string, cause?: unknown): Error {
    return gzipError(code, this.name, detail, cause);
  }
}

/** True if `b` (the first two bytes after a member, or fewer at the end) can start another member. */
export function startsLikeMember(b: Uint8Array): boolean {
  return b[0] === GZIP_ID1 && (b.length < 2 || b[1] === GZIP_ID2);
}

/** Checks the CRC-32 of each member's output against its trailer; combines them for the whole stream. */
export class CrcCheck {
  private memberCrc = 0;
  private total = 0;

  constructor(private readonly name: string) {}

  /** Feed every output chunk, in order. */
  update(chunk: Uint8Array): void {
    this.memberCrc = crc32(chunk, this.memberCrc);
  }

  /** Call when the codec reports a member end (after feeding that member's last output). */
  endMember(end: MemberEnd): void {
    if (end.crc !== this.memberCrc) {
      throw gzipError(ErrorCode.GZIP_CRC, this.name, `CRC-32 mismatch in member ${end.member}: stored ${hex(end.crc)}, data has ${hex(this.memberCrc)}`);
    }
    this.total = crc32Combine(this.total, this.memberCrc, end.bytes);
    this.memberCrc = 0;
  }

  /** CRC-32 of all the output so far (complete members). */
  get crc32(): number {
    return this.total;
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
