/**
 * Compress layer: round trips through our own gzip and gunzip (checked against node:zlib as an
 * independent reference), stream shapes, backpressure, file outputs, CRC-32 helpers.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { isBackupError } from '../src/errors.js';
import {
  CHUNK_SIZE,
  CompressPool,
  crc32,
  crc32Combine,
  gunzipFile,
  gunzipStream,
  gzipFile,
  gzipStream,
  type GzipSummary,
  type Level,
} from '../src/compress/index.js';
import { deflateChunk } from '../src/compress/deflate-core.js';
import { crc32Js } from '../src/compress/crc32.js';
import { collect, listDir, makeData, sha256 } from './helpers/gzip.js';
import { tempDir } from './helpers/tmp.js';

const pool = new CompressPool({ size: 2 });
after(() => pool.close());

function mixed(size: number, seed = 1): Buffer {
  // Text with a random stretch in the middle: exercises stored and Huffman blocks.
  const b = makeData('text', size, seed);
  const r = makeData('random', Math.min(size >> 2, 200_000), seed + 1);
  r.copy(b, size >> 1);
  return b;
}

async function gzipBytes(data: Uint8Array, opts: Parameters<typeof gzipStream>[1] = {}): Promise<{ gz: Buffer; summary: GzipSummary }> {
  const s = gzipStream([data], { pool, ...opts });
  const gz = await collect(s);
  return { gz, summary: await s.summary };
}

describe('crc32', () => {
  test('the JS fallback and the exported crc32 match node:zlib crc32 at every length mod 8 and on large input', () => {
    for (const [name, fn] of [['crc32Js', crc32Js], ['crc32', crc32]] as const) {
      for (let n = 0; n < 40; n++) {
        const d = makeData('random', n, n + 1);
        assert.equal(fn(d), zlib.crc32(d), `${name} length ${n}`);
      }
      const big = mixed(3 * 1024 * 1024 + 5);
      assert.equal(fn(big), zlib.crc32(big), name);
      assert.equal(fn(big.subarray(1000), fn(big.subarray(0, 1000))), zlib.crc32(big), `${name} continued CRC`);
    }
  });

  test('crc32Combine(crc(A), crc(B), len(B)) equals crc(A+B)', () => {
    for (const [la, lb] of [[0, 0], [0, 5], [5, 0], [1, 1], [1000, 3], [CHUNK_SIZE, CHUNK_SIZE + 7], [3, 5 * 1024 * 1024]] as const) {
      const a = makeData('random', la, 3);
      const b = makeData('text', lb, 4);
      assert.equal(crc32Combine(zlib.crc32(a), zlib.crc32(b), lb), zlib.crc32(Buffer.concat([a, b])), `${la}+${lb}`);
    }
  });
});

describe('deflate chunks', () => {
  test('chunks cut anywhere and primed with the previous tail concatenate into one valid deflate stream', () => {
    const data = makeData('text', 300_000, 9);
    for (let cut = 1000; cut < 200_000; cut += 7919) {
      const a = data.subarray(0, cut);
      const b = data.subarray(cut);
      const first = deflateChunk(a, 6).out;
      const second = deflateChunk(b, 6, a.subarray(-32768)).out;
      // Sync-flushed: each chunk ends on a byte boundary with an empty stored block, never BFINAL.
      assert.deepEqual([...first.subarray(-4)], [0x00, 0x00, 0xff, 0xff], `cut at ${cut}`);
      const out = zlib.inflateRawSync(Buffer.concat([first, second, Buffer.of(3, 0)]));
      assert.ok(out.equals(data), `our chunks decode, cut at ${cut}`);
      // Control: without the dictionary the second chunk's back-references point at nothing.
      const unprimed = deflateChunk(b, 6).out;
      assert.ok(unprimed.length > second.length, `the dictionary pays, cut at ${cut}`);
    }
  });

  test('a chunk owns its buffer (the worker transfers it), even when tiny', () => {
    for (const data of [new Uint8Array(0), new Uint8Array(10), new Uint8Array(100_000)]) {
      const { out } = deflateChunk(data, 6);
      assert.equal(out.byteOffset, 0);
      assert.equal(out.byteLength, out.buffer.byteLength);
    }
  });
});

describe('round trips', () => {
  const sizes = [0, 1, 100, 32 * 1024, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE + 1];
  for (const kind of ['text', 'random'] as const) {
    test(`${kind} data at sizes around the 1 MiB chunk boundary`, async () => {
      for (const size of sizes) {
        const data = makeData(kind, size, size + 1);
        const { gz, summary } = await gzipBytes(data);
        assert.ok(zlib.gunzipSync(gz).equals(data), `node:zlib reads our output, size ${size}`);
        assert.deepEqual(summary, {
          uncompressedBytes: size,
          uncompressedSha256: sha256(data),
          compressedBytes: gz.length,
          compressedSha256: sha256(gz),
          crc32: zlib.crc32(data),
          members: 1,
        });
        const back = gunzipStream([gz], { pool });
        assert.ok((await collect(back)).equals(data), `round trip, size ${size}`);
        assert.deepEqual(await back.summary, summary);
      }
    });
  }

  test('empty input gives the standard 20-byte member', async () => {
    const { gz } = await gzipBytes(new Uint8Array(0));
    assert.equal(gz.length, 20);
    assert.equal(zlib.gunzipSync(gz).length, 0);
  });

  test('every level 0-9 round trips; 9 is smaller than 1, 0 stores', async () => {
    const data = mixed(600_000, 5);
    const sizes: number[] = [];
    for (let level = 0; level <= 9; level++) {
      const { gz } = await gzipBytes(data, { level: level as Level });
      assert.ok(zlib.gunzipSync(gz).equals(data), `level ${level}`);
      sizes.push(gz.length);
    }
    assert.ok(sizes[0]! > data.length, 'level 0 stores');
    assert.ok(sizes[9]! < sizes[1]!, `level 9 (${sizes[9]}) < level 1 (${sizes[1]})`);
  });

  test('output depends only on data and level: same bytes for any input split, 0/1/2 workers', async () => {
    const data = mixed(2 * CHUNK_SIZE + 12345, 7);
    const ref = (await gzipBytes(data)).gz;
    const pieces = (n: number) => Array.from({ length: Math.ceil(data.length / n) }, (_, i) => data.subarray(i * n, (i + 1) * n));
    for (const [label, stream] of [
      ['1000-byte pieces, 2 workers', gzipStream(pieces(1000), { pool })],
      ['fs-like 64 KiB pieces, inline (workers: 0)', gzipStream(pieces(65536), { workers: 0 })],
      ['one worker, own pool', gzipStream(Readable.from(pieces(CHUNK_SIZE)), { workers: 1 })],
    ] as const) {
      assert.ok((await collect(stream)).equals(ref), label);
    }
  });

  test("the caller's buffers are never transferred to a worker (still intact after gzip)", async () => {
    // Whole-ArrayBuffer chunks of exactly CHUNK_SIZE: the shape we would move without copying.
    const chunks = [0, 1, 2].map((i) => {
      const b = new Uint8Array(CHUNK_SIZE);
      b.set(makeData('text', CHUNK_SIZE, i + 20));
      return b;
    });
    const before = chunks.map((c) => sha256(c));
    const gz = await collect(gzipStream(chunks, { pool }));
    assert.deepEqual(chunks.map((c) => c.length), [CHUNK_SIZE, CHUNK_SIZE, CHUNK_SIZE]);
    assert.deepEqual(chunks.map((c) => sha256(c)), before);
    const inputs = [gz.subarray(0, 100_000), gz.subarray(100_000)].map((b) => new Uint8Array(b));
    await collect(gunzipStream(inputs, { pool }));
    assert.deepEqual(inputs.map((c) => c.length), [100_000, gz.length - 100_000], 'gunzip input intact too');
  });

  test('gunzip on the calling thread (worker: false) gives the same result as in a worker', async () => {
    const data = mixed(3 * CHUNK_SIZE, 11);
    const { gz, summary } = await gzipBytes(data);
    const pieces = Array.from({ length: Math.ceil(gz.length / 4096) }, (_, i) => gz.subarray(i * 4096, (i + 1) * 4096));
    const s = gunzipStream(pieces, { worker: false });
    assert.ok((await collect(s)).equals(data));
    assert.deepEqual(await s.summary, summary);
  });

  test('highly compressible input (~1000:1) stays bounded per step and round trips', async () => {
    const data = makeData('zeros', 40 * 1024 * 1024);
    const { gz } = await gzipBytes(data);
    assert.ok(gz.length < 100_000, `zeros compress well (${gz.length})`);
    let largest = 0;
    let total = 0;
    for await (const c of gunzipStream([gz], { pool })) {
      largest = Math.max(largest, c.length);
      total += c.length;
    }
    assert.equal(total, data.length);
    assert.ok(largest <= 4 * 1024 * 1024, `largest output chunk ${largest} bytes`);
    // Worst case: text (ratio ~3, 16 KiB pieces) then zeros: one piece expands ~1032x before adapting.
    const mixedRatio = Buffer.concat([makeData('text', 3 * 1024 * 1024), makeData('zeros', 30 * 1024 * 1024)]);
    largest = 0;
    for await (const c of gunzipStream([(await gzipBytes(mixedRatio)).gz], { worker: false })) largest = Math.max(largest, c.length);
    assert.ok(largest <= 20 * 1024 * 1024, `largest output chunk after a ratio jump: ${largest} bytes`);
  });
});

describe('streams', () => {
  test('backpressure: a slow consumer stops the reading of the source', async () => {
    let pulled = 0;
    let closed = false;
    async function* endless() {
      try {
        for (let i = 0; ; i++) {
          pulled++;
          yield makeData('text', CHUNK_SIZE, i);
        }
      } finally {
        closed = true;
      }
    }
    const s = gzipStream(endless(), { pool });
    let outputs = 0;
    for await (const _ of s) {
      if (++outputs === 4) break;
    }
    // header + 3 chunks out; at most 2 chunks per worker in flight beyond those
    assert.ok(pulled <= 3 + 2 * pool.size + 1, `pulled ${pulled} chunks`);
    assert.ok(closed, 'source closed when the consumer stopped');
    await assert.rejects(s.summary, (e: unknown) => isBackupError(e, 'EABORTED'));
  });

  test('gunzip: a consumer that stops early closes the source (worker and calling thread)', async () => {
    const { gz } = await gzipBytes(mixed(3 * CHUNK_SIZE, 23));
    for (const worker of [true, false]) {
      let closed = false;
      async function* source() {
        try {
          for (let i = 0; i < gz.length; i += 65536) yield gz.subarray(i, i + 65536);
        } finally {
          closed = true;
        }
      }
      const s = gunzipStream(source(), worker ? { pool } : { worker: false });
      for await (const _ of s) break;
      assert.ok(closed, `source closed (worker: ${worker})`);
      await assert.rejects(s.summary, (e: unknown) => isBackupError(e, 'EABORTED'));
    }
  });

  test('a stream is consumed once; a second iteration throws', async () => {
    const s = gzipStream([Buffer.from('x')], { pool });
    await collect(s);
    await assert.rejects(collect(s), /only once/);
  });

  test('works in stream.pipeline with Node streams on both sides', async () => {
    const dir = tempDir();
    const data = mixed(CHUNK_SIZE + 99, 13);
    const { pipeline } = await import('node:stream/promises');
    const { createWriteStream } = await import('node:fs');
    await pipeline(Readable.from([data]), (src: AsyncIterable<Uint8Array>) => gzipStream(src, { pool }), createWriteStream(join(dir, 'x.gz')));
    await pipeline(Readable.from([readFileSync(join(dir, 'x.gz'))]), (src: AsyncIterable<Uint8Array>) => gunzipStream(src, { pool }), createWriteStream(join(dir, 'x')));
    assert.ok(readFileSync(join(dir, 'x')).equals(data));
  });
});

describe('files', () => {
  test('gzipFile/gunzipFile: hashes equal node:crypto of the files, mode 0600, nothing else left', async () => {
    const dir = tempDir();
    const data = mixed(5 * CHUNK_SIZE + 3, 17);
    writeFileSync(join(dir, 'db'), data);
    const progress: number[] = [];
    const z = await gzipFile(join(dir, 'db'), join(dir, 'db.gz'), { pool, onProgress: (p) => progress.push(p.bytesIn) });
    const gz = readFileSync(join(dir, 'db.gz'));
    assert.equal(z.compressedSha256, sha256(gz));
    assert.equal(z.uncompressedSha256, sha256(data));
    assert.equal(z.compressedBytes, gz.length);
    assert.equal(z.uncompressedBytes, data.length);
    assert.ok(progress.length > 3 && progress.at(-1) === data.length, 'progress reaches the total');
    assert.deepEqual(progress, [...progress].sort((a, b) => a - b), 'progress never goes back');
    if (process.platform !== 'win32') assert.equal(statSync(join(dir, 'db.gz')).mode & 0o777, 0o600);

    const u = await gunzipFile(join(dir, 'db.gz'), join(dir, 'restored'));
    assert.ok(readFileSync(join(dir, 'restored')).equals(data));
    assert.deepEqual(u, z);
    if (process.platform !== 'win32') assert.equal(statSync(join(dir, 'restored')).mode & 0o777, 0o600);
    assert.deepEqual(listDir(dir), ['db', 'db.gz', 'restored']);
  });

  test('back-to-back calls that start and stop their own workers all complete (worker ref/unref race)', async () => {
    // Regression: a late reply could unref a worker being terminated, and the process exited with
    // gunzipFile's promise pending ("Promise resolution is still pending but the event loop has already resolved").
    const dir = tempDir();
    writeFileSync(join(dir, 'db'), makeData('text', 300_000, 3));
    for (let i = 0; i < 15; i++) {
      await gzipFile(join(dir, 'db'), join(dir, `db${i}.gz`), { workers: 1 });
      await gunzipFile(join(dir, `db${i}.gz`), join(dir, `db${i}`));
    }
    assert.ok(readFileSync(join(dir, 'db14')).equals(readFileSync(join(dir, 'db'))));
  });

  test('an existing destination is refused (EDEST_EXISTS) and kept, unless overwrite', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'src'), 'hello');
    writeFileSync(join(dir, 'dest.gz'), 'precious');
    await assert.rejects(gzipFile(join(dir, 'src'), join(dir, 'dest.gz'), { pool }), (e: unknown) => isBackupError(e, 'EDEST_EXISTS') && e.message.includes('dest.gz'));
    assert.equal(readFileSync(join(dir, 'dest.gz'), 'utf8'), 'precious');
    assert.deepEqual(listDir(dir), ['dest.gz', 'src']);
    await gzipFile(join(dir, 'src'), join(dir, 'dest.gz'), { pool, overwrite: true });
    assert.equal(zlib.gunzipSync(readFileSync(join(dir, 'dest.gz'))).toString(), 'hello');
  });

  test('a missing source is ESOURCE_NOT_FOUND and creates nothing', async () => {
    const dir = tempDir();
    await assert.rejects(gzipFile(join(dir, 'nope'), join(dir, 'nope.gz')), (e: unknown) => isBackupError(e, 'ESOURCE_NOT_FOUND') && e.message.includes('nope'));
    await assert.rejects(gunzipFile(join(dir, 'nope.gz'), join(dir, 'nope')), (e: unknown) => isBackupError(e, 'ESOURCE_NOT_FOUND'));
    assert.deepEqual(listDir(dir), []);
  });

  test('workerUrl override: the explicit default location works, a wrong one fails cleanly', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'src'), mixed(CHUNK_SIZE + 1));
    const url = new URL('../src/compress/compress-worker.js', import.meta.url);
    await gzipFile(join(dir, 'src'), join(dir, 'ok.gz'), { workerUrl: url });
    await assert.rejects(
      gzipFile(join(dir, 'src'), join(dir, 'bad.gz'), { workerUrl: new URL('./no-such-worker.js', import.meta.url) }),
      (e: unknown) => isBackupError(e, 'ECOMPRESS_WORKER') && e.message.includes('src'),
    );
    assert.deepEqual(listDir(dir), ['ok.gz', 'src']);
  });
});
