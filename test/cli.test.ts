/**
 * The `sqlite-backup` command as a user runs it (a child process): one success path per command and
 * the exit code of each class of failure - 0 ok, 1 the operation failed, 2 usage or config error.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requirePeer, run, sqlite3 } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const sb = (args: string[], cwd?: string) => run(process.execPath, [cli, ...args], { allowFail: true, ...(cwd ? { cwd } : {}) });

describe('sqlite-backup CLI', () => {
  const dir = tempDir();

  it('backup, list, verify, restore, prune: exit 0 and say what they did', (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    sqlite3(join(dir, 'app.db'), "CREATE TABLE t(a); INSERT INTO t VALUES ('x'), ('y');");
    writeFileSync(join(dir, 'backup.toml'), 'source_path = "app.db"\nbackup_dir = "backups"\n');
    const b = sb(['backup', '--config', join(dir, 'backup.toml')]);
    assert.equal(b.status, 0, b.stderr);
    assert.match(b.stdout, /^published .*app-\d{8}T\d{6}\.\d{3}Z-vacuum\.db\.gz$/m);
    const name = readFileSync(join(dir, 'backups', 'latest.txt'), 'utf8');
    const list = sb(['list', join(dir, 'backups')]);
    assert.equal(list.status, 0);
    assert.match(list.stdout, new RegExp(`${name.replace(/\./g, '\\.')}  \\(latest, sha256\\)`));
    const json = JSON.parse(sb(['list', join(dir, 'backups'), '--json']).stdout) as { command: string; ok: boolean; backups: { name: string }[] };
    assert.equal(json.command, 'list');
    assert.deepEqual(json.backups.map((e) => e.name), [name]);
    const v = sb(['verify', join(dir, 'backups', name)]);
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /^ok: .*sha256 sidecar ok/);
    const r = sb(['restore', join(dir, 'backups', name), join(dir, 'restored.db')]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(sqlite3(join(dir, 'restored.db'), 'SELECT group_concat(a) FROM t').stdout.trim(), 'x,y');
    const p = sb(['prune', join(dir, 'backups'), '--dry-run', '--keep-last', '1']);
    assert.equal(p.status, 0, p.stderr);
    assert.match(p.stdout, /would remove 0, kept 1/);
    // progress_log_interval (a Go key) spaces the progress lines on stderr; stdout stays the result.
    writeFileSync(join(dir, 'chatty.toml'), 'source_path = "app.db"\nbackup_dir = "backups"\nprogress_log_interval = "1ns"\n');
    const chatty = sb(['backup', '-c', join(dir, 'chatty.toml')]);
    assert.equal(chatty.status, 0, chatty.stderr);
    assert.match(chatty.stderr, /^(\S+Z )?\[\d+\.\ds\] (snapshot|verify|compress|published)/m);
    assert.doesNotMatch(chatty.stdout, /\[\d+\.\ds\]/);
    assert.doesNotMatch(b.stderr, /\[\d+\.\ds\]/, 'the default interval (15s) prints nothing for a quick backup');
    assert.equal(sb(['--version']).stdout.trim(), JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
  });

  it('exit 1 when the operation fails, with one clear line naming what failed', (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const d = join(dir, 'fail');
    mkdirSync(d);
    writeFileSync(join(d, 'missing.toml'), 'source_path = "nope.db"\nbackup_dir = "b"\n');
    const missing = sb(['backup', '-c', join(d, 'missing.toml')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /nope\.db" does not exist \[ESOURCE_NOT_FOUND\]\n$/);
    writeFileSync(join(d, 'text.db'), 'just text, no database here '.repeat(10));
    writeFileSync(join(d, 'text.toml'), 'source_path = "text.db"\nbackup_dir = "b"\n');
    assert.match(sb(['backup', '-c', join(d, 'text.toml')]).stderr, /not a SQLite database.*\[ENOTADB\]/);
    const corrupt = join(d, 'corrupt.db.gz');
    writeFileSync(corrupt, Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]));
    const v = sb(['verify', corrupt]);
    assert.equal(v.status, 1);
    assert.match(v.stdout, /^NOT OK: /);
    const gone = sb(['verify', join(d, 'gone.db.gz')]);
    assert.equal(gone.status, 1);
    assert.match(gone.stderr, /gone\.db\.gz/);
    sqlite3(join(d, 'target.db'), 'CREATE TABLE keep(x);');
    const src = join(dir, 'backups', readFileSync(join(dir, 'backups', 'latest.txt'), 'utf8'));
    const refused = sb(['restore', src, join(d, 'target.db')]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /already exists.*--force.*\[EDEST_EXISTS\]/);
    assert.equal(sqlite3(join(d, 'target.db'), "SELECT name FROM sqlite_schema").stdout.trim(), 'keep');
    assert.deepEqual(readdirSync(d).filter((f) => f.includes('.tmp-')), []);
  });

  it('exit 2 for usage and config errors', () => {
    const d = join(dir, 'usage');
    mkdirSync(d);
    const cases: [string[], RegExp][] = [
      [[], /usage: sqlite-backup/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['backup'], /sqlite-backup\.toml" does not exist \[ECONFIG\]\n  hint: .*sqlite-backup init/],
      [['backup', '--config', join(d, 'none.toml')], /config file ".*none\.toml" does not exist/],
      [['list'], /give a directory, or --config <file> with backup_dir/],
      [['verify', 'a', 'b'], /expected <file>/],
      [['verify', 'x.db', '--frob'], /verify: unknown option --frob\n/],
      // A typo gets the closest option; an option of another command says whose it is.
      [['restore', 'a.db.gz', 'b.db', '--forse'], /restore: unknown option --forse \(did you mean --force\?\)/],
      [['prune', d, '--keep-lats', '2'], /unknown option --keep-lats \(did you mean --keep-last\?\)/],
      [['backup', '--keep-last', '3'], /backup: unknown option --keep-last: it is an option of "prune"/],
      [['prune', d, '--keep-last', 'many'], /--keep-last expects a whole number/],
      [['backup', '--every', '0s'], /--every expects a duration longer than 0/],
      [['backup', '--every', 'daily'], /--every expects a duration/],
      [['backup', '--jitter', '1m'], /--jitter needs --every/],
      [['backup', '--every', '1h', '--jitter', 'soon'], /--jitter expects a duration/],
      [['init', 'a', 'b'], /expected \[file\]/],
    ];
    writeFileSync(join(d, 'bad.toml'), 'source_path = "a.db"\nbackup_dir = 5\nkeep_lats = 3\nstrategy = "fast"\n');
    cases.push([['backup', '-c', join(d, 'bad.toml')], /has 3 problems:\n.*backup_dir.*\n.*keep_lats.*did you mean "keep_last"[\s\S]*strategy/]);
    writeFileSync(join(d, 'broken.toml'), 'source_path = "a.db\n');
    cases.push([['backup', '-c', join(d, 'broken.toml')], /line 1.*invalid TOML/]);
    writeFileSync(join(d, 'pullonly.toml'), '[pull]\nhost = "h"\nuser = "u"\nremote_dir = "/r"\nlocal_dir = "l"\n');
    cases.push([['backup', '-c', join(d, 'pullonly.toml')], /source_path/]);
    writeFileSync(join(d, 'nul.toml'), 'source_path = "a\\u0000.db"\nbackup_dir = "b"\n');
    cases.push([['backup', '-c', join(d, 'nul.toml')], /source_path \(line 1\): must not contain a NUL character.*\[ECONFIG\]/]);
    for (const [args, message] of cases) {
      const r = sb(args, d);
      assert.equal(r.status, 2, `sqlite-backup ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, `sqlite-backup ${args.join(' ')}`);
    }
  });
});
