/**
 * keepGarbageUnder: above its limit it collects the young generation first (cheap) and, when that
 * was not enough, the whole heap, which frees Buffers whose wrappers were promoted before they died;
 * below the limit it leaves V8 alone. (Young garbage alone proves nothing here: V8's own scavenges
 * free it too.) Fails without the full collection, with a full collection at once, or with none.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { keepGarbageUnder, releaseYoungGarbage } from '../src/memory.js';

const MiB = 1048576;
const bufferBytes = (): number => process.memoryUsage().arrayBuffers;
const held = (since: number): string => `${((bufferBytes() - since) / MiB).toFixed(1)} MiB still held`;
/** V8 counts the memory a collection freed once its background sweeper is through. */
const swept = (): Promise<void> => new Promise((r) => setTimeout(r, 100));

/** `count` dead 1 MiB Buffers (written, so their memory is really there). */
function makeGarbage(count: number): void {
  for (let i = 0; i < count; i++) Buffer.alloc(MiB, i);
}

describe('keepGarbageUnder', () => {
  it('still above the limit at the next check: Buffers promoted before they died are freed too', async () => {
    const before = bufferBytes();
    let alive: Buffer[] = [];
    for (let i = 0; i < 20; i++) alive.push(Buffer.alloc(MiB, i));
    // Alive through two young-generation collections: promoted to the old generation.
    releaseYoungGarbage();
    releaseYoungGarbage();
    alive = [];
    assert.equal(alive.length, 0);
    const check = keepGarbageUnder(before + 8 * MiB);
    check();
    await swept();
    assert.ok(bufferBytes() >= before + 16 * MiB, 'a minor collection does not free promoted Buffers');
    check();
    await swept();
    assert.ok(bufferBytes() < before + 8 * MiB, held(before));
  });

  it('below the limit: nothing is collected', async () => {
    const before = bufferBytes();
    makeGarbage(16);
    const withGarbage = bufferBytes();
    assert.ok(withGarbage >= before + 12 * MiB);
    keepGarbageUnder(withGarbage + 64 * MiB)();
    await swept();
    assert.ok(bufferBytes() >= before + 12 * MiB, 'the dead Buffers are left to V8');
  });
});
