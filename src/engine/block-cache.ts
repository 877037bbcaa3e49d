import { readFully } from '../fs/sync.js';

/**
 * Read-ahead for a file that does not change while it is open (a protected source or a snapshot).
 * Reads are served from aligned blocks of `blockBytes`, kept in a small LRU. SQLite issues one
 * read per page (4 KiB by default); each read is a JS->fs crossing, and those crossings - not
 * SQLite's own work - dominate the engine's time, so turning 64 page reads into one pays.
 * Reads of a whole block or more bypass the cache.
 *
 * It only pays while reads are mostly sequential. On a large database, integrity_check's index
 * walks jump around: a 64 KiB block then serves one page before it is evicted, every page read
 * becomes 16 pages read, and the check gets slower and the process bigger. So the cache watches what
 * its evicted blocks served: when most of them served fewer than MIN_USEFUL_READS reads, it reads
 * pages directly for a while, then tries read-ahead again.
 */
/** A block that served fewer reads than this before eviction was not worth reading ahead. */
const MIN_USEFUL_READS = 4;
/** Evictions per verdict. */
const JUDGE_EVERY = 64;
/** Direct page reads before read-ahead is tried again. */
const BYPASS_READS = 8192;

export class BlockCache {
  private readonly blocks = new Map<number, { data: Buffer; length: number; reads: number }>();
  private evictions = 0;
  private wasted = 0;
  /** Reads still to do directly (read-ahead found not to pay). */
  private bypass = 0;
  /** Times read-ahead was switched off (for tests and the bench). */
  bypassPeriods = 0;
  /** Buffers of cleared blocks, reused: dropping them would leave V8 tens of MB of garbage to collect. */
  private readonly spare: Buffer[] = [];
  private readonly maxBlocks: number;

  constructor(
    private readonly fd: number,
    private readonly blockBytes: number,
    cacheBytes: number,
    private readonly stats: { fsReads: number },
  ) {
    this.maxBlocks = Math.max(2, Math.floor(cacheBytes / blockBytes));
  }

  /** Forgets every cached block (the file may have changed). */
  clear(): void {
    for (const b of this.blocks.values()) this.spare.push(b.data);
    this.blocks.clear();
  }

  /** Fills `target` from `position`; returns the number of bytes that exist there (short at EOF). */
  read(target: Uint8Array, position: number): number {
    if (target.length >= this.blockBytes) return this.readDirect(target, position);
    if (this.bypass > 0) {
      this.bypass--;
      return this.readDirect(target, position);
    }
    let copied = 0;
    while (copied < target.length) {
      const pos = position + copied;
      const index = Math.floor(pos / this.blockBytes);
      const block = this.block(index);
      block.reads++;
      const within = pos - index * this.blockBytes;
      if (within >= block.length) break; // EOF
      const n = Math.min(block.length - within, target.length - copied);
      target.set(block.data.subarray(within, within + n), copied);
      copied += n;
    }
    return copied;
  }

  private block(index: number): { data: Buffer; length: number; reads: number } {
    const hit = this.blocks.get(index);
    if (hit) {
      // Refresh its place in the LRU order.
      this.blocks.delete(index);
      this.blocks.set(index, hit);
      return hit;
    }
    let data: Buffer;
    if (this.blocks.size >= this.maxBlocks) {
      const oldest = this.blocks.keys().next().value as number;
      const evicted = this.blocks.get(oldest)!;
      data = evicted.data;
      this.blocks.delete(oldest);
      this.judge(evicted.reads);
    } else {
      data = this.spare.pop() ?? Buffer.allocUnsafe(this.blockBytes);
    }
    this.stats.fsReads++;
    const length = readFully(this.fd, data, index * this.blockBytes);
    const entry = { data, length, reads: 0 };
    this.blocks.set(index, entry);
    return entry;
  }

  /** Counts an eviction; after JUDGE_EVERY of them, switches read-ahead off if most were wasted. */
  private judge(reads: number): void {
    this.evictions++;
    if (reads < MIN_USEFUL_READS) this.wasted++;
    if (this.evictions < JUDGE_EVERY) return;
    if (this.wasted * 2 > this.evictions) {
      this.bypass = BYPASS_READS;
      this.bypassPeriods++;
      this.clear();
    }
    this.evictions = 0;
    this.wasted = 0;
  }

  private readDirect(target: Uint8Array, position: number): number {
    this.stats.fsReads++;
    return readFully(this.fd, target, position);
  }
}
