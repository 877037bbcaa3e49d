/**
 * `sqlite-backup status` and the library's `status()`: the freshness check that catches a backup job
 * that silently stopped. Backups are made by the real CLI; an old backup is a real backup's bytes
 * under a name dated years ago, its sidecar written by `sha256sum` (an independent tool).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, parseConfig, status, type StatusResult } from '../src/index.js';
import { requirePeer, run, sqlite3 } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const sb = (args: string[], cwd: string) => run(process.execPath, [cli, ...args], { allowFail: true, cwd });

type StatusJson = Omit<StatusResult, 'newest'> & { command: string; newest?: Omit<NonNullable<StatusResult['newest']>, 'time'> & { time: string } };

describe('status', () => {
  const dir = tempDir();
  let n = 0;
  /** A directory with app.db, sqlite-backup.toml and one fresh backup made by the CLI. */
  const withBackup = (): { d: string; backups: string; name: string } => {
    const d = join(dir, `case-${n++}`);
    mkdirSync(d);
    sqlite3(join(d, 'app.db'), "CREATE TABLE t(x); INSERT INTO t VALUES ('fresh');");
    writeFileSync(join(d, 'sqlite-backup.toml'), 'source_path = "app.db"\nbackup_dir = "backups"\n');
    const b = sb(['backup'], d);
    assert.equal(b.status, 0, b.stderr);
    const backups = join(d, 'backups');
    return { d, backups, name: readFileSync(join(backups, 'latest.txt'), 'utf8') };
  };

  it('a fresh backup: exit 0, its name, age and a matching sidecar; --max-age passes', (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const { d, backups, name } = withBackup();
    const s = sb(['status', '--max-age', '1d'], d);
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stdout, new RegExp(`^newest: .*${name.replace(/\./g, '\\.')} \\(named by latest\\.txt\\)$`, 'm'));
    assert.match(s.stdout, /^ {2}taken \d{4}-\d\d-\d\dT[\d:.]+Z, (\d+ms|[\d.]+s) ago; .*sha256 matches its sidecar$/m);
    assert.match(s.stdout, /within --max-age 1d/);
    assert.equal(s.stderr, '', 'nothing on stderr when all is well');
    // The directory form, with --json: the typed result.
    const j = sb(['status', backups, '--json', '--max-age', '26h'], d);
    assert.equal(j.status, 0, j.stderr);
    const r = JSON.parse(j.stdout) as StatusJson;
    assert.equal(r.command, 'status');
    assert.equal(r.ok, true);
    assert.equal(r.dir, backups);
    assert.equal(r.count, 1);
    assert.equal(r.maxAgeMs, 26 * 3600_000);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.warnings, []);
    const e = r.newest!;
    assert.deepEqual(Object.keys(e).sort(), ['age', 'ageMs', 'checksum', 'chosenBy', 'encrypted', 'layout', 'name', 'path', 'size', 'time']);
    assert.equal(e.name, name);
    assert.equal(e.path, join(backups, name));
    assert.equal(e.checksum, 'ok');
    assert.equal(e.chosenBy, 'latest.txt');
    assert.equal(e.layout, 'ours');
    assert.ok(e.ageMs >= 0 && e.ageMs < 60_000, String(e.ageMs));
    assert.ok(Date.parse(e.time) <= Date.now());
  });

  it('an old backup with --max-age: exit 1 and says why, also with --quiet (cron mails only output)', (t) => {
    if (!requirePeer(t, 'sqlite3') || !requirePeer(t, 'sha256sum')) return;
    const { d, backups, name } = withBackup();
    // The job "stopped" two years ago: only a backup dated then is left.
    const old = 'app-20241101T020000.000Z-vacuum.db.gz';
    copyFileSync(join(backups, name), join(backups, old));
    run('sh', ['-c', `sha256sum ${old} > ${old}.sha256 && rm ${name} ${name}.sha256 && printf %s ${old} > latest.txt`], { cwd: backups });
    const s = sb(['status', '--max-age', '26h'], d);
    assert.equal(s.status, 1);
    assert.match(s.stdout, new RegExp(`newest: .*${old.replace(/\./g, '\\.')}`));
    assert.match(s.stderr, /^(\S+Z )?sqlite-backup: no backup newer than 1d 2h in ".*backups": the newest, app-20241101T020000\.000Z-vacuum\.db\.gz, is \d+d( \d+h)? old/m);
    const quiet = sb(['status', '--max-age', '26h', '--quiet'], d);
    assert.equal(quiet.status, 1);
    assert.equal(quiet.stdout, '');
    assert.match(quiet.stderr, /no backup newer than 1d 2h/);
    // Without --max-age, age alone is no failure (it is reported, rounded for people).
    const plain = sb(['status'], d);
    assert.equal(plain.status, 0, plain.stderr);
    assert.match(plain.stdout, /, \d+d( \d+h)? ago;/);
    const j = JSON.parse(sb(['status', '--max-age', '2d', '--json'], d).stdout) as StatusJson;
    assert.equal(j.ok, false);
    assert.deepEqual(j.problems.map((p) => p.kind), ['too-old']);
    assert.equal(j.newest!.checksum, 'ok');
  });

  it('no backup: exit 1, with and without --max-age; an empty or missing directory alike', () => {
    const d = join(dir, 'empty');
    mkdirSync(join(d, 'backups'), { recursive: true });
    for (const target of ['backups', 'never-created']) {
      for (const extra of [[], ['--max-age', '26h']]) {
        const s = sb(['status', target, ...extra], d);
        assert.equal(s.status, 1, `${target} ${extra.join(' ')}`);
        assert.match(s.stdout, /^no backups in /);
        assert.match(s.stderr, /no backup in ".*" \[EBACKUP_NOT_FOUND\]/);
      }
    }
    const j = JSON.parse(sb(['status', 'backups', '--json'], d).stdout) as StatusJson;
    assert.deepEqual([j.ok, j.count, j.newest, j.problems.map((p) => p.kind)], [false, 0, undefined, ['no-backup']]);
    // A usage mistake is still exit 2.
    assert.equal(sb(['status', 'backups', '--max-age', 'soon'], d).status, 2);
    assert.equal(sb(['status', 'backups', '--max-age', '0'], d).status, 2);
    assert.match(sb(['status', 's3://bucket/prefix'], d).stderr, /status: give a local directory/);
  });

  it('a tampered backup: the sidecar mismatch is reported, exit 1', (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const { d, backups, name } = withBackup();
    const path = join(backups, name);
    const bytes = readFileSync(path);
    bytes[bytes.length - 5] ^= 0xff;
    writeFileSync(path, bytes);
    const s = sb(['status'], d);
    assert.equal(s.status, 1);
    assert.match(s.stdout, /sha256 does NOT match its sidecar/);
    assert.match(s.stderr, /checksum mismatch.*\[ECHECKSUM\]/);
    const j = JSON.parse(sb(['status', '--json'], d).stdout) as StatusJson;
    assert.equal(j.ok, false);
    assert.equal(j.newest!.checksum, 'mismatch');
    assert.deepEqual(j.problems.map((p) => p.kind), ['checksum']);
  });

  it('the library: status(config) looks at backup_dir and only its database; status(dir) at everything', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const { d, backups, name } = withBackup();
    // Another database's newer backup in the same directory, named by latest.txt.
    const other = 'other-20991231T000000.000Z-vacuum.db.gz';
    copyFileSync(join(backups, name), join(backups, other));
    writeFileSync(join(backups, 'latest.txt'), other);
    const config = await loadConfig(join(d, 'sqlite-backup.toml'));
    const now = Date.now() + 3 * 3600_000 + 5 * 60_000;
    const r = await status(config, { maxAgeMs: 26 * 3600_000, now });
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.dbName, 'app');
    assert.equal(r.newest!.name, name);
    assert.equal(r.newest!.chosenBy, 'listing');
    assert.equal(r.newest!.age, '3h 5m');
    assert.match(r.warnings.join('\n'), /latest\.txt names "other-/);
    const all = await status(backups, { now });
    assert.equal(all.count, 2);
    assert.equal(all.newest!.name, other);
    assert.equal(all.newest!.checksum, 'absent');
    assert.match(all.warnings.join('\n'), /dated .* in the future/);
    // Nothing to look at: ECONFIG, not a silent "no backup".
    await assert.rejects(status(parseConfig('keep_last = 3')), { code: 'ECONFIG' });
  });
});
