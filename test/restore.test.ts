/**
 * restore() judged by the native sqlite3 CLI: `.dump` of the restored database equals the source's,
 * the previous database and its uncheckpointed -wal survive (moved aside, readable), a stale -wal is
 * never merged into the restored file, and a bad backup leaves the target directory as it was.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { restore } from '../src/api/restore.js';
import { sha256File, writeSidecar } from '../src/format/sidecar.js';
import { gzipFile } from '../src/compress/index.js';
import { WasmEngine } from '../src/engine/index.js';
import { ErrorCode, isBackupError } from '../src/errors.js';
import { copyDatabase, createWalWithUncheckpointedFrames, createWithCli, fingerprint, nativeDump, corruptBtreePage } from './helpers/databases.js';
import { runBytes } from './helpers/gzip.js';
import { requirePeer, sqlite3 } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

function peers(t: TestContext): boolean {
  return requirePeer(t, 'sqlite3') && requirePeer(t, 'python3') && requirePeer(t, 'gzip');
}

/** Name -> sha256 of every file in a directory: "exactly what it held before". */
async function snapshotDir(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) out[name] = await sha256File(join(dir, name));
  return out;
}

describe('restore', () => {
  const root = tempDir();
  const scratch = join(root, 'scratch');
  mkdirSync(scratch);
  const source = join(root, 'source.db');
  const backup = join(root, 'source.db.gz');
  let sourceDump = '';
  let engine: WasmEngine;
  let n = 0;
  /** A fresh, empty target directory. */
  const fresh = (): string => {
    const d = join(root, `t${++n}`);
    mkdirSync(d, { mode: 0o700 });
    return d;
  };

  before(async () => {
    engine = new WasmEngine();
    createWithCli(source, { rows: 300 });
    sourceDump = nativeDump(source, scratch);
    const s = await gzipFile(source, backup);
    await writeSidecar(backup, s.compressedSha256);
  });
  after(() => engine.close());

  test('round trip from gzip: .dump of the restored db equals the source; 0600; nothing else left', async (t) => {
    if (!peers(t)) return;
    const dir = fresh();
    const target = join(dir, 'app.db');
    const r = await restore(backup, target, { engine });
    assert.deepEqual(r, { target, backup, chosenBy: undefined, bytes: statSync(source).size, checksum: 'ok', encrypted: false, movedAside: [], removed: [], warnings: [] });
    assert.equal(nativeDump(target, scratch), sourceDump);
    assert.equal(statSync(target).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ['app.db']);
  });

  test('a plain .db (no sidecar), without an engine given', async (t) => {
    if (!peers(t)) return;
    const dir = fresh();
    const target = join(dir, 'app.db');
    const r = await restore(source, target);
    assert.equal(r.checksum, 'absent');
    assert.equal(nativeDump(target, scratch), sourceDump);
    assert.deepEqual(readdirSync(dir), ['app.db']);
  });

  test('an existing target without force: EDEST_EXISTS suggesting --force, target byte-identical', async (t) => {
    if (!peers(t)) return;
    const dir = fresh();
    const target = join(dir, 'app.db');
    createWalWithUncheckpointedFrames(target, 50);
    const before = await snapshotDir(dir);
    await assert.rejects(restore(backup, target, { engine }), (e: unknown) => {
      assert.ok(isBackupError(e, ErrorCode.DEST_EXISTS));
      assert.equal(e.path, target);
      assert.ok(e.message.includes(target) && e.message.includes('--force'), e.message);
      return true;
    });
    assert.deepEqual(await snapshotDir(dir), before);
  });

  test('force: the old db and its uncheckpointed -wal are moved aside together and still readable', async (t) => {
    if (!peers(t)) return;
    const dir = fresh();
    const target = join(dir, 'app.db');
    createWalWithUncheckpointedFrames(target, 60);
    assert.ok(existsSync(`${target}-wal`) && existsSync(`${target}-shm`));
    writeFileSync(`${target}-journal`, 'an old journal'); // must be kept too, never destroyed
    const old = fingerprint(target);
    const r = await restore(backup, target, { engine, force: true });

    assert.equal(r.movedAside.length, 3);
    const aside = r.movedAside[0]!;
    assert.match(basename(aside), /^app\.db\.before-restore-\d{8}T\d{6}\.\d{3}Z$/);
    assert.deepEqual(r.movedAside, [aside, `${aside}-wal`, `${aside}-journal`]);
    assert.deepEqual(r.removed, [`${target}-shm`]);
    // Moved, not rewritten: byte for byte the previous files.
    assert.equal(await sha256File(aside), old.db!.sha256);
    assert.equal(await sha256File(`${aside}-wal`), old['-wal']!.sha256);
    assert.equal(readFileSync(`${aside}-journal`, 'utf8'), 'an old journal');
    // The native CLI opens the moved-aside pair and sees the commit that lived only in the -wal.
    const copy = copyDatabase(aside, scratch, 'aside-copy.db');
    assert.equal(sqlite3(copy, "SELECT count(*) FROM audit WHERE at = 'only-in-wal';").stdout.trim(), '1');
    assert.equal(sqlite3(copy, 'SELECT count(*) FROM users;').stdout.trim(), '60');

    assert.equal(nativeDump(target, scratch), sourceDump);
    assert.deepEqual(readdirSync(dir).sort(), ['app.db', basename(aside), `${basename(aside)}-journal`, `${basename(aside)}-wal`].sort());
  });

  test('a stale -wal of another database next to a missing target is moved aside, not merged', async (t) => {
    if (!peers(t)) return;
    const other = join(fresh(), 'other.db');
    createWalWithUncheckpointedFrames(other, 120); // same page size as the source: its frames would apply
    const dir = fresh();
    const target = join(dir, 'app.db');
    copyFileSync(`${other}-wal`, `${target}-wal`);
    copyFileSync(`${other}-shm`, `${target}-shm`);
    const staleWal = await sha256File(`${target}-wal`);
    const r = await restore(backup, target, { engine });
    // nativeDump copies the db with any -wal/-shm next to it: a surviving stale -wal would be replayed.
    assert.equal(nativeDump(target, scratch), sourceDump);
    assert.equal(r.movedAside.length, 1);
    assert.match(basename(r.movedAside[0]!), /^app\.db\.before-restore-.*Z-wal$/);
    assert.equal(await sha256File(r.movedAside[0]!), staleWal);
    assert.deepEqual(r.removed, [`${target}-shm`]);
    assert.deepEqual(readdirSync(dir).sort(), ['app.db', basename(r.movedAside[0]!)].sort());
  });

  test('a checksum mismatch: ECHECKSUM, the target directory unchanged', async (t) => {
    if (!peers(t)) return;
    const bad = join(fresh(), 'bad.db.gz');
    copyFileSync(backup, bad);
    await writeSidecar(bad, '0'.repeat(64));
    const dir = fresh();
    const target = join(dir, 'app.db');
    createWalWithUncheckpointedFrames(target, 40);
    const before = await snapshotDir(dir);
    await assert.rejects(restore(bad, target, { engine, force: true }), (e: unknown) => isBackupError(e, ErrorCode.CHECKSUM));
    assert.deepEqual(await snapshotDir(dir), before);
  });

  test('a corrupt database inside a valid gzip: EINTEGRITY with the messages, the target untouched', async (t) => {
    if (!peers(t)) return;
    const work = fresh();
    const corrupt = join(work, 'corrupt.db');
    copyFileSync(source, corrupt);
    corruptBtreePage(corrupt, 'notes_owner');
    const gz = join(work, 'corrupt.db.gz');
    writeFileSync(gz, runBytes('gzip', ['-c', corrupt]));
    const dir = fresh();
    const target = join(dir, 'app.db');
    createWalWithUncheckpointedFrames(target, 40);
    const before = await snapshotDir(dir);
    await assert.rejects(restore(gz, target, { engine, force: true }), (e: unknown) => {
      assert.ok(isBackupError(e, ErrorCode.INTEGRITY));
      assert.match(e.message, /integrity_check: [\s\S]*(tree page|never used|missing from index)/);
      return true;
    });
    assert.deepEqual(await snapshotDir(dir), before);
    // Into an empty directory: nothing at all is left.
    const empty = fresh();
    await assert.rejects(restore(gz, join(empty, 'app.db'), { engine }), (e: unknown) => isBackupError(e, ErrorCode.INTEGRITY));
    assert.deepEqual(readdirSync(empty), []);
  });

  test('a truncated gzip, a file that is no backup, a missing backup, a missing directory', async (t) => {
    if (!peers(t)) return;
    const work = fresh();
    const truncated = join(work, 'truncated.db.gz');
    copyFileSync(backup, truncated);
    truncateSync(truncated, statSync(truncated).size - 200);
    const dir = fresh();
    await assert.rejects(restore(truncated, join(dir, 'app.db'), { engine }), (e: unknown) => isBackupError(e, ErrorCode.GZIP_TRUNCATED));
    const text = join(work, 'notes.txt');
    writeFileSync(text, 'hello');
    await assert.rejects(restore(text, join(dir, 'app.db'), { engine }), (e: unknown) => isBackupError(e, ErrorCode.NOT_A_DATABASE));
    await assert.rejects(restore(join(work, 'missing.gz'), join(dir, 'app.db'), { engine }), (e: unknown) =>
      isBackupError(e, ErrorCode.BACKUP_NOT_FOUND),
    );
    assert.deepEqual(readdirSync(dir), []);
    await assert.rejects(restore(backup, join(dir, 'no', 'app.db'), { engine }), (e: unknown) => isBackupError(e, ErrorCode.DEST_DIR));
  });

  test('an abort at any stage (copy, gunzip, integrity check, moves): nothing left, or a complete restore', async (t) => {
    if (!peers(t)) return;
    const outcomes: string[] = [];
    for (const from of [source, backup]) {
      for (const delay of [0, 2, 4, 6, 10, 20, 40]) {
        const dir = fresh();
        const target = join(dir, 'app.db');
        const ac = new AbortController();
        const p = restore(from, target, { engine, signal: ac.signal });
        setTimeout(() => ac.abort(), delay);
        const outcome = await p.then(
          () => 'done',
          (e: unknown) => {
            if (!isBackupError(e, ErrorCode.ABORTED)) throw e;
            return 'aborted';
          },
        );
        outcomes.push(outcome);
        if (outcome === 'done') {
          assert.equal(nativeDump(target, scratch), sourceDump);
          assert.deepEqual(readdirSync(dir), ['app.db']);
        } else {
          assert.deepEqual(readdirSync(dir), [], `abort after ${delay} ms left files`);
        }
      }
    }
    assert.ok(outcomes.includes('aborted'), outcomes.join());
  });
});
