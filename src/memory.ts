/**
 * releaseGarbage(): one full garbage collection, between the phases of a long operation.
 *
 * Decompressing or downloading a backup leaves tens of MiB of dead Buffers on the calling thread
 * (zlib's output chunks, read chunks). V8 frees their memory only when it collects their small
 * wrappers, and with a small JS heap that happens late: the memory was still held while the integrity
 * check ran next, in the engine's worker, so the two phases' peaks added up (verify of a 150 MB
 * database: 152-164 MB peak RSS without a collection in between, 133-137 MB with one). A full GC of a
 * heap this small takes a few milliseconds, once per operation.
 *
 * `gc` is obtained the usual way - enable --expose-gc, read `gc` from a fresh context - and the flag
 * is switched off again at once, so no other context of the process gets a `gc` global. Where the
 * flag is refused, this does nothing.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collector: ((options?: { type: 'minor' }) => void) | null | undefined;

function obtain(): ((options?: { type: 'minor' }) => void) | null {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as (options?: { type: 'minor' }) => void) : null;
  } catch {
    return null;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

export function releaseGarbage(): void {
  if (collector === undefined) collector = obtain();
  collector?.();
}

/**
 * releaseYoungGarbage(): one minor (young-generation) collection, for the calling thread of a long
 * stream that allocates a Buffer per chunk. It frees the Buffers that died young without touching
 * the old generation, so it costs well under a millisecond whatever the size of the application's
 * heap (a full collection in a library, inside someone else's process, could cost far more).
 */
export function releaseYoungGarbage(): void {
  if (collector === undefined) collector = obtain();
  collector?.({ type: 'minor' });
}

/**
 * A counter for a stream's running byte total that calls `release` (releaseGarbage or
 * releaseYoungGarbage) each time the total has grown by `every` bytes since the last call, or since
 * `from` (a resumed download's first byte).
 */
export function collectEvery(every: number, release: () => void, from = 0): (totalBytes: number) => void {
  let collectAt = from + every;
  return (totalBytes) => {
    if (totalBytes < collectAt) return;
    collectAt = totalBytes + every;
    release();
  };
}

/**
 * keepGarbageUnder(limit): for the calling thread of a stream that goes through a Buffer per chunk
 * (a download: socket reads, decrypted packets, SFTP replies, zlib's output), a check to call every
 * few hundred KiB. When the memory the thread's Buffers hold (dead or alive) is above `limitBytes`,
 * it collects the young generation, which frees the Buffers that died young for well under a
 * millisecond; when the next check finds it still above, the whole heap (Buffers whose small wrappers
 * were promoted before they died: only a full collection frees them, at ~20 ms a time). The memory a
 * minor collection frees is only counted once V8's background sweeper is through, hence the verdict
 * at the next check rather than at once. Left to itself V8 lets dead Buffers pile up to ~40 MB here,
 * and the allocator keeps that memory resident after they are freed; collecting on a fixed schedule
 * instead (a full collection every 2 MiB downloaded) cost a download a quarter of its main thread.
 */
export function keepGarbageUnder(limitBytes: number): () => void {
  let triedMinor = false;
  return () => {
    if (bufferBytes() <= limitBytes) {
      triedMinor = false;
      return;
    }
    if (triedMinor) releaseGarbage();
    else releaseYoungGarbage();
    triedMinor = !triedMinor;
  };
}

/** Memory held by the calling thread's ArrayBuffers (so its Buffers): ~15 us to read. */
function bufferBytes(): number {
  return process.memoryUsage().arrayBuffers;
}
