/**
 * `sqlite-backup restore` and `verify` as a user runs them: a backup directory stands for the backup
 * its latest.txt names, a directory target is refused with a clear message, and an owner that could
 * not be kept is a WARNING on stderr (and in --json).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { requirePeer, run, sqlite3 } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const sb = (args: string[], cwd?: string) => run(process.execPath, [cli, ...args], { allowFail: true, ...(cwd ? { cwd } : {}) });

describe('sqlite-backup restore / verify', () => {
  const dir = tempDir();

  it('restore and verify of a backup directory take the backup latest.txt names, and say which', (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    sqlite3(join(dir, 'app.db'), "CREATE TABLE t(a); INSERT INTO t VALUES ('one');");
    writeFileSync(join(dir, 'backup.toml'), 'source_path = "app.db"\nbackup_dir = "backups"\n');
    assert.equal(sb(['backup', '-c', join(dir, 'backup.toml')]).status, 0);
    const backups = join(dir, 'backups');
    const name = readFileSync(join(backups, 'latest.txt'), 'utf8');
    const r = sb(['restore', backups, join(dir, 'restored.db')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^using ${join(backups, name).replace(/\./g, '\\.')} \\(named by latest\\.txt\\)$`, 'm'));
    assert.match(r.stdout, /^restored .* -> .*restored\.db/m);
    assert.equal(sqlite3(join(dir, 'restored.db'), 'SELECT a FROM t').stdout.trim(), 'one');
    const v = sb(['verify', backups]);
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, new RegExp(`^ok: ${join(backups, name).replace(/\./g, '\\.')} \\(gzip, `, 'm'));
    const json = JSON.parse(sb(['verify', backups, '--json']).stdout) as { ok: boolean; path: string; chosenBy: string };
    assert.deepEqual([json.ok, json.path, json.chosenBy], [true, join(backups, name), 'latest.txt']);
    unlinkSync(join(backups, 'latest.txt'));
    const newest = sb(['verify', backups]);
    assert.equal(newest.status, 0, newest.stderr);
    assert.match(newest.stdout, /\(no usable latest\.txt: the newest backup by name\)/);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const none = sb(['restore', empty, join(dir, 'none.db')]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /no backup in directory .*empty" \[EBACKUP_NOT_FOUND\]/);
  });

  it('restore to a directory: exit 1, EDEST_DIR, and what to give instead', (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    sqlite3(join(dir, 'plain.db'), 'CREATE TABLE t(a);');
    const target = join(dir, 'target-dir');
    mkdirSync(target);
    const r = sb(['restore', join(dir, 'plain.db'), target, '--force']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /target-dir" is a directory; give the path of the database file to create or replace, e\.g\. ".*target-dir\/app\.db" \[EDEST_DIR\]/);
    const bad = sb(['restore', join(dir, 'plain.db'), join(dir, 'x.db'), '--keep-before-restore', 'two']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--keep-before-restore expects a whole number/);
  });

  it('as a user who cannot chown: exit 0, the mode kept, a WARNING naming the old owner', (t) => {
    if (!requirePeer(t, 'sqlite3') || !requirePeer(t, 'setpriv')) return;
    if (process.getuid?.() !== 0) {
      t.skip('needs root to create a file owned by another user');
      return;
    }
    const work = mkdtempSync(join(tmpdir(), 'sqlite-backup-nobody-'));
    after(() => rmSync(work, { recursive: true, force: true }));
    sqlite3(join(work, 'backup.db'), "CREATE TABLE t(a); INSERT INTO t VALUES ('restored');");
    sqlite3(join(work, 'app.db'), 'CREATE TABLE t(a);');
    for (const f of ['', 'backup.db']) chownSync(join(work, f), 65534, 65534);
    chownSync(join(work, 'app.db'), 12345, 12345);
    chmodSync(join(work, 'app.db'), 0o640);
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, cli, 'restore', '--force', 'backup.db', 'app.db'], {
      cwd: work,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^(?:\S+Z )?WARNING: ".*app\.db" was owned by 12345:12345; the restored file is owned by 65534:65534 .*chown 12345:12345 /m);
    assert.match(r.stdout, /kept the previous file as .*app\.db\.before-restore-/);
    const st = statSync(join(work, 'app.db'));
    assert.deepEqual([st.uid, st.mode & 0o777], [65534, 0o640]);
  });
});
