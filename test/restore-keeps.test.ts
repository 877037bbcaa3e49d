/**
 * What a restore keeps of what it replaces, and what it restores from, judged by the native sqlite3
 * CLI and python3: the replaced database's owner, group and mode (as root; as a user who cannot
 * chown, the mode and a warning), the source's journal mode through a backup, a bounded number of
 * before-restore copies, a clear error for a directory target, and a backup directory as the source
 * (the backup its latest.txt names).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { backup } from '../src/api/backup.js';
import { parseConfig } from '../src/config/config.js';
import { restore } from '../src/api/restore.js';
import { verify } from '../src/api/verify.js';
import { WasmEngine } from '../src/engine/index.js';
import { ErrorCode, isBackupError } from '../src/errors.js';
import { createWithCli } from './helpers/databases.js';
import { runBytes } from './helpers/gzip.js';
import { python, requirePeer, sqlite3 } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const CHILD = fileURLToPath(new URL('./fixtures/restore-child.js', import.meta.url));
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

function rootOnly(t: TestContext): boolean {
  if (isRoot) return true;
  // Only root can make a file owned by someone else, which is what these tests replace.
  t.skip('needs root to create a file owned by another user');
  return false;
}

describe('restore keeps what it replaces', () => {
  const root = tempDir();
  let engine: WasmEngine;
  let n = 0;
  const fresh = (): string => {
    const d = join(root, `t${++n}`);
    mkdirSync(d, { mode: 0o700 });
    return d;
  };
  /** A published backup (the real job) of a 50-row database: its path. */
  let gz = '';

  before(async () => {
    engine = new WasmEngine();
    const dir = fresh();
    createWithCli(join(dir, 'app.db'), { rows: 50 });
    gz = (await backup(parseConfig('source_path = "app.db"\nbackup_dir = "b"\n', { baseDir: dir }), { engine })).path;
  });
  after(() => engine.close());

  test('as root: the restored file gets the replaced database owner, group and mode; a new path stays 0600', async (t) => {
    if (!requirePeer(t, 'sqlite3') || !rootOnly(t)) return;
    const dir = fresh();
    const target = join(dir, 'app.db');
    createWithCli(target, { rows: 5 });
    chownSync(target, 12345, 23456);
    chmodSync(target, 0o640);
    const r = await restore(gz, target, { engine, force: true });
    const st = statSync(target);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [12345, 23456, 0o640]);
    assert.deepEqual(r.warnings, []);
    assert.equal(sqlite3(target, 'SELECT count(*) FROM users').stdout.trim(), '50');
    const created = join(dir, 'new.db');
    await restore(gz, created, { engine });
    const st2 = statSync(created);
    assert.deepEqual([st2.uid, st2.mode & 0o7777], [0, 0o600]);
  });

  test('as a user who cannot chown: the mode is kept and the result warns that the owner changed', (t) => {
    if (!requirePeer(t, 'sqlite3') || !rootOnly(t) || !requirePeer(t, 'setpriv')) return;
    // A directory of nobody's, outside the root-only temp dir, holding a database of another user.
    const dir = mkdtempSync(join(tmpdir(), 'sqlite-backup-nobody-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const target = join(dir, 'app.db');
    const from = join(dir, 'backup.db.gz');
    writeFileSync(from, readFileSync(gz));
    createWithCli(target, { rows: 5 });
    chownSync(dir, NOBODY, NOBODY);
    chownSync(from, NOBODY, NOBODY);
    chownSync(target, 12345, 12345);
    chmodSync(target, 0o644);
    const child = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, CHILD, from, target], {
      encoding: 'utf8',
      cwd: dir,
    });
    assert.equal(child.status, 0, `${child.stdout}${child.stderr}`);
    const r = JSON.parse(child.stdout) as { warnings: string[]; movedAside: string[] };
    const st = statSync(target);
    assert.deepEqual([st.uid, st.mode & 0o7777], [NOBODY, 0o644]);
    assert.equal(r.warnings.length, 1, r.warnings.join('\n'));
    assert.match(r.warnings[0]!, /owned by 12345:12345; the restored file is owned by 65534:65534/);
    assert.match(r.warnings[0]!, /chown 12345:12345 /);
    assert.equal(r.movedAside.length, 1);
    assert.equal(sqlite3(target, 'SELECT count(*) FROM users').stdout.trim(), '50');
  });

  test('the journal mode survives a backup and a restore: WAL stays WAL (vacuum and online), rollback stays delete', async (t) => {
    if (!requirePeer(t, 'sqlite3') || !requirePeer(t, 'python3') || !requirePeer(t, 'gzip')) return;
    const dir = fresh();
    sqlite3(join(dir, 'wal.db'), "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES ('w1'), ('w2');");
    sqlite3(join(dir, 'del.db'), "CREATE TABLE t(x); INSERT INTO t VALUES ('d1');");
    for (const [db, strategy, mode] of [
      ['wal', 'vacuum', 'wal'],
      ['wal', 'online', 'wal'],
      ['del', 'vacuum', 'delete'],
      ['del', 'online', 'delete'],
    ] as const) {
      const config = parseConfig(`source_path = "${db}.db"\nbackup_dir = "b-${db}-${strategy}"\nstrategy = "${strategy}"\n`, { baseDir: dir });
      const b = await backup(config, { engine });
      const target = join(dir, `restored-${db}-${strategy}.db`);
      await restore(b.path, target, { engine });
      assert.equal(sqlite3(target, 'PRAGMA journal_mode').stdout.trim(), mode, `${db} ${strategy}`);
      assert.equal(sqlite3(target, 'SELECT group_concat(x) FROM t').stdout.trim(), db === 'wal' ? 'w1,w2' : 'd1');
      // The backup itself, decompressed by gzip, is what other tools get: a WAL database without a
      // -wal file, which python's sqlite3 and the CLI open (also read-only) and find intact.
      const plain = join(dir, `plain-${db}-${strategy}.db`);
      writeFileSync(plain, runBytes('gzip', ['-dc', b.path]));
      assert.equal(readFileSync(plain)[18], mode === 'wal' ? 2 : 1);
      const py = python(
        'import sqlite3, sys\n' +
          "ro = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)\n" +
          "print(ro.execute('PRAGMA integrity_check').fetchone()[0], ro.execute('SELECT count(*) FROM t').fetchone()[0])\n" +
          'ro.close()\n' +
          'rw = sqlite3.connect(sys.argv[1])\n' +
          "print(rw.execute('PRAGMA journal_mode').fetchone()[0], rw.execute('PRAGMA integrity_check').fetchone()[0])\n",
        [plain],
      );
      assert.equal(py.stdout.trim(), `ok ${db === 'wal' ? 2 : 1}\n${mode} ok`);
      assert.equal((await verify(b.path, { engine })).ok, true);
    }
  });

  test('before-restore copies: all kept by default, the newest N with keepBeforeRestore (side files too)', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    for (const keep of [undefined, 2, 1, 0]) {
      const dir = fresh();
      const target = join(dir, 'app.db');
      writeFileSync(target, 'the original database');
      writeFileSync(`${target}-wal`, 'its wal');
      const made: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await restore(gz, target, { engine, force: true, ...(keep !== undefined ? { keepBeforeRestore: keep } : {}) });
        made.push(r.movedAside[0]!);
      }
      const aside = readdirSync(dir).filter((f) => f.includes('.before-restore-')).sort();
      const expected = keep === undefined ? 3 : keep;
      const bases = made.slice(made.length - expected).map((p) => p.slice(dir.length + 1));
      // The original (with its -wal) is the oldest copy: the first to go.
      assert.deepEqual(aside, [...(expected === 3 ? [`${bases[0]}-wal`] : []), ...bases].sort(), `keep ${keep}`);
      if (expected === 3) assert.equal(readFileSync(made[0]!, 'utf8'), 'the original database');
      assert.equal(sqlite3(target, 'SELECT count(*) FROM users').stdout.trim(), '50');
    }
    await assert.rejects(restore(gz, join(fresh(), 'x.db'), { keepBeforeRestore: -1 }), RangeError);
  });

  test('a directory as the target: EDEST_DIR saying so and naming a file path to use instead', async () => {
    const dir = fresh();
    for (const force of [false, true]) {
      await assert.rejects(restore(gz, dir, { engine, force }), (e: unknown) => {
        assert.ok(isBackupError(e, ErrorCode.DEST_DIR), String(e));
        assert.equal(e.path, dir);
        assert.match(e.message, /is a directory; give the path of the database file/);
        return true;
      });
    }
    assert.deepEqual(readdirSync(dir), []);
  });

  test('a backup directory as the source: the backup latest.txt names, else the newest; a malformed latest.txt is refused', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const dir = fresh();
    const src = join(dir, 'app.db');
    sqlite3(src, "CREATE TABLE t(x); INSERT INTO t VALUES ('first');");
    const config = parseConfig('source_path = "app.db"\nbackup_dir = "b"\nkeep_last = 0\n', { baseDir: dir });
    const first = await backup(config, { engine });
    sqlite3(src, "UPDATE t SET x = 'second';");
    const second = await backup(config, { engine });
    const store = join(dir, 'b');
    const value = (db: string): string => sqlite3(db, 'SELECT x FROM t').stdout.trim();

    const r1 = await restore(store, join(dir, 'r1.db'), { engine });
    assert.equal(value(join(dir, 'r1.db')), 'second');
    assert.equal(r1.backup, second.path);
    assert.equal(r1.chosenBy, 'latest.txt');
    // latest.txt is what counts, not the newest name.
    writeFileSync(join(store, 'latest.txt'), first.name);
    const r2 = await restore(store, join(dir, 'r2.db'), { engine });
    assert.equal(value(join(dir, 'r2.db')), 'first');
    assert.deepEqual([r2.backup, r2.chosenBy], [first.path, 'latest.txt']);
    const v = await verify(store, { engine });
    assert.deepEqual([v.ok, v.path, v.chosenBy], [true, first.path, 'latest.txt']);
    // No latest.txt (Go upstream layouts have none): the newest by name, and the result says so.
    unlinkSync(join(store, 'latest.txt'));
    const r3 = await restore(store, join(dir, 'r3.db'), { engine });
    assert.deepEqual([value(join(dir, 'r3.db')), r3.chosenBy], ['second', 'newest']);
    // A latest.txt we cannot read as a backup name: refused, nothing restored.
    writeFileSync(join(store, 'latest.txt'), '../../etc/passwd');
    for (const op of [() => restore(store, join(dir, 'r4.db'), { engine }), () => verify(store, { engine })]) {
      await assert.rejects(op(), (e: unknown) => {
        assert.ok(isBackupError(e, ErrorCode.BACKUP_NOT_FOUND), String(e));
        assert.match(e.message, /latest\.txt.*not guessing which backup to use/);
        return true;
      });
    }
    assert.ok(!existsSync(join(dir, 'r4.db')));
    const empty = fresh();
    await assert.rejects(restore(empty, join(dir, 'r5.db'), { engine }), (e: unknown) => {
      assert.ok(isBackupError(e, ErrorCode.BACKUP_NOT_FOUND));
      assert.match(e.message, /no backup in directory/);
      return true;
    });
  });
});
