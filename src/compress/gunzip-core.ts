/**
 * The synchronous gunzip state machine: header -> deflate body -> trailer, member after member.
 * It parses headers itself, checks every member's ISIZE, accepts concatenated members and rejects
 * anything else after the last one. Input and output are bounded per call, so memory stays flat
 * whatever the input size or compression ratio. It runs unchanged in a worker or on the caller's
 * thread (see gunzip.ts).
 *
 * The CRC-32 check is split off into `CrcCheck`, fed with the same output by whoever consumes it:
 * with a worker, the parser (the bottleneck) runs there and the CRC on the main thread, which
 * otherwise only hashes and writes. Each member end is reported at the end of a `drain` result.
 */
import { ErrorCode } from '../errors.js';
import { crc32, crc32Combine } from './crc32.js';
import { gzipError } from './errors.js';
import { HeaderError, MAX_HEADER_STRING, TRAILER_SIZE, parseHeader, readTrailer } from './gzip-format.js';
import { RawInflater } from './raw-inflate.js';

/** Longest possible header we accept: fixed part + FEXTRA + FNAME + FCOMMENT + FHCRC. */
const MAX_HEADER = 10 + 2 + 0xffff + 2 * (MAX_HEADER_STRING + 1) + 2;
/**
 * Input fed to fflate per call. Output per call is input x ratio, and deflate reaches ~1032:1 (runs of
 * zeros, e.g. free pages), so the piece size bounds memory: 16 KiB -> at most ~16.5 MiB per call.
 * Within that cap the piece adapts to the last ratio seen to aim at ~256 KiB of output per call.
 */
const MAX_PIECE = 16 * 1024;
const MIN_PIECE = 1024;
const TARGET_PIECE_OUTPUT = 256 * 1024;

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
  /** Decompressed length of the member (ISIZE already checked by the parser). */
  bytes: number;
}

export interface DrainResult {
  out: Uint8Array[];
  /** Call `drain` again before pushing more (buffered input remains, or the end is not settled). */
  more: boolean;
  /** A member ended with the last byte of `out`. */
  memberEnd?: MemberEnd;
  /** Set once `end()` was called and the whole stream has been parsed. */
  done?: GunzipTotals;
}

type Phase = 'header' | 'body' | 'trailer' | 'between';

export class GunzipParser {
  private queue: Uint8Array[] = [];
  private queued = 0;
  /** Compressed bytes consumed so far (for error offsets). */
  private offset = 0;
  private inputEnded = false;
  private phase: Phase = 'header';
  private inflater: RawInflater | undefined;
  private memberBytes = 0;
  private members = 0;
  private totalBytes = 0;
  /** Output/input ratio of the last fflate call; starts at deflate's maximum, so the first piece is small. */
  private ratio = 1032;

  constructor(private readonly name: string) {}

  push(data: Uint8Array): void {
    if (this.inputEnded) throw new Error('GunzipParser: push after end');
    if (data.length === 0) return;
    this.queue.push(data);
    this.queued += data.length;
  }

  end(): void {
    this.inputEnded = true;
  }

  /** Decompresses buffered input until about `budget` output bytes are ready or input runs out. */
  drain(budget: number): DrainResult {
    // One piece per fflate call (~16-256 KiB), passed on as is: merging them into one buffer cost the
    // worker more (fresh memory, page faults: ~10% of a gunzip) than the extra writes cost the caller.
    const out: Uint8Array[] = [];
    let outBytes = 0;
    const result = (more: boolean, end?: { memberEnd?: MemberEnd; done?: GunzipTotals }): DrainResult => ({ out, more, ...end });
    for (;;) {
      if (outBytes >= budget) return result(this.queued > 0);
      switch (this.phase) {
        case 'between':
          if (this.queued === 0) {
            if (!this.inputEnded) return result(false);
            return result(false, { done: { members: this.members, bytesOut: this.totalBytes } });
          }
          if (!this.startsLikeMember()) {
            throw this.error(ErrorCode.GZIP_TRAILING, `unexpected data after the end of gzip member ${this.members} at byte ${this.offset} (trailing garbage is rejected)`);
          }
          this.phase = 'header';
          break;
        case 'header':
          if (!this.readHeader()) return result(false);
          break;
        case 'body':
          if (this.queued === 0) {
            if (this.inputEnded) throw this.truncated('inside the compressed data');
            return result(false);
          }
          for (const chunk of this.inflateStep()) {
            out.push(chunk);
            outBytes += chunk.length;
          }
          break;
        case 'trailer':
          if (this.queued < TRAILER_SIZE) {
            if (this.inputEnded) throw this.truncated('inside the 8-byte trailer');
            return result(false);
          }
          // Stop here so the member's output ends this result. After the end of input there is
          // still a decision to make (next member, trailing data or done): report `more` then too.
          return result(this.queued > 0 || this.inputEnded, { memberEnd: this.checkTrailer(this.take(TRAILER_SIZE)) });
      }
    }
  }

  private startsLikeMember(): boolean {
    const b = this.peek(2);
    return b[0] === 0x1f && (b.length < 2 || b[1] === 0x8b);
  }

  /** Parses the member header if it is complete; false when more input is needed. */
  private readHeader(): boolean {
    const head = this.peek(Math.min(this.queued, MAX_HEADER));
    let info;
    try {
      info = parseHeader(head);
    } catch (e) {
      if (!(e instanceof HeaderError)) throw e;
      const code = e.kind === 'not-gzip' ? ErrorCode.GZIP_NOT_GZIP : e.kind === 'crc' ? ErrorCode.GZIP_CRC : ErrorCode.GZIP_CORRUPT;
      const where = this.members === 0 ? '' : ` (member ${this.members + 1} at byte ${this.offset})`;
      throw this.error(code, `${e.message}${where}`);
    }
    if (info === undefined) {
      if (!this.inputEnded) return false;
      if (this.members === 0 && this.offset === 0 && this.queued === 0) {
        throw this.error(ErrorCode.GZIP_TRUNCATED, 'empty input (0 bytes): not a gzip file (gzip of empty data is 20 bytes)');
      }
      throw this.truncated('inside the gzip header');
    }
    this.take(info.length);
    this.phase = 'body';
    this.inflater = new RawInflater();
    this.ratio = 1032;
    this.memberBytes = 0;
    return true;
  }

  private inflateStep(): Uint8Array[] {
    const inflater = this.inflater!;
    const want = Math.max(MIN_PIECE, Math.min(MAX_PIECE, Math.floor(TARGET_PIECE_OUTPUT / this.ratio)));
    const piece = this.takeUpTo(want);
    let out: Uint8Array[];
    try {
      out = inflater.push(piece);
    } catch (e) {
      const what = e instanceof Error ? e.message : String(e);
      throw this.error(ErrorCode.GZIP_CORRUPT, `corrupt deflate data in member ${this.members + 1} near byte ${this.offset}: ${what}`, e);
    }
    let n = 0;
    for (const c of out) n += c.length;
    this.memberBytes += n;
    if (n > 0) this.ratio = Math.max(1, n / piece.length);
    if (inflater.ended) {
      const rest = inflater.rest();
      if (rest.length > 0) this.unshift(rest);
      this.inflater = undefined;
      this.phase = 'trailer';
    }
    return out;
  }

  private checkTrailer(t: Uint8Array): MemberEnd {
    const { crc, size } = readTrailer(t);
    const member = this.members + 1;
    const actual = this.memberBytes % 0x1_0000_0000;
    if (size !== actual) {
      throw this.error(ErrorCode.GZIP_SIZE, `length mismatch in member ${member}: trailer says ${size} bytes (mod 2^32), decompressed ${actual}`);
    }
    this.totalBytes += this.memberBytes;
    this.members++;
    this.phase = 'between';
    return { member, crc, bytes: this.memberBytes };
  }

  private truncated(where: string): Error {
    return this.error(ErrorCode.GZIP_TRUNCATED, `unexpected end of input ${where} of member ${this.members + 1} (after ${this.offset + this.queued} bytes): the file is truncated`);
  }

  private error(code: Parameters<typeof gzipError>[0], detail: string, cause?: unknown): Error {
    return gzipError(code, this.name, detail, cause);
  }

  // --- input queue -------------------------------------------------------------------------------

  /** Up to n bytes from the front of the queue, without consuming them (copies only across chunks). */
  private peek(n: number): Uint8Array {
    const first = this.queue[0];
    if (first === undefined) return new Uint8Array(0);
    if (first.length >= n) return first.subarray(0, n);
    const b = new Uint8Array(Math.min(n, this.queued));
    let at = 0;
    for (const c of this.queue) {
      if (at >= b.length) break;
      const part = c.subarray(0, b.length - at);
      b.set(part, at);
      at += part.length;
    }
    return b;
  }

  /** Consumes exactly n bytes (n <= queued). */
  private take(n: number): Uint8Array {
    const b = this.peek(n);
    this.skip(n);
    return b;
  }

  /** Consumes up to n bytes from the first queued chunk only (never copies). */
  private takeUpTo(n: number): Uint8Array {
    const first = this.queue[0]!;
    const b = first.subarray(0, n);
    this.skip(b.length);
    return b;
  }

  private skip(n: number): void {
    this.queued -= n;
    this.offset += n;
    while (n > 0) {
      const first = this.queue[0]!;
      if (first.length <= n) {
        this.queue.shift();
        n -= first.length;
      } else {
        this.queue[0] = first.subarray(n);
        n = 0;
      }
    }
  }

  private unshift(b: Uint8Array): void {
    this.queue.unshift(b);
    this.queued += b.length;
    this.offset -= b.length;
  }
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

  /** Call when the parser reports a member end (after feeding that member's last output). */
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
