/**
 * `prune` never surprises (the CLI as a user runs it): it reads the config backup reads and applies
 * exactly backup's policy, a bare `prune <dir>` without a policy refuses and removes nothing, flags
 * win; `list` and `prune` judge a malformed latest.txt alike. And a backup renamed into place whose
 * sidecar was never written (a run killed between the two renames) is verified and adopted, or
 * removed, by the next backup and by prune - it never takes a published backup's slot.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backup } from '../src/api/backup.js';
import { loadConfig } from '../src/config/config.js';
import { backupFileName, parseBackupName, SIDECAR_SUFFIX } from '../src/format/naming.js';
import { requirePeer, run, sqlite3 } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const sb = (args: string[], cwd: string) => run(process.execPath, [cli, ...args], { allowFail: true, cwd });
const hex = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

/** `count` fake backups of `db` (one an hour from 2026-01-01), each with a real sidecar; latest.txt names the newest. */
function fakeBackups(dir: string, count: number, db = 'app'): string[] {
  mkdirSync(dir, { recursive: true });
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = backupFileName(db, new Date(Date.UTC(2026, 0, 1, i)), 'vacuum');
    writeFileSync(join(dir, name), `gz ${name}`);
    writeFileSync(join(dir, name + SIDECAR_SUFFIX), `${hex(`gz ${name}`)}  ${name}\n`);
    names.push(name);
  }
  writeFileSync(join(dir, 'latest.txt'), names.at(-1)!);
  return names;
}

const backupsIn = (dir: string) => readdirSync(dir).filter((f) => parseBackupName(f) !== undefined).sort();

describe('prune and list read the config backup reads', () => {
  const root = tempDir();
  let n = 0;
  const place = () => {
    const cwd = join(root, `c${++n}`);
    mkdirSync(cwd);
    return cwd;
  };

  it('keep_last = 0 in ./sqlite-backup.toml: prune <backup_dir> keeps everything, as backup would', () => {
    const cwd = place();
    writeFileSync(join(cwd, 'sqlite-backup.toml'), 'source_path = "app.db"\nbackup_dir = "backups"\nkeep_last = 0\n');
    const names = fakeBackups(join(cwd, 'backups'), 35);
    const p = sb(['prune', 'backups'], cwd);
    assert.equal(p.status, 0, p.stderr);
    assert.match(p.stdout, /^removed 0, kept 35 \(keep_last=0: everything is kept; from backup_dir of .*sqlite-backup\.toml; database app\)/);
    assert.deepEqual(backupsIn(join(cwd, 'backups')), names);
  });

  it("a config without retention keys: backup's documented default (keep_last 30), for the config's database only", () => {
    const cwd = place();
    writeFileSync(join(cwd, 'sqlite-backup.toml'), 'source_path = "app.db"\nbackup_dir = "backups"\n');
    const names = fakeBackups(join(cwd, 'backups'), 35);
    const other = backupFileName('other', new Date(Date.UTC(2025, 0, 1)), 'vacuum');
    writeFileSync(join(cwd, 'backups', other), 'other database');
    // No directory argument: backup_dir of ./sqlite-backup.toml.
    const p = sb(['prune', '--json'], cwd);
    assert.equal(p.status, 0, p.stderr);
    const r = JSON.parse(p.stdout) as { removed: string[]; policy: { keepLast: number }; db: string };
    assert.deepEqual([r.removed, r.policy.keepLast, r.db], [names.slice(0, 5), 30, 'app']);
    assert.deepEqual(backupsIn(join(cwd, 'backups')), [...names.slice(5), other].sort(), "another database's backup is not this config's to prune");
    // list reads it too.
    const list = sb(['list'], cwd);
    assert.equal(list.status, 0, list.stderr);
    assert.equal(list.stdout.trim().split('\n').length, 31);
  });

  it('a bare prune <dir> (no config, no flags) refuses with exit 2 and removes nothing; flags are a policy', () => {
    const cwd = place();
    const names = fakeBackups(join(cwd, 'backups'), 35);
    const p = sb(['prune', 'backups'], cwd);
    assert.equal(p.status, 2, p.stdout);
    assert.match(p.stderr, /prune: no retention policy for .*backups \(no --config and no \.\/sqlite-backup\.toml here\); nothing was removed\. Pass --keep-last N/);
    assert.deepEqual(backupsIn(join(cwd, 'backups')), names);
    const json = sb(['prune', 'backups', '--json'], cwd);
    assert.equal(json.status, 2);
    assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'EUSAGE');
    // A flag alone is a policy; the keys not given take backup's defaults.
    const flags = sb(['prune', 'backups', '--keep-last', '3'], cwd);
    assert.equal(flags.status, 0, flags.stderr);
    assert.deepEqual(backupsIn(join(cwd, 'backups')), names.slice(-3));
  });

  it("another directory than the config's: refused without flags, flags win with them", () => {
    const cwd = place();
    writeFileSync(join(cwd, 'sqlite-backup.toml'), 'source_path = "app.db"\nbackup_dir = "backups"\nkeep_last = 0\n');
    const names = fakeBackups(join(cwd, 'elsewhere'), 5);
    const p = sb(['prune', 'elsewhere'], cwd);
    assert.equal(p.status, 2);
    assert.match(p.stderr, /no retention policy for .*elsewhere \(.*sqlite-backup\.toml covers .*backups, not this one\); nothing was removed/);
    assert.deepEqual(backupsIn(join(cwd, 'elsewhere')), names);
    const flags = sb(['prune', 'elsewhere', '--keep-last', '2'], cwd);
    assert.equal(flags.status, 0, flags.stderr);
    assert.deepEqual(backupsIn(join(cwd, 'elsewhere')), names.slice(-2));
    // With the config's own directory, a flag overrides that key and the others stay the config's.
    fakeBackups(join(cwd, 'backups'), 4);
    const own = sb(['prune', 'backups', '--keep-last', '1', '--dry-run'], cwd);
    assert.match(own.stdout, /^would remove 3, kept 1 \(keep_last=1; from flags, then backup_dir of /);
  });

  it('--keep-hourly/--keep-daily/--keep-monthly/--keep-yearly, and a broken default config is a config error', () => {
    const cwd = place();
    const names = fakeBackups(join(cwd, 'backups'), 30); // 2026-01-01 00:00 ... 2026-01-02 05:00, hourly
    const p = sb(['prune', 'backups', '--keep-last', '1', '--keep-hourly', '3', '--keep-daily', '2', '--json'], cwd);
    assert.equal(p.status, 0, p.stderr);
    const r = JSON.parse(p.stdout) as { kept: string[]; policy: Record<string, number> };
    assert.deepEqual(r.kept, [names[23], names[27], names[28], names[29]]); // newest of Jan 1, last 3 hours
    assert.deepEqual(r.policy, { keepLast: 1, keepHourly: 3, keepDaily: 2, keepWeekly: 0, keepMonthly: 0, keepYearly: 0 });
    const bad = sb(['prune', 'backups', '--keep-yearly', 'x'], cwd);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--keep-yearly expects a whole number >= 0, got "x"/);
    writeFileSync(join(cwd, 'sqlite-backup.toml'), 'keep_montly = 3\n');
    const broken = sb(['prune', 'backups', '--keep-last', '1'], cwd);
    assert.equal(broken.status, 2);
    assert.match(broken.stderr, /keep_montly.*did you mean "keep_monthly"/);
  });

  it('list and prune agree about a malformed latest.txt: one judgement, the same message', () => {
    const cwd = place();
    const names = fakeBackups(join(cwd, 'backups'), 3);
    for (const bad of ['../etc/passwd', 'notes.txt']) {
      writeFileSync(join(cwd, 'backups', 'latest.txt'), bad);
      const list = sb(['--json', 'list', 'backups'], cwd);
      const prune = sb(['--json', 'prune', 'backups', '--keep-last', '1'], cwd);
      assert.equal(list.status, 0, 'list still lists');
      assert.equal(prune.status, 1, 'prune refuses: it cannot tell what to protect');
      const listed = JSON.parse(list.stdout) as { backups: { isLatest: boolean }[]; latestProblem: { code: string; message: string } };
      const refused = JSON.parse(prune.stdout) as { error: { code: string; message: string } };
      assert.ok(listed.backups.every((e) => !e.isLatest));
      assert.deepEqual(listed.latestProblem, { ...refused.error, path: join(cwd, 'backups', 'latest.txt') });
      assert.match(refused.error.message, /latest\.txt.*; until it is fixed or removed, no backup counts as the latest and prune removes nothing/);
      // The human list shows the same message as a warning on stderr.
      assert.ok(sb(['list', 'backups'], cwd).stderr.includes(refused.error.message), bad);
      assert.deepEqual(backupsIn(join(cwd, 'backups')), names);
    }
  });
});

describe('a backup without its sidecar (killed between the two renames)', () => {
  const root = tempDir();

  /**
   * A directory with backups made by `backup`, then the crash state: `valid` is a copy of the newest
   * backup under a newer name without sidecar (a run killed after renaming its .gz), `corrupt` a
   * truncated one under a newer name still.
   */
  async function crashState(name: string, keepLast: number, count: number) {
    const dir = join(root, name);
    mkdirSync(dir);
    sqlite3(join(dir, 'app.db'), "CREATE TABLE t(a); INSERT INTO t VALUES ('x');");
    writeFileSync(join(dir, 'sqlite-backup.toml'), `source_path = "app.db"\nbackup_dir = "backups"\nkeep_last = ${keepLast}\n`);
    const config = await loadConfig(join(dir, 'sqlite-backup.toml'));
    const published: string[] = [];
    for (let i = 0; i < count; i++) published.push((await backup(config)).name);
    const backups = join(dir, 'backups');
    const newest = published.at(-1)!;
    const at = parseBackupName(newest)!.time.getTime();
    const valid = backupFileName('app', new Date(at + 1), 'vacuum');
    const corrupt = backupFileName('app', new Date(at + 2), 'vacuum');
    copyFileSync(join(backups, newest), join(backups, valid));
    const bytes = readFileSync(join(backups, newest));
    writeFileSync(join(backups, corrupt), bytes.subarray(0, bytes.length >> 1));
    return { dir, backups, config, published, valid, corrupt };
  }

  it('prune (keep_last = 1): the published backup stays, the valid one is adopted, the corrupt one removed', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const { dir, backups, published, valid, corrupt } = await crashState('prune', 1, 1);
    const latest = published[0]!;
    const dry = sb(['prune', '--dry-run', '--json'], dir);
    assert.equal(dry.status, 0, dry.stderr);
    const planned = JSON.parse(dry.stdout) as { kept: string[]; removed: string[]; unverified: string[] };
    assert.deepEqual([planned.kept, planned.removed, planned.unverified], [[latest], [], [valid, corrupt]], 'not counted, not removed');
    const p = sb(['prune'], dir);
    assert.equal(p.status, 0, p.stderr);
    assert.match(p.stdout, new RegExp(`adopted ${valid.replace(/\./g, '\\.')}: it had no sidecar; it verified`));
    assert.match(p.stdout, new RegExp(`removed ${corrupt.replace(/\./g, '\\.')}: it had no sidecar and failed verification`));
    assert.deepEqual(backupsIn(backups), [latest, valid]);
    assert.equal(readFileSync(join(backups, 'latest.txt'), 'utf8'), latest, 'latest.txt is untouched');
    // The adopted backup's sidecar is a real sha256sum line for its bytes.
    assert.equal(readFileSync(join(backups, valid + SIDECAR_SUFFIX), 'utf8'), `${hex(readFileSync(join(backups, valid)))}  ${valid}\n`);
    if (requirePeer(t, 'sha256sum')) run('sha256sum', ['-c', '--strict', `${latest}${SIDECAR_SUFFIX}`, `${valid}${SIDECAR_SUFFIX}`], { cwd: backups });
  });

  it('the next backup (keep_last = 3) adopts or removes them before pruning: no published backup loses its slot', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const { backups, config, published, valid, corrupt } = await crashState('backup', 3, 2);
    const r = await backup(config);
    // Counted: the two published, the adopted one and the new one; the corrupt one is gone.
    assert.deepEqual(r.pruned, [published[0]]);
    assert.deepEqual(backupsIn(backups), [published[1], valid, r.name]);
    assert.ok(existsSync(join(backups, valid + SIDECAR_SUFFIX)), 'adopted: its sidecar was written');
    assert.ok(!existsSync(join(backups, corrupt)));
  });
});
