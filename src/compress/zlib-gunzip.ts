/**
 * The default gunzip codec: gzip framing parsed and checked by us (gunzip-checks.ts), each member's
 * deflate data inflated by Node's zlib on its thread pool (zlib-inflate.ts).
 *
 * Not zlib's own Gunzip: it would check CRC and ISIZE too, but it does not say where a member ends,
 * so we could not count members, and it skips zero bytes after a member (padding for it; trailing
 * garbage for us). One InflateRaw per member gives exact member boundaries.
 *
 * Measured on the 154 MB bench database (46 MB gzip -6 file), file to file, npm run bench: median
 * 0.81-1.18 s where `gzip -d` took 0.86-1.05 s in the same runs (fflate's inflate in a worker: 2.46
 * s), peak RSS ~90 MiB also for a 772 MB output. The calling thread only parses, hashes and writes:
 * event-loop delay p99 ~10 ms without a worker of ours.
 */
import { ByteQueue } from './byte-queue.js';
import { GunzipErrors, MAX_HEADER, startsLikeMember, type GunzipOutput, type GunzipTotals } from './gunzip-checks.js';
import { TRAILER_SIZE } from './gzip-format.js';
import { ZlibRawInflate } from './zlib-inflate.js';

/** Decompresses the gzip data of `input`; yields output steps, returns the totals. Closes `input`. */
export async function* zlibGunzip(input: AsyncGenerator<Uint8Array>, name: string): AsyncGenerator<GunzipOutput, GunzipTotals> {
  const errors = new GunzipErrors(name);
  const queue = new ByteQueue();
  let inputEnded = false;
  /** Reads one more chunk into the queue; false at the end of input. */
  const more = async (): Promise<boolean> => {
    if (inputEnded) return false;
    const r = await input.next();
    if (r.done) inputEnded = true;
    else queue.push(r.value);
    return !r.done;
  };
  let members = 0;
  let bytesOut = 0;
  let body: ZlibRawInflate | undefined;
  try {
    for (;;) {
      if (members > 0) {
        while (queue.length < 2 && (await more()));
        if (queue.length === 0) return { members, bytesOut };
        if (!startsLikeMember(queue.peek(2))) throw errors.trailing(members, queue.offset);
      }

      let header;
      while (!(header = errors.header(queue.peek(Math.min(queue.length, MAX_HEADER)), inputEnded, members, queue.offset))) await more();
      queue.skip(header.length);

      body = new ZlibRawInflate();
      const bodyStart = queue.offset;
      let memberBytes = 0;
      for (;;) {
        const ending = queue.length === 0 && !(await more());
        let chunk: Uint8Array | undefined;
        if (ending) body.end();
        else body.write((chunk = queue.takeUpTo(Infinity)));
        for (;;) {
          let b: Uint8Array | undefined;
          try {
            b = await body.read();
          } catch (e) {
            const code = (e as { code?: unknown }).code;
            if (code === 'Z_BUF_ERROR') throw errors.truncated('inside the compressed data', members, queue.offset + queue.length);
            if (code === 'Z_DATA_ERROR' || code === 'Z_NEED_DICT') throw errors.corrupt(members + 1, bodyStart + body.consumed, e);
            throw e;
          }
          if (b === undefined) break;
          memberBytes += b.length;
          yield { out: [b] };
        }
        if (ending) break;
        if (body.ended) {
          queue.unshift(chunk!.subarray(chunk!.length - body.unconsumed));
          break;
        }
      }
      body.destroy();
      body = undefined;

      while (queue.length < TRAILER_SIZE && (await more()));
      if (queue.length < TRAILER_SIZE) throw errors.truncated('inside the 8-byte trailer', members, queue.offset + queue.length);
      const end = errors.trailer(queue.take(TRAILER_SIZE), members + 1, memberBytes);
      members++;
      bytesOut += memberBytes;
      yield { out: [], memberEnd: end };
    }
  } finally {
    body?.destroy();
    await input.return(undefined);
  }
}
