/**
 * The pure-JS gunzip codec (`codec: 'fflate'`), for runtimes without node:zlib: fflate's streaming
 * `Gunzip`, through its public API only, under the same strict rules as the zlib codec
 * (gunzip-checks.ts). Synchronous, with input and output bounded per `drain` call, so it runs
 * unchanged in a worker (compress-worker.ts) or on the calling thread in steps (gunzip.ts).
 *
 * fflate inflates and walks from member to member, but checks no CRC or ISIZE, parses headers
 * loosely and has no way to say where the last member ends. Its one positional signal is
 * `onmember(offset)`: where the next member's header starts, which is 8 bytes (the trailer) after the
 * end of the previous member's deflate data. So:
 *  - we parse the first header ourselves before fflate sees it, and each later one (from the bytes
 *    we keep, `RecentBytes`) when fflate reports it; trailers are read there too;
 *  - at the end of input, the last `TAIL` bytes and then an empty gzip member (`SENTINEL`) are pushed
 *    one byte at a time. If the last member is complete, fflate reports the sentinel at exactly the
 *    end of the input. If not, what fflate does with the sentinel's bytes tells where it stopped:
 *    it rejects the bytes 8 after a finished member as a header (error 6) once it has 4 of them, so
 *    the deflate data ended 12 bytes before the byte that made it throw (garbage after the trailer,
 *    or a cut trailer); a deflate error or no event at all means the deflate data itself was cut.
 *  - garbage more than `TAIL` bytes long after a member makes fflate throw in a larger push: the
 *    trailer is then the 8 bytes in that push's range whose ISIZE matches the member's output.
 */
import { Gunzip } from 'fflate';
import { ByteQueue, RecentBytes } from './byte-queue.js';
import { GunzipErrors, MAX_HEADER, startsLikeMember, type GunzipTotals, type MemberEnd } from './gunzip-checks.js';
import { ErrorCode } from '../errors.js';
import { TRAILER_SIZE, readTrailer } from './gzip-format.js';

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
/** An empty gzip member (gzip -n of nothing). */
const SENTINEL = Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0);
/** fflate's error code for a member that does not start with 1f 8b 08 ("invalid gzip data"). */
const FFLATE_INVALID_HEADER = 6;
/** fflate reads the bytes 8 (trailer) + 4 (what it checks of a header) after the deflate data. */
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

/** Output of fflate, or the stream offset where it found the next member (`next`, `garbage`). */
type FflateEvent = Uint8Array | { next: number; garbage?: boolean };

export class FflateGunzipParser {
  private readonly errors: GunzipErrors;
  /** Input not yet pushed to fflate; `queue.offset` is the number of input bytes pushed. */
  private readonly queue = new ByteQueue();
  private readonly recent = new RecentBytes(MAX_HEADER + MAX_PIECE + 2 * TAIL);
  private inputEnded = false;
  private gunzip: Gunzip | undefined;
  private readonly events: FflateEvent[] = [];
  /** Output of the member fflate is in (all of it reported by events, delivered or not). */
  private fflateMemberBytes = 0;
  private sentinelPushed = 0;
  /** Bytes pushed to fflate: input, then sentinel. */
  private fed = 0;
  /** fflate threw: its state is unusable (the error is thrown once the output before it is out). */
  private failed = false;
  /** Thrown once the events before it have been delivered. */
  private pendingError: Error | undefined;
  /** The start of the member after the last member end delivered, to check next. */
  private nextToCheck: { at: number; garbage: boolean } | undefined;
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
        if (this.sentinelPushed > 0 && ev.next === this.queue.offset && !ev.garbage) {
          return result(false, { memberEnd, done: { members: this.members, bytesOut: this.totalBytes } });
        }
        this.nextToCheck = { at: ev.next, garbage: ev.garbage === true };
        return result(true, { memberEnd });
      }
      if (this.pendingError) throw this.pendingError;
      if (this.nextToCheck) this.checkNextMember(this.nextToCheck);
      if (outBytes >= budget) return result(true);

      if (!this.gunzip) {
        const header = this.errors.header(this.queue.peek(Math.min(this.queue.length, MAX_HEADER)), this.inputEnded, 0, 0);
        if (!header) return result(false);
        this.gunzip = new Gunzip((data) => {
          if (data.length === 0) return;
          this.events.push(data);
          this.fflateMemberBytes += data.length;
        });
        this.gunzip.onmember = (offset) => {
          this.events.push({ next: offset });
          this.fflateMemberBytes = 0;
        };
      }
      if (this.queue.length > TAIL) {
        const want = Math.max(MIN_PIECE, Math.min(MAX_PIECE, Math.floor(TARGET_PIECE_OUTPUT / this.ratio)));
        this.pushReal(this.queue.takeUpTo(Math.min(want, this.queue.length - TAIL)), false);
      } else if (!this.inputEnded) {
        return result(false);
      } else if (this.queue.length > 0) {
        this.pushReal(this.queue.take(1), true);
      } else if (this.sentinelPushed < SENTINEL.length) {
        this.pushFflate(SENTINEL.subarray(this.sentinelPushed, ++this.sentinelPushed), true);
      } else {
        // The sentinel went into the deflate data of the last member: the input ended inside it.
        throw this.errors.truncated('inside the compressed data', this.fflateMembersDone(), this.queue.offset);
      }
    }
  }

  private pushReal(piece: Uint8Array, exact: boolean): void {
    this.recent.add(piece);
    const before = this.fflateMemberBytes;
    this.pushFflate(piece, exact);
    const produced = this.fflateMemberBytes - before;
    if (produced > 0) this.ratio = Math.max(1, produced / piece.length);
  }

  /** Pushes to fflate; `exact`: a single byte, so an error 6 tells exactly where the deflate data ended. */
  private pushFflate(piece: Uint8Array, exact: boolean): void {
    if (this.failed) throw new Error('FflateGunzipParser: push after an fflate error'); // cannot happen: the error is thrown first
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
        // A deflate error: in the sentinel's bytes it only means the real data stopped short.
        this.pendingError =
          this.sentinelPushed > 0
            ? this.errors.truncated('inside the compressed data', this.fflateMembersDone(), total)
            : this.errors.corrupt(this.fflateMembersDone() + 1, before, e);
        return;
      }
      const deflateEnd = exact ? this.fed - END_TO_HEADER_CHECK : this.findTrailer(before, this.fed);
      if (deflateEnd === undefined) {
        this.pendingError = this.errors.error(
          ErrorCode.GZIP_SIZE,
          `length mismatch in member ${this.fflateMembersDone() + 1}: no trailer after its compressed data holds its length (${this.fflateMemberBytes} bytes), and what follows is not a gzip member`,
        );
      } else if (deflateEnd + TRAILER_SIZE <= total) {
        this.events.push({ next: deflateEnd + TRAILER_SIZE, garbage: true });
      } else {
        const where = deflateEnd <= total ? 'inside the 8-byte trailer' : 'inside the compressed data';
        this.pendingError = this.errors.truncated(where, this.fflateMembersDone(), total);
      }
    }
  }

  /** Members fflate has finished: those delivered plus member ends still queued as events. */
  private fflateMembersDone(): number {
    return this.members + this.events.filter((e) => !(e instanceof Uint8Array)).length;
  }

  /**
   * fflate rejected what follows a member somewhere in the push [from, to): its deflate data ended
   * in (from - 12, to - 12]. The trailer is the first 8 bytes there whose ISIZE is the member's length.
   */
  private findTrailer(from: number, to: number): number | undefined {
    const lo = Math.max(0, from - END_TO_HEADER_CHECK + 1);
    const hi = to - END_TO_HEADER_CHECK;
    const bytes = this.recent.read(lo, hi + TRAILER_SIZE);
    const size = this.fflateMemberBytes % 0x1_0000_0000;
    for (let at = 0; at + TRAILER_SIZE <= bytes.length; at++) {
      if (readTrailer(bytes.subarray(at, at + TRAILER_SIZE)).size === size) return lo + at;
    }
    return undefined;
  }

  /** The member fflate finished before `next` (where the next one starts): its trailer is just before. */
  private endMember(next: number): MemberEnd {
    if (this.inputEnded && next > this.queue.offset) {
      // Found inside the sentinel: the deflate data ran past the end of the input.
      throw this.errors.truncated('inside the compressed data', this.members, this.queue.offset);
    }
    const end = this.errors.trailer(this.recent.read(next - TRAILER_SIZE, next), this.members + 1, this.memberBytes);
    this.members++;
    this.totalBytes += this.memberBytes;
    this.memberBytes = 0;
    return end;
  }

  /** What starts at `at` after a member must be a whole, valid member header (fflate checks only 3 bytes). */
  private checkNextMember({ at, garbage }: { at: number; garbage: boolean }): void {
    this.nextToCheck = undefined;
    const pushed = this.recent.read(at, at + MAX_HEADER);
    const bytes = new Uint8Array(Math.min(MAX_HEADER, pushed.length + this.queue.length));
    bytes.set(pushed);
    bytes.set(this.queue.peek(bytes.length - pushed.length), pushed.length);
    const all = this.inputEnded && at + bytes.length === this.queue.offset + this.queue.length;
    if (!startsLikeMember(bytes.subarray(0, 2))) throw this.errors.trailing(this.members, at);
    const header = this.errors.header(bytes, all, this.members, at);
    if (garbage || !header) {
      // fflate and we disagree about this header: cannot happen, but never accept it.
      throw this.errors.error(ErrorCode.GZIP_CORRUPT, `invalid gzip header (member ${this.members + 1} at byte ${at})`);
    }
  }
}
