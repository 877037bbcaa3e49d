/**
 * sha256 sidecars (checked against GNU sha256sum) and verify() on backups written by us and by other
 * tools (gzip, pigz multi-member), damaged in the ways backups get damaged. Databases come from the
 * native sqlite3 CLI; the native CLI's verdict is the reference for "corrupt".
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkSidecar, formatSidecar, readSidecar, sha256File, writeSidecar } from '../src/format/sidecar.js';
import { verify } from '../src/api/verify.js';
import { gzipFile } from '../src/compress/index.js';
import { WasmEngine } from '../src/engine/index.js';
import { ErrorCode, isBackupError } from '../src/errors.js';
import { createWithCli, nativeCheck, corruptBtreePage } from './helpers/databases.js';
import { makeData, runBytes } from './helpers/gzip.js';
import { requirePeer, run } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

describe('sha256 sidecars', () => {
  const dir = tempDir();
  const file = join(dir, 'app-20260101T000000.000Z-vacuum.db.gz');
  writeFileSync(file, makeData('random', 3 * 1024 * 1024 + 17, 5));

  test('sha256File streams and agrees with sha256sum', async (t) => {
    if (!requirePeer(t, 'sha256sum')) return;
    const expected = run('sha256sum', [file]).stdout.split(' ')[0];
    assert.equal(await sha256File(file), expected);
    await assert.rejects(sha256File(join(dir, 'nope')), (e: unknown) => isBackupError(e, ErrorCode.BACKUP_NOT_FOUND));
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(sha256File(file, { signal: ac.signal }), (e: unknown) => isBackupError(e, ErrorCode.ABORTED));
  });

  test('writeSidecar writes sha256sum format (0600) that `sha256sum -c` accepts in the directory', async (t) => {
    if (!requirePeer(t, 'sha256sum')) return;
    const hex = await sha256File(file);
    const path = await writeSidecar(file, hex);
    assert.equal(path, `${file}.sha256`);
    assert.equal(readFileSync(path, 'utf8'), `${hex}  app-20260101T000000.000Z-vacuum.db.gz\n`);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.match(run('sha256sum', ['-c', 'app-20260101T000000.000Z-vacuum.db.gz.sha256'], { cwd: dir }).stdout, /: OK/);
    assert.deepEqual(await readSidecar(file), { hex, fileName: 'app-20260101T000000.000Z-vacuum.db.gz' });
    assert.equal(await checkSidecar(file), 'ok');
    assert.equal(await checkSidecar(file, { knownHex: hex.toUpperCase() }), 'ok');
    assert.throws(() => formatSidecar('abc', 'x'), RangeError);
  });

  test('binary-mode marker (sha256sum -b), CRLF and no final newline are read', async (t) => {
    if (!requirePeer(t, 'sha256sum')) return;
    const other = join(dir, 'b.db.gz');
    copyFileSync(file, other);
    const line = run('sha256sum', ['-b', 'b.db.gz'], { cwd: dir }).stdout;
    assert.match(line, / \*b\.db\.gz\n$/);
    for (const text of [line, line.replace('\n', '\r\n'), line.trimEnd()]) {
      writeFileSync(`${other}.sha256`, text);
      assert.equal((await readSidecar(other))?.fileName, 'b.db.gz');
      assert.equal(await checkSidecar(other), 'ok');
    }
  });

  test('absent, mismatching, malformed, or naming another file', async () => {
    const f = join(dir, 'c.db.gz');
    writeFileSync(f, 'hello');
    assert.equal(await readSidecar(f), undefined);
    assert.equal(await checkSidecar(f), 'absent');
    const good = await sha256File(f);
    const bad = good.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    writeFileSync(`${f}.sha256`, formatSidecar(bad, 'c.db.gz'));
    await assert.rejects(checkSidecar(f), (e: unknown) => {
      assert.ok(isBackupError(e, ErrorCode.CHECKSUM));
      assert.ok(e.message.includes(f) && e.message.includes(good) && e.message.includes(bad), e.message);
      return true;
    });
    writeFileSync(`${f}.sha256`, formatSidecar(good, 'other.db.gz'));
    await assert.rejects(checkSidecar(f), /is for "other\.db\.gz", not for "c\.db\.gz"/);
    for (const junk of ['', 'not a checksum\n', `${good}\n`, `${good}  c.db.gz\n${good}  c.db.gz\n`, `${good.slice(1)}  c.db.gz\n`]) {
      writeFileSync(`${f}.sha256`, junk);
      await assert.rejects(readSidecar(f), (e: unknown) => {
        assert.ok(isBackupError(e, ErrorCode.CHECKSUM), String(e));
        assert.ok(e.message.includes(`${f}.sha256`));
        return true;
      });
    }
  });
});

describe('verify', () => {
  const dir = tempDir();
  const scratch = join(dir, 'scratch');
  const verifyTmp = join(dir, 'verify-tmp');
  mkdirSync(scratch);
  mkdirSync(verifyTmp);
  const db = join(dir, 'app.db');
  const corruptDb = join(dir, 'corrupt.db');
  let engine: WasmEngine;
  let n = 0;
  const fresh = (name: string): string => join(dir, `${++n}-${name}`);
  /** verify() with our engine and temp dir, asserting the temp dir is empty afterwards. */
  const check = async (path: string, opts: { mode?: 'full' | 'quick'; signal?: AbortSignal } = {}) => {
    try {
      return await verify(path, { engine, tempDir: verifyTmp, ...opts });
    } finally {
      assert.deepEqual(readdirSync(verifyTmp), [], 'verify left files in its temp dir');
    }
  };

  before(() => {
    engine = new WasmEngine();
    createWithCli(db, { rows: 400 });
    copyFileSync(db, corruptDb);
    corruptBtreePage(corruptDb, 'notes_owner');
  });
  after(() => engine.close());

  test('a good .db', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const r = await check(db);
    assert.equal(r.ok, true, r.messages.join('\n'));
    assert.deepEqual(r.messages, ['ok']);
    assert.equal(r.compressed, false);
    assert.equal(r.checksum, 'absent');
    assert.equal(r.bytes, statSync(db).size);
    assert.equal(r.pageSize, 4096);
    assert.equal(r.pageCount * r.pageSize, r.bytes);
    assert.equal((await check(db, { mode: 'quick' })).ok, true);
  });

  test('our gzip with its sidecar; GNU gzip without one; no engine given', async (t) => {
    if (!requirePeer(t, 'sqlite3') || !requirePeer(t, 'gzip')) return;
    const ours = fresh('ours.db.gz');
    const s = await gzipFile(db, ours);
    await writeSidecar(ours, s.compressedSha256);
    const r = await check(ours);
    assert.deepEqual([r.ok, r.compressed, r.checksum, r.bytes], [true, true, 'ok', statSync(db).size]);
    const theirs = fresh('gnu.gz'); // no .db.gz name: detection is by magic bytes
    writeFileSync(theirs, runBytes('gzip', ['-9', '-c', db]));
    const g = await verify(theirs, { tempDir: verifyTmp }); // creates and closes its own engine
    assert.deepEqual([g.ok, g.compressed, g.checksum], [true, true, 'absent']);
    assert.deepEqual(readdirSync(verifyTmp), []);
  });

  test('a multi-member gzip (two pigz outputs of the two halves of the db, concatenated)', async (t) => {
    if (!requirePeer(t, 'sqlite3') || !requirePeer(t, 'pigz')) return;
    const bytes = readFileSync(db);
    const half = Math.floor(bytes.length / 2) + 123; // not on a page boundary
    const a = runBytes('pigz', ['-c'], bytes.subarray(0, half));
    const b = runBytes('pigz', ['-c', '-1'], bytes.subarray(half));
    const gz = fresh('multi.db.gz');
    writeFileSync(gz, Buffer.concat([a, b]));
    const r = await check(gz);
    assert.equal(r.ok, true, r.messages.join('\n'));
    assert.equal(r.bytes, bytes.length);
  });

  test('a tampered byte: the sidecar catches it (no gunzip); without a sidecar the gzip CRC does', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const gz = fresh('tampered.db.gz');
    const s = await gzipFile(db, gz);
    await writeSidecar(gz, s.compressedSha256);
    const raw = readFileSync(gz);
    raw[raw.length - 6]! ^= 0x01; // inside the stored CRC-32: deflate data still decodes
    writeFileSync(gz, raw);
    const r = await check(gz);
    assert.deepEqual([r.ok, r.checksum, r.compressed, r.bytes], [false, 'mismatch', true, 0]);
    assert.match(r.messages[0]!, /checksum mismatch/);
    assert.ok(r.messages[0]!.includes(s.compressedSha256));

    const noSidecar = fresh('tampered-nosidecar.db.gz');
    writeFileSync(noSidecar, raw);
    const r2 = await check(noSidecar);
    assert.deepEqual([r2.ok, r2.checksum], [false, 'absent']);
    assert.match(r2.messages[0]!, /CRC/);

    const middle = fresh('tampered-middle.db.gz');
    const raw2 = readFileSync(noSidecar);
    raw2[raw2.length - 6]! ^= 0x01; // restore the CRC...
    raw2[Math.floor(raw2.length / 2)]! ^= 0x10; // ...and damage the deflate data instead
    writeFileSync(middle, raw2);
    const r3 = await check(middle);
    assert.equal(r3.ok, false);
    // A gzip failure, naming the file: the CRC or the deflate data, whichever the damage hits first.
    assert.ok(r3.messages[0]!.startsWith(`${JSON.stringify(middle)}: `), r3.messages[0]);
    assert.match(r3.messages[0]!, /CRC-32 mismatch|corrupt deflate data/);
  });

  test('truncated gzip, random bytes, a text file, an empty file', async () => {
    const gz = fresh('truncated.db.gz');
    await gzipFile(db, gz);
    truncateSync(gz, statSync(gz).size - 100);
    const r = await check(gz);
    assert.equal(r.ok, false);
    assert.match(r.messages[0]!, /truncat|end of|unexpected/i);

    const random = fresh('random.db.gz');
    writeFileSync(random, makeData('random', 50_000, 9));
    const rr = await check(random);
    assert.deepEqual([rr.ok, rr.compressed], [false, false]);
    assert.match(rr.messages[0]!, /neither a gzip file, an age file nor a SQLite database/);

    const text = fresh('notes.txt');
    writeFileSync(text, 'just some text\n');
    assert.match((await check(text)).messages[0]!, /neither a gzip file, an age file nor a SQLite database/);

    const empty = fresh('empty.db');
    writeFileSync(empty, '');
    const re = await check(empty);
    assert.equal(re.ok, false);
    assert.match(re.messages[0]!, /empty/);
  });

  test('a gzip that holds something else than a database', async () => {
    const src = fresh('text');
    writeFileSync(src, makeData('text', 20_000, 3));
    const gz = fresh('text.gz');
    await gzipFile(src, gz);
    const r = await check(gz);
    assert.equal(r.ok, false);
    assert.match(r.messages[0]!, /not a SQLite database/);
  });

  test('a missing file throws EBACKUP_NOT_FOUND naming it; so does a directory', async () => {
    const missing = join(dir, 'missing.db.gz');
    await assert.rejects(check(missing), (e: unknown) => {
      assert.ok(isBackupError(e, ErrorCode.BACKUP_NOT_FOUND));
      assert.equal(e.path, missing);
      assert.ok(e.message.includes(missing));
      return true;
    });
    await assert.rejects(check(scratch), (e: unknown) => isBackupError(e, ErrorCode.BACKUP_NOT_FOUND));
  });

  test('a corrupt b-tree page inside a valid gzip fails integrity_check (as native sqlite3 says), quick mode too', async (t) => {
    if (!requirePeer(t, 'sqlite3') || !requirePeer(t, 'gzip') || !requirePeer(t, 'python3')) return;
    assert.equal(nativeCheck(corruptDb, scratch), false, 'the native CLI sees the damage');
    const gz = fresh('corrupt.db.gz');
    writeFileSync(gz, runBytes('gzip', ['-c', corruptDb]));
    const r = await check(gz);
    assert.equal(r.ok, false);
    assert.equal(r.checksum, 'absent');
    assert.match(r.messages[0]!, /integrity_check of .* did not return ok/);
    assert.ok(r.messages.some((m) => /tree page|never used|missing from index/.test(m)), r.messages.join('\n'));
    const q = await check(gz, { mode: 'quick' });
    assert.equal(q.ok, false);
    assert.match(q.messages[0]!, /quick_check/);
    const plain = await check(corruptDb);
    assert.equal(plain.ok, false);
  });

  test('an abort throws EABORTED and leaves the temp dir empty', async () => {
    const gz = fresh('abort.db.gz');
    await gzipFile(db, gz);
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(check(gz, { signal: ac.signal }), (e: unknown) => isBackupError(e, ErrorCode.ABORTED));
    const ac2 = new AbortController();
    const p = check(gz, { signal: ac2.signal });
    setImmediate(() => ac2.abort());
    await assert.rejects(p, (e: unknown) => isBackupError(e, ErrorCode.ABORTED));
  });
});
