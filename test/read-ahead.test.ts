/**
 * readAhead: every item in order, the producer kept at most `depth` items ahead of the consumer
 * (and actually ahead: that is the point), errors passed on, an early stop closes the source.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readAhead } from '../src/read-ahead.js';

/** A source of 0..n-1 that records how far it got and whether it was closed. */
function counting(n: number, failAt?: number): { source: AsyncGenerator<number>; produced: () => number; closed: () => boolean } {
  let produced = 0;
  let closed = false;
  async function* gen(): AsyncGenerator<number> {
    try {
      for (let i = 0; i < n; i++) {
        await new Promise((r) => setImmediate(r));
        if (i === failAt) throw new Error(`failed at ${i}`);
        produced = i + 1;
        yield i;
      }
    } finally {
      closed = true;
    }
  }
  return { source: gen(), produced: () => produced, closed: () => closed };
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

describe('readAhead', () => {
  it('yields every item in order', async () => {
    const { source } = counting(50);
    const got: number[] = [];
    for await (const x of readAhead(source, 3)) got.push(x);
    assert.deepEqual(got, [...Array(50).keys()]);
  });

  it('produces ahead of the consumer, never more than depth items', async () => {
    const { source, produced } = counting(50);
    const it = readAhead(source, 3)[Symbol.asyncIterator]();
    for (let consumed = 1; consumed <= 10; consumed++) {
      assert.equal((await it.next()).value, consumed - 1);
      await settle(); // the consumer is slow: the producer gets ahead meanwhile
      // The item just handed on, plus the ones requested after it.
      assert.equal(produced(), Math.min(50, consumed + 3), `after ${consumed} consumed`);
    }
    await it.return?.(undefined);
  });

  it("passes the source's error on, in its place", async () => {
    const { source } = counting(20, 7);
    const got: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const x of readAhead(source, 4)) got.push(x);
      })(),
      /failed at 7/,
    );
    assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6]);
  });

  it('closes the source when the consumer stops early', async () => {
    const { source, produced, closed } = counting(1000);
    for await (const x of readAhead(source, 2)) if (x === 4) break;
    assert.equal(closed(), true);
    assert.ok(produced() <= 7, `produced ${produced()} items for 5 consumed`);
  });

  it('refuses a depth below 1', async () => {
    await assert.rejects(readAhead(counting(1).source, 0).next(), RangeError);
  });
});
