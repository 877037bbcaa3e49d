/**
 * The VFS read-ahead cache: every read returns the file's bytes; sequential page reads are served
 * from few large reads; scattered page reads (integrity_check's index walks on a large database)
 * switch read-ahead off for a while instead of reading 16 pages for each page used.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { BlockCache } from '../src/engine/block-cache.js';
import { tempDir } from './helpers/tmp.js';

const PAGE = 4096;
const BLOCK = 64 * 1024;

describe('BlockCache (VFS read-ahead)', () => {
  const dir = tempDir();
  const file = join(dir, 'data.bin');
  const content = randomBytes(16 * 1024 * 1024);
  writeFileSync(file, content);
  const pages = content.length / PAGE;

  function withCache(fn: (cache: BlockCache, stats: { fsReads: number }) => void): void {
    const fd = openSync(file, 'r');
    try {
      const stats = { fsReads: 0 };
      fn(new BlockCache(fd, BLOCK, 8 * BLOCK, stats), stats);
    } finally {
      closeSync(fd);
    }
  }

  const readPage = (cache: BlockCache, page: number): void => {
    const target = new Uint8Array(PAGE);
    assert.equal(cache.read(target, page * PAGE), PAGE);
    assert.ok(Buffer.from(target).equals(content.subarray(page * PAGE, (page + 1) * PAGE)), `page ${page}`);
  };

  it('sequential page reads: one fs read per 64 KiB block, read-ahead stays on', () => {
    withCache((cache, stats) => {
      for (let p = 0; p < pages; p++) readPage(cache, p);
      assert.equal(stats.fsReads, content.length / BLOCK);
      assert.equal(cache.bypassPeriods, 0);
    });
  });

  it('scattered page reads: read-ahead switches itself off (about one fs read per page), and the bytes stay right', () => {
    withCache((cache, stats) => {
      let seed = 12345;
      const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % pages;
      const reads = 20_000;
      for (let i = 0; i < reads; i++) readPage(cache, next());
      assert.ok(cache.bypassPeriods > 0, 'read-ahead was switched off');
      // Without the switch every read of an uncached block reads 16 pages: ~1 fs read per page read,
      // each 16 times larger. With it, after the first judgement, reads go straight to the page.
      assert.ok(stats.fsReads <= reads * 1.05, `${stats.fsReads} fs reads for ${reads} page reads`);
      // Back to sequential: read-ahead comes back after the bypass period.
      for (let p = 0; p < pages; p++) readPage(cache, p);
    });
  });

  it('reads at the end of the file are short, and a block-sized read goes straight to the file', () => {
    withCache((cache) => {
      const tail = new Uint8Array(PAGE);
      assert.equal(cache.read(tail, content.length - 100), 100);
      const big = new Uint8Array(BLOCK);
      assert.equal(cache.read(big, PAGE), BLOCK);
      assert.ok(Buffer.from(big).equals(content.subarray(PAGE, PAGE + BLOCK)));
    });
  });
});
