/**
 * The VFS's read-only guarantee, tested below the engine: SQLite itself is asked to checkpoint, write
 * and recover a hot journal through our VFS, and the source files must not change. Each scenario
 * also runs once WITHOUT protection, to show that it really would change the files: if it did not,
 * the protected run would prove nothing.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, readFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import { NodeFsVfs } from '../src/engine/node-fs-vfs.js';
import type { Sqlite3 } from '../src/engine/sqlite-types.js';
import { requirePeer, python, sqlite3 as cli } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';
import { createWalWithUncheckpointedFrames, createWithCli, fingerprint } from './helpers/databases.js';

type DB = InstanceType<Sqlite3['oo1']['DB']>;

/** Leaves a hot journal: a python writer spills uncommitted pages into the db file and dies. */
function createHotJournal(path: string): void {
  python(
    `
import sqlite3, sys, os
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute('PRAGMA cache_size=2')
con.execute('BEGIN')
con.execute("UPDATE notes SET body = 'uncommitted ' || body")
os._exit(0)
`,
    [path],
  );
}

describe('NodeFsVfs protection of source files', () => {
  const dir = tempDir();
  let sqlite3: Sqlite3;
  let vfs: NodeFsVfs;
  /** The same VFS with xCheckReservedLock reporting 0, as a naive lock-less VFS would. */
  let naiveVfs: NodeFsVfs;
  let n = 0;
  const fresh = (): string => {
    const d = join(dir, String(++n));
    mkdirSync(d);
    return d;
  };

  before(async () => {
    const quiet = (): void => {};
    (globalThis as { sqlite3ApiConfig?: object }).sqlite3ApiConfig = { warn: quiet, debug: quiet, log: quiet };
    sqlite3 = await sqlite3InitModule();
    vfs = new NodeFsVfs(sqlite3);
    naiveVfs = new NodeFsVfs(sqlite3, { name: 'naive-nodefs', reservedLockResult: 0 });
  });

  /** Opens `path` through our VFS the way a careless caller would: read-write, checkpoint on close. */
  function open(path: string, exclusive: boolean, via: NodeFsVfs = vfs): DB {
    const db = new sqlite3.oo1.DB({ filename: path, flags: 'w', vfs: via.name });
    if (exclusive) db.exec('PRAGMA locking_mode=EXCLUSIVE');
    return db;
  }

  function tryExec(db: DB, sql: string): string {
    try {
      db.exec(sql);
      return 'ok';
    } catch (e) {
      return (e as Error).message;
    }
  }

  for (const protect of [true, false]) {
    it(`WAL source with frames: reads see the -wal; writes, checkpoints and close-time checkpoint ${protect ? 'are refused' : 'change the files (control)'}`, (t) => {
      if (!requirePeer(t, 'python3')) return;
      const src = join(fresh(), 'src.db');
      createWalWithUncheckpointedFrames(src, 100);
      const before = fingerprint(src);
      const release = protect ? vfs.protect(src) : () => {};
      try {
        const db = open(src, true);
        assert.equal(db.selectValue("SELECT count(*) FROM audit WHERE at = 'only-in-wal'"), 1);
        const insert = tryExec(db, "INSERT INTO audit VALUES ('x', 'y')");
        const checkpoint = tryExec(db, 'PRAGMA wal_checkpoint(TRUNCATE)');
        db.close();
        if (protect) {
          assert.match(insert, /readonly/i);
          assert.deepEqual(fingerprint(src), before, 'db, -wal and -shm must be unchanged');
          void checkpoint;
        } else {
          assert.notDeepEqual(fingerprint(src), before, 'control: an unprotected open must change the files');
        }
      } finally {
        release();
      }
    });

    it(`hot journal left by a crashed writer is ${protect ? 'never rolled back' : 'rolled back by a VFS whose xCheckReservedLock says 0 (control)'}`, (t) => {
      if (!requirePeer(t, 'python3') || !requirePeer(t, 'sqlite3')) return;
      const src = join(fresh(), 'src.db');
      createWithCli(src, { rows: 300 });
      createHotJournal(src);
      assert.ok(existsSync(`${src}-journal`) && statSync(`${src}-journal`).size > 0, 'fixture: hot journal');
      const before = fingerprint(src);
      const via = protect ? vfs : naiveVfs;
      const release = protect ? vfs.protect(src) : () => {};
      try {
        const db = open(src, false, via);
        // Reading makes SQLite look for a hot journal; with protection it must see a "live writer".
        let read = 'ok';
        try {
          db.selectValue('SELECT count(*) FROM notes');
        } catch (e) {
          read = (e as Error).message;
        }
        db.close();
        if (protect) {
          assert.deepEqual(fingerprint(src), before, 'db and journal must be unchanged');
          void read;
        } else {
          assert.notDeepEqual(fingerprint(src), before, 'control: SQLite recovers the journal when unprotected');
        }
      } finally {
        release();
      }
    });
  }

  it('a missing -wal of a WAL source is not created, and nothing else appears', (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const d = fresh();
    const src = join(d, 'src.db');
    createWithCli(src, { journalMode: 'wal', rows: 20 });
    const release = vfs.protect(src);
    try {
      const db = open(src, true);
      assert.ok(Number(db.selectValue('SELECT count(*) FROM users')) > 0);
      db.close();
    } finally {
      release();
    }
    assert.equal(existsSync(`${src}-wal`), false);
    assert.equal(existsSync(`${src}-shm`), false);
  });

  it('short reads are zero-filled and reported: a database cut mid-page reads as corrupt, not as garbage', (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const src = join(fresh(), 'src.db');
    createWithCli(src, { rows: 300 });
    const bytes = readFileSync(src);
    writeFileSync(src, bytes.subarray(0, bytes.length - 1500));
    const release = vfs.protect(src);
    try {
      const db = open(src, false);
      const rows = db.exec({ sql: 'PRAGMA integrity_check', returnValue: 'resultRows', rowMode: 'array' });
      db.close();
      assert.notDeepEqual(rows, [['ok']]);
    } finally {
      release();
    }
    // And the native CLI agrees the file is damaged.
    const r = cli(src, 'PRAGMA integrity_check;', { allowFail: true });
    assert.notEqual(r.stdout.trim(), 'ok');
  });

  it('fs errors keep errno and path for the caller (xGetLastError / takeLastError)', () => {
    const missingDir = join(fresh(), 'no', 'such', 'dir', 'x.db');
    assert.throws(() => new sqlite3.oo1.DB({ filename: missingDir, flags: 'c', vfs: vfs.name }));
    const err = vfs.takeLastError();
    assert.ok(err, 'the VFS must remember the failure');
    assert.equal(err.errno, 'ENOENT');
    assert.equal(err.path, missingDir);
    assert.equal(err.op, 'open');
  });
});
