/**
 * Interop with real gzip implementations, both ways: GNU gzip -1..-9, pigz, python3's gzip module and
 * Go's compress/gzip write what we read, and read what we write. Headers with every optional field.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';
import { CHUNK_SIZE, CompressPool, gunzipFile, gunzipStream, gzipFile } from '../src/compress/index.js';
import { buildGoTool, collect, gzipMember, makeData, runBytes, sha256 } from './helpers/gzip.js';
import { python, requirePeer, run } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const pool = new CompressPool({ size: 2 });
after(() => pool.close());
const dir = tempDir();

// Text and random data across more than two 1 MiB chunks.
const data = Buffer.concat([makeData('text', 2 * CHUNK_SIZE, 31), makeData('random', 300_000, 32), makeData('text', 77_777, 33)]);
const dataSha = sha256(data);
writeFileSync(join(dir, 'data'), data);

let n = 0;
const fresh = (suffix: string): string => join(dir, `f${++n}${suffix}`);

async function ourGunzip(gzPath: string): Promise<{ out: Buffer; members: number }> {
  const dest = fresh('.out');
  const s = await gunzipFile(gzPath, dest, { pool });
  const out = readFileSync(dest);
  assert.equal(s.uncompressedSha256, sha256(out));
  assert.equal(s.crc32, zlib.crc32(out));
  return { out, members: s.members };
}

describe('we read what others write', () => {
  test('GNU gzip -1 .. -9 (with FNAME and mtime, as gzip stores them)', async (t) => {
    if (!requirePeer(t, 'gzip')) return;
    for (let level = 1; level <= 9; level++) {
      const gz = fresh('.gz');
      writeFileSync(gz, runBytes('gzip', [`-${level}`, '-c', join(dir, 'data')]));
      const raw = readFileSync(gz);
      assert.equal(raw[3]! & 0x08, 0x08, 'gzip wrote FNAME');
      assert.equal(sha256((await ourGunzip(gz)).out), dataSha, `gzip -${level}`);
    }
  });

  test('pigz (parallel, small blocks, independent blocks, -11 zopfli)', async (t) => {
    if (!requirePeer(t, 'pigz')) return;
    for (const args of [['-6', '-p', '2'], ['-1', '-b', '128'], ['-9', '-i', '-b', '256'], ['-11', '-b', '512']]) {
      const src = args[0] === '-11' ? join(dir, 'small') : join(dir, 'data');
      if (args[0] === '-11') writeFileSync(src, data.subarray(0, 200_000)); // zopfli is slow
      const gz = fresh('.gz');
      writeFileSync(gz, runBytes('pigz', [...args, '-c', src]));
      const out = (await ourGunzip(gz)).out;
      assert.equal(sha256(out), sha256(readFileSync(src)), `pigz ${args.join(' ')}`);
    }
  });

  test('python3 gzip module (FNAME and mtime set)', async (t) => {
    if (!requirePeer(t, 'python3')) return;
    const gz = fresh('.gz');
    python(
      `import gzip, sys\nwith open(sys.argv[1], 'rb') as f, open(sys.argv[2], 'wb') as raw:\n  with gzip.GzipFile(filename='data.db', mode='wb', fileobj=raw, compresslevel=5, mtime=1700000000) as g:\n    g.write(f.read())`,
      [join(dir, 'data'), gz],
    );
    assert.equal(readFileSync(gz)[3]! & 0x08, 0x08, 'python wrote FNAME');
    assert.equal(sha256((await ourGunzip(gz)).out), dataSha);
  });

  test('Go compress/gzip with Name, Comment and Extra', async (t) => {
    if (!requirePeer(t, 'go')) return;
    const tool = buildGoTool(tempDir('go-gzip-'));
    const gz = fresh('.gz');
    run(tool, ['gzip', join(dir, 'data'), gz, 'backup.db', 'made by go', Buffer.from('XY\x04\x00abcd', 'latin1').toString('hex')]);
    assert.equal(readFileSync(gz)[3]! & 0x1c, 0x1c, 'Go wrote FEXTRA, FNAME and FCOMMENT');
    assert.equal(sha256((await ourGunzip(gz)).out), dataSha);
  });

  test('hand-built headers: FEXTRA, FNAME, FCOMMENT, FHCRC alone and together (gzip -t agrees they are valid)', async (t) => {
    const variants = [
      { extra: Buffer.from('AB\x03\x00xyz', 'latin1') },
      { name: 'café.db' },
      { comment: 'nightly backup\nline 2' },
      { hcrc: true },
      { extra: new Uint8Array(70_000 % 65536).fill(7), name: 'n'.repeat(5000), comment: 'c', hcrc: true, mtime: 1234567890 },
    ];
    const payload = data.subarray(0, 100_000);
    for (const v of variants) {
      const gz = fresh('.gz');
      writeFileSync(gz, gzipMember(payload, v));
      if (requirePeer(t, 'gzip')) run('gzip', ['-t', gz]);
      assert.ok((await ourGunzip(gz)).out.equals(payload), JSON.stringify(Object.keys(v)));
      // Same file through the calling-thread path, one byte at a time for the header.
      const raw = readFileSync(gz);
      const pieces = [...Array.from({ length: 400 }, (_, i) => raw.subarray(i, i + 1)), raw.subarray(400)];
      assert.ok((await collect(gunzipStream(pieces, { worker: false }))).equals(payload));
    }
  });

  test('concatenated members (cat a.gz b.gz c.gz), including an empty one', async (t) => {
    if (!requirePeer(t, 'gzip') || !requirePeer(t, 'pigz')) return;
    const a = data.subarray(0, 500_000);
    const b = data.subarray(500_000, 1_500_000);
    writeFileSync(join(dir, 'a'), a);
    writeFileSync(join(dir, 'b'), b);
    writeFileSync(join(dir, 'empty'), '');
    const parts = [
      runBytes('gzip', ['-c', join(dir, 'a')]),
      runBytes('gzip', ['-c', join(dir, 'empty')]),
      runBytes('pigz', ['-c', join(dir, 'b')]),
    ];
    await gzipFile(join(dir, 'a'), join(dir, 'a.ours.gz'), { pool });
    parts.push(readFileSync(join(dir, 'a.ours.gz')));
    const gz = fresh('.gz');
    writeFileSync(gz, Buffer.concat(parts));
    const expected = Buffer.concat([a, b, a]);
    assert.ok(runBytes('gzip', ['-dc', gz]).equals(expected), 'control: gzip -d reads it');
    const { out, members } = await ourGunzip(gz);
    assert.ok(out.equals(expected));
    assert.equal(members, 4);
  });

  test('gzip of empty input (a valid 20-byte member) decompresses to nothing', async (t) => {
    if (!requirePeer(t, 'gzip')) return;
    const gz = fresh('.gz');
    writeFileSync(gz, runBytes('gzip', ['-c', '-n'], new Uint8Array(0)));
    assert.equal(readFileSync(gz).length, 20);
    const { out, members } = await ourGunzip(gz);
    assert.equal(out.length, 0);
    assert.equal(members, 1);
  });
});

describe('others read what we write', () => {
  const outputs: { label: string; gz: string; sha: string }[] = [];
  before(async () => {
    writeFileSync(join(dir, 'empty-src'), '');
    for (const [label, src, level] of [
      ['level 6, 2 workers', join(dir, 'data'), 6],
      ['level 1', join(dir, 'data'), 1],
      ['level 9', join(dir, 'data'), 9],
      ['level 0 (stored)', join(dir, 'data'), 0],
      ['empty input', join(dir, 'empty-src'), 6],
    ] as const) {
      const gz = fresh('.gz');
      await gzipFile(src, gz, { pool, level });
      outputs.push({ label, gz, sha: sha256(readFileSync(src)) });
    }
    const gz = fresh('.gz');
    await gzipFile(join(dir, 'data'), gz, { workers: 0 });
    outputs.push({ label: 'inline (workers: 0)', gz, sha: dataSha });
  });

  test('gzip -t and gzip -d', (t) => {
    if (!requirePeer(t, 'gzip')) return;
    for (const o of outputs) {
      run('gzip', ['-t', o.gz]);
      assert.equal(sha256(runBytes('gzip', ['-dc', o.gz])), o.sha, o.label);
    }
  });

  test('pigz -t and pigz -d', (t) => {
    if (!requirePeer(t, 'pigz')) return;
    for (const o of outputs) {
      run('pigz', ['-t', o.gz]);
      assert.equal(sha256(runBytes('pigz', ['-dc', o.gz])), o.sha, o.label);
    }
  });

  test('python3 gzip module', (t) => {
    if (!requirePeer(t, 'python3')) return;
    const r = python(
      `import gzip, hashlib, sys\nfor p in sys.argv[1:]:\n  print(hashlib.sha256(gzip.open(p).read()).hexdigest())`,
      outputs.map((o) => o.gz),
    );
    assert.deepEqual(r.stdout.trim().split('\n'), outputs.map((o) => o.sha));
  });

  test('Go compress/gzip', (t) => {
    if (!requirePeer(t, 'go')) return;
    const tool = buildGoTool(tempDir('go-gunzip-'));
    for (const o of outputs) {
      const [sha] = run(tool, ['gunzip', o.gz]).stdout.trim().split(' ');
      assert.equal(sha, o.sha, o.label);
    }
  });

  test('our output is one member; chunking costs at most 0.5% against one-shot zlib -6', async () => {
    const ours = readFileSync(outputs[0]!.gz);
    const zlib6 = zlib.gzipSync(data, { level: 6 }).length;
    assert.ok(ours.length <= zlib6 * 1.005, `ours ${ours.length} vs zlib -6 ${zlib6}`);
    const s = gunzipStream([ours], { pool });
    await collect(s);
    assert.equal((await s.summary).members, 1);
  });
});
