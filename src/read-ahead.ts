/**
 * readAhead(source, depth): the items of an async iterable, with up to `depth` of them requested
 * before the consumer asks for them.
 *
 * A decoding pipeline (read or download -> gunzip -> write) built from async generators runs one
 * stage at a time: each stage waits for its consumer to ask for the next chunk, so reading, zlib's
 * inflate on the thread pool and writing the database take turns instead of overlapping. Placed
 * between two stages, readAhead keeps the producer working on the next chunks while the consumer
 * handles this one; memory stays bounded by `depth` chunks.
 *
 * The source must accept a call to next() before the previous one settled (async generators queue
 * such calls). When the consumer stops early, the chunks already requested are still produced, then
 * the source is closed.
 */
export async function* readAhead<T>(source: AsyncIterable<T>, depth: number): AsyncGenerator<T> {
  if (!(Number.isInteger(depth) && depth >= 1)) throw new RangeError(`read-ahead depth must be an integer >= 1, got ${depth}`);
  const it = source[Symbol.asyncIterator]();
  const requested: Promise<IteratorResult<T>>[] = [];
  let ended = false;
  const request = (): void => {
    const next = it.next();
    // Awaited in order below; a rejection of one not reached yet must not go unhandled.
    next.catch(() => {});
    requested.push(next);
  };
  try {
    request();
    for (;;) {
      const r = await requested.shift()!;
      if (r.done) {
        ended = true;
        return;
      }
      // While the consumer handles this item, the source works on the next `depth`.
      while (requested.length < depth) request();
      yield r.value;
    }
  } catch (e) {
    ended = true; // the source threw: it is finished
    throw e;
  } finally {
    if (!ended) {
      await Promise.allSettled(requested);
      await it.return?.();
    }
  }
}
