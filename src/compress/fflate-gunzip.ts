/**
 * The pure-JS gunzip codec (`codec: 'fflate'`), for a `node:zlib` stand-in without Node's native
 * inflate: fflate's streaming `Gunzip`, through its public API only, under the same strict rules as
 * the zlib codec (gunzip-checks.ts). Synchronous, with input and output bounded per `drain` call, so
 * it runs unchanged in a worker (compress-worker.ts) or on the calling thread in steps (gunzip.ts).
 *
 * fflate inflates and walks from member to member, but checks no CRC or ISIZE, reads headers loosely
 * (only their first 3 bytes are checked) and cannot say where the last member ends. Its one
 * positional signal is `onmember(offset)`: where the next header starts, 8 bytes (the trailer) after
 * the end of the previous member's deflate data. Around it:
 *  - we check the first header before fflate sees it, and each later one (from `RecentBytes`) when
 *    fflate reports it; trailers are read there too.
 *  - at the end of input, the last `TAIL` bytes and then an empty gzip member (`SENTINEL`) go in one
 *    byte at a time. A complete last member makes fflate report the sentinel exactly at the end of
 *    the input. Otherwise fflate rejects the 4th byte after where a trailer would end as a header
 *    (error 6): the deflate data ended 12 bytes before the byte pushed last (garbage after the
 *    trailer, or a cut trailer). A deflate error inside the sentinel means the deflate data was cut.
 *  - fflate rejecting data after a member inside a larger push (garbage longer than `TAIL`): the
 *    trailer is the 8 bytes in that push's range whose ISIZE is the member's output length.
 *  - fflate waiting for the end of a header that ours rejects (a name with no end...) yields no
 *    output: after `STALL` input bytes without output, or at the end, we look for a trailer followed
 *    by 1f 8b 08 and a header we reject there (`diagnose`).
 * Every damage is rejected, with the same error as the zlib codec (test/compress-codecs.test.ts),
 * except: damaged deflate data may be caught at another point (fflate checks less than zlib inside
 * deflate: incomplete Huffman tables, a stored block's NLEN - the CRC-32 and ISIZE still hold), and a
 * damaged trailer followed by more than `TAIL` bytes of garbage may be named by its other fault.
 */
import { Gunzip } from 'fflate';
import { ErrorCode } from '../errors.js';
import { ByteQueue, RecentBytes } from './byte-queue.js';
import { GunzipErrors, MAX_HEADER, startsLikeMember, type GunzipTotals, type MemberEnd } from './gunzip-checks.js';
import { crc32 } from './crc32.js';
import { CM_DEFLATE, GZIP_ID1, GZIP_ID2, TRAILER_SIZE, parseHeader, readTrailer } from './gzip-format.js';

/**
 * Input fed to fflate per call. Output per call is input x ratio, and deflate reaches ~1032:1 (runs of
 * zeros, e.g. free pages), so the piece size bounds memory: 16 KiB -> at most ~16.5 MiB per call.
 * Within that cap the piece adapts to the last ratio seen to aim at ~256 KiB of output per call.
 */
const MAX_PIECE = 16 * 1024;
const MIN_PIECE = 1024;
const TARGET_PIECE_OUTPUT = 256 * 1024;
/** Input held back until the end, then pushed byte by byte (see the module comment). */
const TAIL = 64;
/** Input without output after which we check whether fflate waits on a header we reject. */
const STALL = MAX_HEADER + TAIL;
/** An empty gzip member (gzip -n of nothing). */
const SENTINEL = Uint8Array.of(GZIP_ID1, GZIP_ID2, CM_DEFLATE, 0, 0, 0, 0, 0, 0, 0xff, 0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0);
/** fflate's error code for a member that does not start with 1f 8b 08 ("invalid gzip data"). */
const FFLATE_INVALID_HEADER = 6;
/** fflate checks a header once it has 4 bytes of it, after the 8-byte trailer. */
const END_TO_HEADER_CHECK = TRAILER_SIZE + 4;

export interface DrainResult {
  out: Uint8Array[];
  /** Call `drain` again before pushing more (buffered input remains, or the end is not settled). */
  more: boolean;
  /** A member ended with the last byte of `out`. */
  memberEnd?: MemberEnd;
  /** Set once `end()` was called and the whole stream has been parsed. */
  done?: GunzipTotals;
}

/** fflate's output, or a member end: the next member starts at `next` (or `then` is what is wrong there). */
type FflateEvent = Uint8Array | { next: number; then?: Error };

export class FflateGunzipParser {
  private readonly errors: GunzipErrors;
  /** Input not yet pushed to fflate; `queue.offset` is the number of input bytes pushed. */
  private readonly queue = new ByteQueue();
  private readonly recent = new RecentBytes(STALL + 4 * MAX_PIECE);
  private inputEnded = false;
  private gunzip: Gunzip | undefined;
  /** fflate threw: it is not used again (what it means is an event or `pendingError`). */
  private failed = false;
  private readonly events: FflateEvent[] = [];
  /** Bytes pushed to fflate: input, then sentinel. */
  private fed = 0;
  private sentinelPushed = 0;
  /** Output fflate produced: in all, and for the member it is in (length, CRC-32, start of input). */
  private fflateBytes = 0;
  private fflateMemberBytes = 0;
  private fflateMemberCrc = 0;
  private fflateMemberStart = 0;
  /** Input position where fflate last produced output (or began a member). */
  private quietSince = 0;
  private pendingError: Error | undefined;
  /** Where the member after the last member end starts, to check before going on. */
  private nextToCheck: number | undefined;
  private members = 0;
  private memberBytes = 0;
  private totalBytes = 0;
  /** Output/input ratio of the last push; starts at deflate's maximum, so the first piece is small. */
  private ratio = 1032;

  constructor(name: string) {
    this.errors = new GunzipErrors(name);
  }

  push(data: Uint8Array): void {
    if (this.inputEnded) throw new Error('FflateGunzipParser: push after end');
    this.queue.push(data);
  }

  end(): void {
    this.inputEnded = true;
  }

  /** Decompresses buffered input until about `budget` output bytes are ready or input runs out. */
  drain(budget: number): DrainResult {
    const out: Uint8Array[] = [];
    let outBytes = 0;
    const result = (more: boolean, end?: { memberEnd?: MemberEnd; done?: GunzipTotals }): DrainResult => ({ out, more, ...end });
    for (;;) {
      if (this.nextToCheck !== undefined) {
        const problem = this.problemAt(this.nextToCheck, this.members);
        this.nextToCheck = undefined;
        if (problem) throw problem;
      }
      for (let ev = this.events[0]; ev !== undefined; ev = this.events[0]) {
        if (ev instanceof Uint8Array) {
          if (outBytes >= budget) return result(true);
          this.events.shift();
          out.push(ev);
          outBytes += ev.length;
          this.memberBytes += ev.length;
          continue;
        }
        this.events.shift();
        const memberEnd = this.endMember(ev.next);
        if (ev.then) this.pendingError = ev.then;
        else if (this.sentinelPushed > 0 && ev.next === this.queue.offset) {
          return result(false, { memberEnd, done: { members: this.members, bytesOut: this.totalBytes } });
        } else this.nextToCheck = ev.next;
        return result(true, { memberEnd });
      }
      if (this.pendingError) throw this.pendingError;
      if (outBytes >= budget) return result(true);

      if (!this.gunzip) {
        if (!this.errors.header(this.queue.peek(Math.min(this.queue.length, MAX_HEADER)), this.inputEnded, 0, 0)) return result(false);
        this.gunzip = new Gunzip((data) => {
          if (data.length === 0) return;
          this.events.push(data);
          this.fflateBytes += data.length;
          this.fflateMemberBytes += data.length;
          this.fflateMemberCrc = crc32(data, this.fflateMemberCrc);
        });
        this.gunzip.onmember = (offset) => {
          this.events.push({ next: offset });
          this.fflateMemberBytes = 0;
          this.fflateMemberCrc = 0;
          this.fflateMemberStart = offset;
          this.quietSince = offset;
        };
      }
      if (this.queue.length > TAIL) {
        const want = Math.max(MIN_PIECE, Math.min(MAX_PIECE, Math.floor(TARGET_PIECE_OUTPUT / this.ratio)));
        this.pushReal(this.queue.takeUpTo(Math.min(want, this.queue.length - TAIL)), false);
      } else if (!this.inputEnded) {
        // The held-back tail waits for the next call: it must not keep its whole input chunk alive.
        this.queue.compact();
        return result(false);
      } else if (this.queue.length > 0) {
        this.pushReal(this.queue.take(1), true);
      } else if (this.sentinelPushed < SENTINEL.length) {
        this.pushFflate(SENTINEL.subarray(this.sentinelPushed, ++this.sentinelPushed), true);
      } else {
        this.diagnose(true);
      }
    }
  }

  private pushReal(piece: Uint8Array, exact: boolean): void {
    this.recent.add(piece);
    const before = this.fflateBytes;
    this.pushFflate(piece, exact);
    const produced = this.fflateBytes - before;
    if (produced > 0) {
      this.ratio = Math.max(1, produced / piece.length);
      this.quietSince = Math.max(this.quietSince, this.fed - piece.length);
    } else if (!this.failed && this.fed - this.quietSince > STALL) {
      this.diagnose(false);
    }
  }

  /** Pushes to fflate; `exact`: a single byte, so an error 6 tells exactly where the deflate data ended. */
  private pushFflate(piece: Uint8Array, exact: boolean): void {
    if (this.failed) throw new Error('FflateGunzipParser: push after an fflate error'); // cannot happen: it is thrown first
    const before = this.fed;
    this.fed += piece.length;
    try {
      this.gunzip!.push(piece);
    } catch (e) {
      this.failed = true;
      const code = (e as { code?: unknown }).code;
      if (typeof code !== 'number') throw e;
      const total = this.inputEnded ? this.queue.offset + this.queue.length : Infinity;
      if (code !== FFLATE_INVALID_HEADER) {
        // A deflate error: in the sentinel's bytes it only means that the real data stopped short.
        this.pendingError =
          this.sentinelPushed > 0 ? this.errors.truncated('inside the compressed data', this.membersDone(), total) : this.errors.corrupt(this.membersDone() + 1, before, e);
        return;
      }
      const deflateEnd = exact ? this.fed - END_TO_HEADER_CHECK : this.findTrailer(before, this.fed);
      if (deflateEnd === undefined) {
        this.pendingError = this.errors.error(
          ErrorCode.GZIP_SIZE,
          `length mismatch in member ${this.membersDone() + 1}: no trailer after its compressed data holds its length (${this.fflateMemberBytes} bytes), and what follows is not a gzip member`,
        );
      } else if (deflateEnd + TRAILER_SIZE <= total) {
        const next = deflateEnd + TRAILER_SIZE;
        const then = this.problemAt(next, this.membersDone() + 1) ?? this.errors.error(ErrorCode.GZIP_CORRUPT, `invalid gzip header at byte ${next}`);
        this.events.push({ next, then });
      } else {
        this.pendingError = this.errors.truncated(deflateEnd <= total ? 'inside the 8-byte trailer' : 'inside the compressed data', this.membersDone(), total);
      }
    }
  }

  /** Members fflate has finished: those delivered plus member ends still queued as events. */
  private membersDone(): number {
    return this.members + this.events.filter((e) => !(e instanceof Uint8Array)).length;
  }

  /**
   * fflate rejected what follows a member somewhere in the push [from, to): its deflate data ended
   * in (from - 12, to - 12], after the member's header. The trailer is the first 8 bytes there that
   * hold the member's CRC-32 and length (or, if the member is damaged too, just its length).
   */
  private findTrailer(from: number, to: number): number | undefined {
    const lo = Math.max(this.bodyStart(), from - END_TO_HEADER_CHECK + 1);
    const bytes = this.recent.read(lo, to);
    let sizeOnly: number | undefined;
    for (let i = 0; i + END_TO_HEADER_CHECK <= bytes.length; i++) {
      if (isHeaderStart(bytes, i + TRAILER_SIZE)) continue;
      const match = this.trailerMatch(bytes.subarray(i, i + TRAILER_SIZE));
      if (match === 'both') return lo + i;
      if (match === 'size') sizeOnly ??= lo + i;
    }
    return sizeOnly;
  }

  /** Does `t`, as a trailer, hold the CRC-32 and length of what fflate produced for its member? */
  private trailerMatch(t: Uint8Array): 'both' | 'size' | undefined {
    const { crc, size } = readTrailer(t);
    if (size !== this.fflateMemberBytes % 0x1_0000_0000) return undefined;
    return crc === this.fflateMemberCrc ? 'both' : 'size';
  }

  /** Where the deflate data of the member fflate is in starts (after a 2-byte minimum deflate block). */
  private bodyStart(): number {
    const at = this.fflateMemberStart;
    try {
      return at + (parseHeader(this.recent.read(at, at + MAX_HEADER))?.length ?? 0) + 2;
    } catch {
      return at;
    }
  }

  /**
   * No output for a while, or none of the above at the end of input: is fflate waiting for the end
   * of a header we would reject? Looks for a trailer (the member's CRC-32 and length; its length; any
   * 8 bytes, as a last resort) followed by 1f 8b 08 and a header we reject. At the end, finding none
   * means the deflate data was cut.
   */
  private diagnose(atEnd: boolean): void {
    const realEnd = this.queue.offset;
    const lo = Math.max(this.quietSince, this.bodyStart(), realEnd - STALL - MAX_PIECE);
    const bytes = this.recent.read(lo, realEnd);
    let found: { next: number; then: Error; match: 'both' | 'size' | undefined } | undefined;
    for (let i = 0; i + TRAILER_SIZE + 3 <= bytes.length && found?.match !== 'both'; i++) {
      if (!isHeaderStart(bytes, i + TRAILER_SIZE)) continue;
      const next = lo + i + TRAILER_SIZE;
      const then = this.problemAt(next, this.membersDone() + 1);
      if (!then) continue;
      const match = this.trailerMatch(bytes.subarray(i, i + TRAILER_SIZE));
      if (!found || (match === 'both') || (match === 'size' && found.match === undefined)) found = { next, then, match };
    }
    if (found) {
      this.failed = true;
      this.events.push({ next: found.next, then: found.then });
    } else if (atEnd) {
      this.pendingError = this.errors.truncated('inside the compressed data', this.membersDone(), realEnd);
    }
  }

  /** The member fflate finished before `next` (where the next one starts): its trailer is just before. */
  private endMember(next: number): MemberEnd {
    if (this.inputEnded && next > this.queue.offset) {
      // Found inside the sentinel: cannot happen (it holds one header, at its start), but never accept it.
      throw this.errors.truncated('inside the compressed data', this.members, this.queue.offset);
    }
    const end = this.errors.trailer(this.recent.read(next - TRAILER_SIZE, next), this.members + 1, this.memberBytes);
    this.members++;
    this.totalBytes += this.memberBytes;
    this.memberBytes = 0;
    return end;
  }

  /**
   * What is wrong with the input at `at`, after `members` members, as the start of another member:
   * trailing data, a header we reject, or the end inside a header. Undefined for a valid header (or
   * one that needs more input) and for the end of input.
   */
  private problemAt(at: number, members: number): Error | undefined {
    const pushed = this.recent.read(at, at + MAX_HEADER);
    const bytes = new Uint8Array(Math.min(MAX_HEADER, pushed.length + this.queue.length));
    bytes.set(pushed);
    bytes.set(this.queue.peek(bytes.length - pushed.length), pushed.length);
    const all = this.inputEnded && at + bytes.length === this.queue.offset + this.queue.length;
    if (bytes.length === 0) return undefined;
    if (!startsLikeMember(bytes.subarray(0, 2))) return this.errors.trailing(members, at);
    try {
      this.errors.header(bytes, all, members, at);
      return undefined;
    } catch (e) {
      return e as Error;
    }
  }
}

/** `b` holds 1f 8b 08 (what fflate checks of a header) at `at`. */
function isHeaderStart(b: Uint8Array, at: number): boolean {
  return b[at] === GZIP_ID1 && b[at + 1] === GZIP_ID2 && b[at + 2] === CM_DEFLATE;
}
