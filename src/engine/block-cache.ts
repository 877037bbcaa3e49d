import { readFully } from './fs-util.js';

/**
 * Read-ahead for a file that does not change while it is open (a protected source or a snapshot).
 * Reads are served from aligned blocks of `blockBytes`, kept in a small LRU. SQLite issues one
 * read per page (4 KiB by default); each read is a JS->fs crossing, and those crossings - not
 * SQLite's own work - dominate the engine's time, so turning 64 page reads into one pays.
 * Reads of a whole block or more bypass the cache.
 */
export class BlockCache {
  private readonly blocks = new Map<number, { data: Buffer; length: number }>();
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
    let copied = 0;
    while (copied < target.length) {
      const pos = position + copied;
      const index = Math.floor(pos / this.blockBytes);
      const block = this.block(index);
      const within = pos - index * this.blockBytes;
      if (within >= block.length) break; // EOF
      const n = Math.min(block.length - within, target.length - copied);
      target.set(block.data.subarray(within, within + n), copied);
      copied += n;
    }
    return copied;
  }

  private block(index: number): { data: Buffer; length: number } {
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
      data = this.blocks.get(oldest)!.data;
      this.blocks.delete(oldest);
    } else {
      data = this.spare.pop() ?? Buffer.allocUnsafe(this.blockBytes);
    }
    this.stats.fsReads++;
    const length = readFully(this.fd, data, index * this.blockBytes);
    const entry = { data, length };
    this.blocks.set(index, entry);
    return entry;
  }

  private readDirect(target: Uint8Array, position: number): number {
    this.stats.fsReads++;
    return readFully(this.fd, target, position);
  }
}
