/**
 * Bad input and interruptions: every corruption kind gets its own typed error naming the file, the
 * partial output is removed (no final file, no temp file), and aborts leave nothing behind.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import zlib from 'node:zlib';
import { gunzipSync as fflateGunzipSync } from 'fflate';
import { isBackupError, type BackupError, type ErrorCodeValue } from '../src/errors.js';
import { CHUNK_SIZE, CompressPool, gunzipFile, gunzipStream, gzipFile, gzipStream } from '../src/compress/index.js';
import { collect, gzipMember, listDir, makeData } from './helpers/gzip.js';
import { requirePeer, run } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';
import { withTmpfs } from './helpers/mounts.js';

const pool = new CompressPool({ size: 2 });
after(() => pool.close());
const root = tempDir();
const data = Buffer.concat([makeData('text', 2 * CHUNK_SIZE, 41), makeData('random', 200_000, 42)]);
let good: Buffer;
let n = 0;

async function goodGz(): Promise<Buffer> {
  if (!good) {
    const dir = join(root, 'good');
    mkdirSync(dir);
    writeFileSync(join(dir, 'data'), data);
    await gzipFile(join(dir, 'data'), join(dir, 'data.gz'), { pool });
    good = readFileSync(join(dir, 'data.gz'));
  }
  return good;
}

function modified(b: Buffer, f: (c: Buffer) => void): Buffer {
  const c = Buffer.from(b);
  f(c);
  return c;
}

/**
 * gunzipFile and gunzipStream both fail with one of `codes`; the error names the file; the directory
 * holds nothing but the input afterwards. The same with the fflate codec, in a worker and on the
 * calling thread: same code, same message (but for the byte offset of a deflate error). Returns the
 * file error of the default codec.
 */
async function expectFailure(gz: Uint8Array, codes: ErrorCodeValue[], label: string): Promise<BackupError> {
  const dir = join(root, `case${++n}`);
  mkdirSync(dir);
  const src = join(dir, 'in.gz');
  writeFileSync(src, gz);
  let fileError: BackupError | undefined;
  await assert.rejects(gunzipFile(src, join(dir, 'out'), { pool }), (e: unknown) => {
    assert.ok(isBackupError(e), `${label}: typed error, got ${String(e)}`);
    assert.ok(codes.includes(e.code), `${label}: code ${e.code} not in ${codes.join('/')}: ${e.message}`);
    assert.ok(e.message.startsWith(`${JSON.stringify(src)}: `), `${label}: message names the file: ${e.message}`);
    fileError = e;
    return true;
  });
  assert.deepEqual(listDir(dir), ['in.gz'], `${label}: no output or temp file left`);
  const pieces = Array.from({ length: Math.ceil(gz.length / 65536) }, (_, i) => gz.subarray(i * 65536, (i + 1) * 65536));
  await assert.rejects(collect(gunzipStream(pieces, { worker: false, name: 'remote.gz' })), (e: unknown) => {
    assert.ok(isBackupError(e) && e.code === fileError!.code && e.message.includes('"remote.gz"'), `${label}: same error on the calling thread, got ${String(e)}`);
    return true;
  });
  const sameAs = (e: unknown, how: string): true => {
    assert.ok(isBackupError(e), `${label}: ${how}: typed error, got ${String(e)}`);
    if (codes.length > 1) {
      // Random damage: the two inflaters may stop at different points (zlib rejects some broken
      // Huffman tables that fflate decodes until the CRC check), so any of the expected codes.
      assert.ok(codes.includes(e.code), `${label}: ${how}: code ${e.code} not in ${codes.join('/')}: ${e.message}`);
      return true;
    }
    // The inflaters word deflate errors differently; everything else is ours and must be equal.
    const norm = (m: string) => m.replace(/"[^"]*"/, '"F"').replace(/near byte \d+: .*/, 'near byte N: ...');
    assert.equal(norm(e.message), norm(fileError!.message), `${label}: ${how}: same error as the zlib codec`);
    assert.equal(e.code, fileError!.code, `${label}: ${how}`);
    return true;
  };
  await assert.rejects(gunzipFile(src, join(dir, 'out'), { codec: 'fflate', pool }), (e: unknown) => sameAs(e, 'fflate in a worker'));
  assert.deepEqual(listDir(dir), ['in.gz'], `${label}: no output or temp file left (fflate)`);
  await assert.rejects(collect(gunzipStream(pieces, { codec: 'fflate', worker: false, name: 'remote.gz' })), (e: unknown) => sameAs(e, 'fflate on the calling thread'));
  return fileError!;
}

const ANY_BODY_ERROR: ErrorCodeValue[] = ['EGZIP_CORRUPT', 'EGZIP_CRC', 'EGZIP_SIZE', 'EGZIP_TRUNCATED', 'EGZIP_TRAILING'];

describe('corruption is detected', () => {
  test('a flipped byte anywhere in the deflate body (gzip -t agrees each file is bad)', async (t) => {
    const gz = await goodGz();
    const checkWithGzip = requirePeer(t, 'gzip');
    for (const at of [10, 11, 500, 100_000, gz.length >> 1, gz.length - 30, gz.length - 10]) {
      const bad = modified(gz, (c) => (c[at] ^= 0x10));
      await expectFailure(bad, ANY_BODY_ERROR, `flip at ${at}`);
      if (checkWithGzip) {
        const dir = tempDir();
        writeFileSync(join(dir, 'bad.gz'), bad);
        assert.notEqual(run('gzip', ['-t', join(dir, 'bad.gz')], { allowFail: true }).status, 0, `control: gzip -t rejects flip at ${at}`);
      }
    }
  });

  test('limit: a flip in the padding bits after the final block changes nothing, for gzip -t and for us', async (t) => {
    const gz = await goodGz();
    // The stream ends 03 00 <trailer>: BFINAL, fixed Huffman, end-of-block, then 6 padding bits.
    assert.deepEqual([...gz.subarray(-10, -8)], [0x03, 0x00]);
    const flipped = modified(gz, (c) => (c[c.length - 9] ^= 0x10));
    if (requirePeer(t, 'gzip')) {
      const dir = tempDir();
      writeFileSync(join(dir, 'p.gz'), flipped);
      assert.equal(run('gzip', ['-t', join(dir, 'p.gz')], { allowFail: true }).status, 0);
    }
    assert.ok((await collect(gunzipStream([flipped], { pool }))).equals(data), 'the data is intact');
  });

  test('the CRC check is what catches silent corruption: a flipped byte in a stored block is EGZIP_CRC', async () => {
    const payload = data.subarray(0, 50_000);
    const member = gzipMember(payload, { level: 0 }); // stored blocks: the body is the data itself
    const at = member.indexOf(payload.subarray(1000, 1032));
    assert.ok(at > 0);
    const bad = modified(member, (c) => (c[at] ^= 0x01));
    // Control: the deflate data still decodes, to wrong bytes of the right length; fflate's own
    // gunzipSync (which checks no CRC) returns them without complaint.
    const silently = fflateGunzipSync(bad);
    assert.equal(silently.length, payload.length);
    assert.ok(!Buffer.from(silently).equals(payload));
    const e = await expectFailure(bad, ['EGZIP_CRC'], 'stored block');
    assert.match(e.message, /CRC-32 mismatch in member 1/);
    assert.ok((await collect(gunzipStream([member], { pool }))).equals(payload), 'control: the unmodified member decompresses');
  });

  test('a flipped byte in the stored CRC-32 is EGZIP_CRC; in ISIZE it is EGZIP_SIZE', async () => {
    const gz = await goodGz();
    for (const at of [gz.length - 8, gz.length - 5]) {
      const e = await expectFailure(modified(gz, (c) => (c[at] ^= 0x80)), ['EGZIP_CRC'], `CRC byte ${at}`);
      assert.match(e.message, /stored 0x[0-9a-f]{8}, data has 0x[0-9a-f]{8}/);
    }
    for (const at of [gz.length - 4, gz.length - 1]) {
      await expectFailure(modified(gz, (c) => (c[at] ^= 0x01)), ['EGZIP_SIZE'], `ISIZE byte ${at}`);
    }
  });

  test('truncation at any offset is EGZIP_TRUNCATED, including a 0-byte file', async () => {
    const gz = await goodGz();
    for (const len of [0, 1, 2, 5, 9, 10, 11, 1000, gz.length >> 1, gz.length - 9, gz.length - 8, gz.length - 4, gz.length - 1]) {
      const e = await expectFailure(gz.subarray(0, len), ['EGZIP_TRUNCATED'], `truncated to ${len}`);
      if (len === 0) assert.match(e.message, /empty input/);
    }
  });

  test('anything after the last member is EGZIP_TRAILING, even zeros (gzip -d only warns about those)', async () => {
    const gz = await goodGz();
    for (const tail of [Buffer.from('garbage!'), Buffer.alloc(8), Buffer.from('\n'), Buffer.from('\x1f\x00')]) {
      const e = await expectFailure(Buffer.concat([gz, tail]), ['EGZIP_TRAILING'], `tail ${tail.toString('hex')}`);
      assert.match(e.message, /after the end of gzip member 1/);
    }
    // A lone 0x1f could be the start of a cut-off next member: reported as truncated.
    await expectFailure(Buffer.concat([gz, Buffer.of(0x1f)]), ['EGZIP_TRUNCATED'], 'lone 0x1f');
  });

  test('input that is not gzip is EGZIP_NOT_GZIP', async () => {
    for (const [label, bytes] of [
      ['text', Buffer.from('CREATE TABLE t(x);\n')],
      ['a zip file', Buffer.from('PK\x03\x04\x14\x00\x00\x00', 'latin1')],
      ['a zlib stream', zlib.deflateSync(data.subarray(0, 1000))],
      ['right first byte only', Buffer.from('\x1f\x8c\x08\x00', 'latin1')],
      ['a SQLite database', Buffer.from('SQLite format 3\x00', 'latin1')],
    ] as const) {
      await expectFailure(bytes, ['EGZIP_NOT_GZIP'], label);
    }
  });

  test('bad header fields: unknown method and reserved flags are EGZIP_CORRUPT, a wrong FHCRC is EGZIP_CRC', async () => {
    const member = gzipMember(data.subarray(0, 1000));
    await expectFailure(modified(member, (c) => (c[2] = 7)), ['EGZIP_CORRUPT'], 'method 7');
    await expectFailure(modified(member, (c) => (c[3] = 0x20)), ['EGZIP_CORRUPT'], 'reserved flag');
    const e = await expectFailure(gzipMember(data.subarray(0, 1000), { name: 'x', hcrc: true, badHcrc: true }), ['EGZIP_CRC'], 'FHCRC');
    assert.match(e.message, /header CRC16 mismatch/);
  });

  test('an invalid deflate block type is EGZIP_CORRUPT', async () => {
    const header = gzipMember(Buffer.alloc(0)).subarray(0, 10);
    const e = await expectFailure(Buffer.concat([header, Buffer.of(0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)]), ['EGZIP_CORRUPT'], 'BTYPE 11');
    assert.match(e.message, /invalid block type/);
  });

  test('corruption in the second of two members names member 2', async () => {
    const a = gzipMember(data.subarray(0, 10_000));
    const b = gzipMember(data.subarray(10_000, 20_000));
    const e = await expectFailure(Buffer.concat([a, modified(b, (c) => (c[c.length - 6] ^= 1))]), ['EGZIP_CRC'], 'second member');
    assert.match(e.message, /member 2/);
  });
});

describe('interruptions leave nothing behind', () => {
  test('abort during gzipFile and gunzipFile: EABORTED, no output, no temp file', async () => {
    const dir = tempDir();
    const big = makeData('text', 8 * CHUNK_SIZE, 51);
    writeFileSync(join(dir, 'src'), big);
    for (const fn of [gzipFile, gunzipFile] as const) {
      const src = fn === gzipFile ? join(dir, 'src') : join(dir, 'src.gz');
      if (fn === gunzipFile) await gzipFile(join(dir, 'src'), src, { pool });
      const before = listDir(dir);
      const ac = new AbortController();
      let calls = 0;
      await assert.rejects(
        fn(src, join(dir, 'out'), {
          pool,
          signal: ac.signal,
          onProgress: (p) => {
            calls++;
            if (p.bytesOut > CHUNK_SIZE) ac.abort(new Error('user cancelled'));
          },
        }),
        (e: unknown) => isBackupError(e, 'EABORTED') && e.message.includes(src),
      );
      assert.ok(calls > 0, 'it was running when aborted');
      assert.deepEqual(listDir(dir), before, `${fn.name}: nothing left`);
    }
  });

  test('an already-aborted signal fails before creating anything', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'src'), 'x');
    await assert.rejects(gzipFile(join(dir, 'src'), join(dir, 'out.gz'), { signal: AbortSignal.abort() }), (e: unknown) => isBackupError(e, 'EABORTED'));
    assert.deepEqual(listDir(dir), ['src']);
  });

  test('abort of the stream forms', async () => {
    const ac = new AbortController();
    async function* slow() {
      for (let i = 0; ; i++) {
        if (i === 3) ac.abort();
        yield makeData('text', 100_000, i);
      }
    }
    await assert.rejects(collect(gzipStream(slow(), { pool, signal: ac.signal })), (e: unknown) => isBackupError(e, 'EABORTED'));
    const gz = await goodGz();
    const ac2 = new AbortController();
    let got = 0;
    await assert.rejects(
      (async () => {
        for await (const c of gunzipStream([gz.subarray(0, 100_000), gz.subarray(100_000)], { pool, signal: ac2.signal })) {
          got += c.length;
          ac2.abort();
        }
      })(),
      (e: unknown) => isBackupError(e, 'EABORTED'),
    );
    assert.ok(got > 0 && got < data.length);
  });

  test('a destination directory that does not exist is EIO (ENOENT) and leaves nothing', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'src'), 'x');
    await assert.rejects(gzipFile(join(dir, 'src'), join(dir, 'missing', 'out.gz')), (e: unknown) => isBackupError(e, 'EIO') && e.errno === 'ENOENT');
    assert.deepEqual(listDir(dir), ['src']);
  });

  test('a full disk is EIO (ENOSPC) naming the output, and no partial or temp file stays', async (t) => {
    const dir = tempDir();
    const src = join(dir, 'src');
    writeFileSync(src, makeData('random', 3 * CHUNK_SIZE, 43));
    const mnt = join(dir, 'mnt');
    await withTmpfs(t, mnt, 'size=512k', async () => {
      for (const [what, fn] of [
        ['gzipFile', () => gzipFile(src, join(mnt, 'out.gz'), { pool })],
        ['gunzipFile', async () => {
          await gzipFile(src, join(dir, 'src.gz'), { pool, overwrite: true });
          return gunzipFile(join(dir, 'src.gz'), join(mnt, 'out'));
        }],
      ] as const) {
        await assert.rejects(fn(), (e: unknown) => {
          assert.ok(isBackupError(e, 'EIO'), `${what}: ${String(e)}`);
          assert.equal(e.errno, 'ENOSPC');
          assert.match(e.message, /mnt/);
          return true;
        });
        assert.deepEqual(listDir(mnt), [], `${what} must leave nothing on the full disk`);
      }
    });
  });
});
