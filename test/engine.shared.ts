/**
 * The engine contract, as one suite that every Engine implementation must pass. Databases come from
 * native writers (sqlite3 CLI, python3); every result is judged by the native sqlite3 CLI.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, statSync, truncateSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../src/engine/index.js';
import { isBackupError, type BackupError } from '../src/errors.js';
import { requirePeer, sqlite3 as cli } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';
import { withTmpfs } from './helpers/mounts.js';
import {
  copyDatabase,
  createWalWithUncheckpointedFrames,
  createWithCli,
  fingerprint,
  nativeCheck,
  nativeDump,
} from './helpers/databases.js';

export interface EngineSuiteOptions {
  name: string;
  create(): Engine;
}

type Strategy = 'vacuumInto' | 'onlineBackup';
const STRATEGIES: Strategy[] = ['vacuumInto', 'onlineBackup'];

function peers(t: TestContext): boolean {
  return requirePeer(t, 'sqlite3') && requirePeer(t, 'python3');
}

export function testEngine(opts: EngineSuiteOptions): void {
  describe(`engine contract: ${opts.name}`, () => {
    let engine: Engine;
    const dir = tempDir();
    const scratch = join(dir, 'scratch');
    mkdirSync(scratch);
    let n = 0;
    const fresh = (name: string): string => {
      const d = join(dir, `${++n}-${name}`);
      mkdirSync(d);
      return d;
    };
    before(() => {
      engine = opts.create();
    });
    after(() => engine.close());

    /** Snapshot with `strategy`, then check: native integrity ok, same dump, source untouched. */
    async function snapshotAndCompare(source: string, strategy: Strategy): Promise<void> {
      const expectedDump = nativeDump(source, scratch);
      const before = fingerprint(source);
      const dest = join(fresh('out'), 'snap.db');
      const result = await engine[strategy](source, dest);
      assert.equal(result.dest, dest);
      assert.equal(result.bytes, statSync(dest).size);
      assert.equal(statSync(dest).mode & 0o777, 0o600, 'snapshot must be 0600');
      assert.deepEqual(fingerprint(source), before, 'source files must be byte-identical and mtime-unchanged');
      assert.ok(nativeCheck(dest, scratch), 'native sqlite3 integrity_check of the snapshot');
      assert.equal(nativeDump(dest, scratch), expectedDump, '.dump of the snapshot equals the source');
      const ours = await engine.integrityCheck(dest);
      assert.deepEqual(ours.messages, ['ok']);
      assert.deepEqual(fingerprint(source), before);
    }

    for (const strategy of STRATEGIES) {
      describe(strategy, () => {
        for (const pageSize of [512, 1024, 4096, 8192, 65536]) {
          it(`page size ${pageSize}, rollback journal, written by the sqlite3 CLI`, async (t) => {
            if (!peers(t)) return;
            const src = join(fresh(`ps${pageSize}`), 'src.db');
            createWithCli(src, { pageSize, rows: 200 });
            await snapshotAndCompare(src, strategy);
          });
        }

        it('auto_vacuum=FULL and INCREMENTAL', async (t) => {
          if (!peers(t)) return;
          for (const autoVacuum of ['full', 'incremental'] as const) {
            const src = join(fresh(`av-${autoVacuum}`), 'src.db');
            createWithCli(src, { autoVacuum, rows: 300 });
            await snapshotAndCompare(src, strategy);
          }
        });

        it('WAL database whose newest commits are only in the -wal (python3 writer exited without checkpoint)', async (t) => {
          if (!peers(t)) return;
          const src = join(fresh('wal'), 'src.db');
          createWalWithUncheckpointedFrames(src, 400);
          const fp = fingerprint(src);
          assert.ok(fp['-wal']!.exists && fp['-wal']!.size! > 0, 'fixture must leave frames in the -wal');
          await snapshotAndCompare(src, strategy);
          const dest = join(fresh('wal-check'), 'snap.db');
          await engine[strategy](src, dest);
          const copy = copyDatabase(dest, scratch, `walrow-${strategy}.db`);
          const { stdout } = cli(copy, "SELECT count(*) FROM audit WHERE at = 'only-in-wal';");
          assert.equal(stdout.trim(), '1', 'the commit that only exists in the -wal must be in the snapshot');
        });

        it('WAL database checkpointed and closed (no -wal file) stays untouched: no -wal or -shm created', async (t) => {
          if (!peers(t)) return;
          const src = join(fresh('wal-clean'), 'src.db');
          createWithCli(src, { journalMode: 'wal', rows: 100 });
          assert.equal(fingerprint(src)['-wal']!.exists, false);
          await snapshotAndCompare(src, strategy);
          assert.equal(fingerprint(src)['-wal']!.exists, false);
          assert.equal(fingerprint(src)['-shm']!.exists, false);
        });

        it(`paths with quotes, spaces and unicode: it's a "db".db`, async (t) => {
          if (!peers(t)) return;
          const d = fresh(`ünï "q" it's`);
          const src = join(d, `it's a "db".db`);
          createWithCli(src, { rows: 50 });
          const dest = join(d, `snap 'x' "y" ✓.db`);
          await engine[strategy](src, dest);
          assert.ok(nativeCheck(dest, scratch));
          assert.equal(nativeDump(dest, scratch), nativeDump(src, scratch));
        });
      });
    }

    describe('bad input: clear errors, nothing created', () => {
      for (const strategy of STRATEGIES) {
        it(`${strategy}: missing source -> ESOURCE_NOT_FOUND and no file created anywhere`, async () => {
          const d = fresh('missing');
          const dest = join(d, 'out.db');
          await assert.rejects(engine[strategy](join(d, 'nope.db'), dest), (e) => {
            assert.ok(isBackupError(e, 'ESOURCE_NOT_FOUND'), String(e));
            assert.match((e as Error).message, /nope\.db/);
            return true;
          });
          assert.deepEqual(readdirSync(d), [], 'neither the source nor the destination may be created');
        });

        it(`${strategy}: 0-byte, non-SQLite and short files -> ENOTADB, no destination`, async () => {
          const d = fresh('notadb');
          const cases: Record<string, Buffer> = {
            'empty.db': Buffer.alloc(0),
            'text.db': Buffer.from('hello, I am not a database\n'.repeat(100)),
            'short.db': Buffer.from('SQLite format 3\0'),
          };
          for (const [name, bytes] of Object.entries(cases)) {
            writeFileSync(join(d, name), bytes);
            const dest = join(d, `${name}.out`);
            await assert.rejects(engine[strategy](join(d, name), dest), (e) => isBackupError(e, 'ENOTADB'));
            assert.ok(!readdirSync(d).includes(`${name}.out`));
          }
        });

        it(`${strategy}: destination exists -> EDEST_EXISTS, existing file untouched`, async (t) => {
          if (!peers(t)) return;
          const d = fresh('exists');
          const src = join(d, 'src.db');
          createWithCli(src, { rows: 10 });
          const dest = join(d, 'out.db');
          writeFileSync(dest, 'precious');
          await assert.rejects(engine[strategy](src, dest), (e) => isBackupError(e, 'EDEST_EXISTS'));
          assert.equal(statSync(dest).size, 'precious'.length);
          await assert.rejects(engine[strategy](src, src), (e) => isBackupError(e, 'EDEST_EXISTS'));
        });

        it(`${strategy}: destination directory missing or a file -> EDEST_DIR`, async (t) => {
          if (!peers(t)) return;
          const d = fresh('destdir');
          const src = join(d, 'src.db');
          createWithCli(src, { rows: 10 });
          await assert.rejects(engine[strategy](src, join(d, 'no', 'such', 'out.db')), (e) => isBackupError(e, 'EDEST_DIR'));
          writeFileSync(join(d, 'afile'), '');
          await assert.rejects(engine[strategy](src, join(d, 'afile', 'out.db')), (e) => isBackupError(e, 'EDEST_DIR'));
        });

        it(`${strategy}: truncated source -> error (SQLITE_CORRUPT), no destination left`, async (t) => {
          if (!peers(t)) return;
          const d = fresh('trunc');
          const src = join(d, 'src.db');
          createWithCli(src, { rows: 400 });
          truncateSync(src, Math.floor(statSync(src).size / 2 / 4096) * 4096 + 100);
          const dest = join(d, 'out.db');
          await assert.rejects(engine[strategy](src, dest), (e) => {
            assert.ok(isBackupError(e), String(e));
            return true;
          });
          assert.deepEqual(readdirSync(d).sort(), ['src.db']);
        });
      }

      for (const strategy of STRATEGIES) {
        it(`${strategy}: full disk -> EIO with errno ENOSPC and the path; the partial snapshot is removed`, async (t) => {
          if (!peers(t)) return;
          const d = fresh('full');
          const src = join(d, 'src.db');
          createWithCli(src, { rows: 3000 });
          const mnt = join(d, 'mnt');
          await withTmpfs(t, mnt, 'size=256k', async () => {
            const dest = join(mnt, 'out.db');
            await assert.rejects(engine[strategy](src, dest), (e) => {
              assert.ok(isBackupError(e, 'EIO'), String(e));
              assert.equal((e as BackupError).errno, 'ENOSPC');
              assert.equal((e as BackupError).path, dest);
              assert.match((e as Error).message, /disk full/);
              return true;
            });
            assert.deepEqual(readdirSync(mnt), []);
          });
        });
      }

      it('read-only destination file system -> EDEST_DIR naming the directory', async (t) => {
        if (!peers(t)) return;
        const d = fresh('rofs');
        const src = join(d, 'src.db');
        createWithCli(src, { rows: 10 });
        const mnt = join(d, 'mnt');
        await withTmpfs(t, mnt, 'size=64k,ro', async () => {
          await assert.rejects(engine.vacuumInto(src, join(mnt, 'out.db')), (e) => {
            assert.ok(isBackupError(e, 'EDEST_DIR'), String(e));
            assert.equal((e as BackupError).errno, 'EROFS');
            return true;
          });
        });
      });

      it('integrityCheck: missing file -> ESOURCE_NOT_FOUND and nothing created', async () => {
        const d = fresh('ic-missing');
        await assert.rejects(engine.integrityCheck(join(d, 'nope.db')), (e) => isBackupError(e, 'ESOURCE_NOT_FOUND'));
        assert.deepEqual(readdirSync(d), []);
      });
    });

    describe('integrityCheck agrees with the native CLI on damaged files', () => {
      /** Each case damages a fresh copy of a healthy database. */
      const damage: Record<string, (path: string) => void> = {
        healthy: () => {},
        'flipped bytes in a b-tree page': (p) => poke(p, 5 * 4096 + 200, Buffer.from('garbage garbage!')),
        'zeroed leaf page header': (p) => poke(p, 8 * 4096, Buffer.alloc(16)),
        'bad page type in interior page': (p) => poke(p, 2 * 4096, Buffer.from([0x55])),
        'truncated to half': (p) => truncateSync(p, Math.floor(statSync(p).size / 2)),
        'truncated mid-page': (p) => truncateSync(p, statSync(p).size - 1000),
        'header page count too large': (p) => poke(p, 28, Buffer.from([0, 1, 0, 0])),
        'freelist trunk pointer out of range': (p) => poke(p, 32, Buffer.from([0x7f, 0, 0, 0])),
      };
      for (const [label, hurt] of Object.entries(damage)) {
        for (const mode of ['full', 'quick'] as const) {
          it(`${label} (${mode})`, async (t) => {
            if (!peers(t)) return;
            const d = fresh(`dmg-${mode}`);
            const path = join(d, 'x.db');
            createWithCli(path, { rows: 400, pageSize: 4096 });
            hurt(path);
            const native = nativeCheck(path, scratch, mode === 'full' ? 'integrity_check' : 'quick_check');
            const before = fingerprint(path);
            const ours = await engine.integrityCheck(path, { mode });
            assert.equal(ours.ok, native, `ours=${JSON.stringify(ours.messages)} native ok=${native}`);
            if (label === 'healthy') assert.equal(ours.ok, true);
            else assert.ok(ours.messages.length > 0);
            assert.deepEqual(fingerprint(path), before, 'integrityCheck must not write');
          });
        }
      }

      it('a damaged index is found by full but not by quick check, like native', async (t) => {
        if (!peers(t)) return;
        const d = fresh('idx');
        const path = join(d, 'x.db');
        createWithCli(path, { rows: 400 });
        // Redeclare the index over other columns: its b-tree no longer matches the table. Only the
        // full check compares index entries with rows.
        cli(
          path,
          `PRAGMA writable_schema=ON;
           UPDATE sqlite_schema SET sql='CREATE INDEX notes_owner ON notes(body, owner)' WHERE name='notes_owner';`,
        );
        const fullNative = nativeCheck(path, scratch, 'integrity_check');
        const quickNative = nativeCheck(path, scratch, 'quick_check');
        assert.equal(fullNative, false, 'fixture: native full check must see the damage');
        assert.equal(quickNative, true, 'fixture: native quick check must not');
        assert.equal((await engine.integrityCheck(path, { mode: 'full' })).ok, fullNative);
        assert.equal((await engine.integrityCheck(path, { mode: 'quick' })).ok, quickNative);
      });

      it('maxErrors caps the number of messages', async (t) => {
        if (!peers(t)) return;
        const d = fresh('maxerr');
        const path = join(d, 'x.db');
        createWithCli(path, { rows: 800 });
        for (let page = 3; page < 30; page += 2) poke(path, page * 4096 + 8, Buffer.alloc(64, 0xff));
        const r = await engine.integrityCheck(path, { maxErrors: 2 });
        assert.equal(r.ok, false);
        assert.ok(r.messages.length <= 2, JSON.stringify(r.messages));
      });
    });

    describe('copyLive (the copy-and-validate step of live snapshots)', () => {
      it('WAL source: a private copy with its -wal that native sqlite3 reads as the source; source untouched', async (t) => {
        if (!peers(t)) return;
        const d = fresh('copylive-wal');
        const src = join(d, 'src.db');
        createWalWithUncheckpointedFrames(src);
        const before = fingerprint(src);
        const dest = join(fresh('copylive-out'), 'copy.db');
        const r = await engine.copyLive(src, dest);
        assert.equal(r.journalMode, 'wal');
        assert.equal(r.attempts, 1);
        assert.equal(statSync(dest).mode & 0o777, 0o600);
        assert.equal(statSync(`${dest}-wal`).mode & 0o777, 0o600);
        assert.deepEqual(fingerprint(src), before);
        assert.equal(nativeDump(dest, scratch), nativeDump(src, scratch));
      });
      it('rollback source: the db file alone; an existing destination is refused and kept', async (t) => {
        if (!peers(t)) return;
        const d = fresh('copylive-rollback');
        const src = join(d, 'src.db');
        createWithCli(src, { rows: 100 });
        const dest = join(d, 'copy.db');
        const r = await engine.copyLive(src, dest);
        assert.equal(r.journalMode, 'rollback');
        assert.equal(r.walBytes, 0);
        assert.equal(nativeDump(dest, scratch), nativeDump(src, scratch));
        await assert.rejects(engine.copyLive(src, dest), (e: unknown) => isBackupError(e, 'EDEST_EXISTS'));
        assert.equal(nativeDump(dest, scratch), nativeDump(src, scratch));
      });
    });
  });
}

function poke(path: string, offset: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}
