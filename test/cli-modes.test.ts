/**
 * The CLI's modes, as a user meets them: `init`, `--json` / `--quiet` / `--verbose`, `--help` for
 * every command, the `backup --every` scheduler (stopped by a real SIGTERM), and the progress bar on
 * a real pseudo-terminal (util-linux `script`) against plain lines when stderr is a pipe.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requirePeer, run, sqlite3 } from './helpers/peers.js';
import { createLarge } from './helpers/databases.js';
import { ptyUnavailableReason, runInPty } from './helpers/pty.js';
import { startCli } from './helpers/cli-daemon.js';
import { tempDir } from './helpers/tmp.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const sb = (args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) =>
  run(process.execPath, [cli, ...args], { allowFail: true, cwd, env });
const SGR = /\x1b\[[0-9;]*m/;

describe('sqlite-backup CLI modes', () => {
  const dir = tempDir();
  let n = 0;
  const fresh = (): string => {
    const d = join(dir, `case-${n++}`);
    mkdirSync(d);
    return d;
  };

  it('init writes a template (0600) that backup then uses by default, and never overwrites', (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const d = fresh();
    const first = sb(['init'], d);
    assert.equal(first.status, 0, first.stderr);
    const file = join(d, 'sqlite-backup.toml');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^source_path = /m);
    const again = sb(['init'], d);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /already exists; it was left unchanged/);
    assert.equal(readFileSync(file, 'utf8'), text, 'the existing file is byte-identical');
    // The template's own source_path and backup_dir, then a backup with no --config at all.
    sqlite3(join(d, 'app.db'), 'CREATE TABLE t(x); INSERT INTO t VALUES (42);');
    const b = sb(['backup'], d);
    assert.equal(b.status, 0, b.stderr);
    assert.match(b.stdout, /^published .*\/backups\/app-.*\.db\.gz$/m);
    assert.equal(sb(['init', join(d, 'other.toml')], d).status, 0);
    assert.ok(existsSync(join(d, 'other.toml')));
  });

  it('--json: one object per result on stdout, errors too; --quiet: nothing but errors; --verbose: the cause chain', (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const d = fresh();
    sqlite3(join(d, 'app.db'), 'CREATE TABLE t(x); INSERT INTO t VALUES (1);');
    writeFileSync(join(d, 'sqlite-backup.toml'), 'source_path = "app.db"\nbackup_dir = "backups"\n');
    const b = sb(['backup', '--json'], d);
    assert.equal(b.status, 0, b.stderr);
    const lines = b.stdout.trim().split('\n');
    assert.equal(lines.length, 1, b.stdout);
    const result = JSON.parse(lines[0]!) as { command: string; ok: boolean; name: string; sha256: string };
    assert.equal(result.command, 'backup');
    assert.equal(result.ok, true);
    assert.equal(readFileSync(join(d, 'backups', 'latest.txt'), 'utf8'), result.name);
    assert.match(readFileSync(join(d, 'backups', `${result.name}.sha256`), 'utf8'), new RegExp(`^${result.sha256}  `));
    // Global flags before the command work too.
    const v = sb(['--json', 'verify', join(d, 'backups', result.name)], d);
    assert.equal(v.status, 0, v.stderr);
    assert.equal((JSON.parse(v.stdout) as { ok: boolean; checksum: string }).checksum, 'ok');

    const failed = sb(['verify', join(d, 'nope.db.gz'), '--json'], d);
    assert.equal(failed.status, 1);
    const err = JSON.parse(failed.stdout) as { ok: boolean; error: { code: string; path: string } };
    assert.deepEqual([err.ok, err.error.code], [false, 'EBACKUP_NOT_FOUND']);
    assert.match(failed.stderr, /nope\.db\.gz" does not exist \[EBACKUP_NOT_FOUND\]/, 'the stderr line stays');
    const usage = sb(['verify', '--json'], d);
    assert.equal(usage.status, 2);
    assert.equal((JSON.parse(usage.stdout) as { error: { code: string } }).error.code, 'EUSAGE');

    const quiet = sb(['backup', '-q'], d);
    assert.equal(quiet.status, 0, quiet.stderr);
    assert.equal(quiet.stdout + quiet.stderr, '', 'quiet success prints nothing');
    const quietFail = sb(['verify', '-q', join(d, 'nope.db.gz')], d);
    assert.equal(quietFail.status, 1);
    assert.match(quietFail.stderr, /EBACKUP_NOT_FOUND/, 'errors are never quiet');

    // A missing source: the plain line has no cause; --verbose shows the errno below it.
    writeFileSync(join(d, 'gone.toml'), 'source_path = "gone.db"\nbackup_dir = "backups"\n');
    const plain = sb(['backup', '-c', 'gone.toml'], d);
    const verbose = sb(['backup', '-c', 'gone.toml', '--verbose'], d);
    assert.equal(plain.status, 1);
    assert.equal(verbose.status, 1);
    assert.doesNotMatch(plain.stderr, /caused by/);
    assert.match(verbose.stderr, /\[ESOURCE_NOT_FOUND\]\n {2}caused by: .*ENOENT/);
  });

  it('--help for every command: its own usage on stdout, exit 0', () => {
    const d = fresh();
    for (const command of ['init', 'backup', 'pull', 'verify', 'restore', 'list', 'prune']) {
      const r = sb([command, '--help'], d);
      assert.equal(r.status, 0, `${command}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^usage: sqlite-backup ${command}`), command);
      assert.match(r.stdout, /--json/, `${command} lists the global options`);
    }
    const overview = sb(['--help'], d);
    assert.equal(overview.status, 0);
    for (const command of ['init', 'backup --every', 'pull', 'verify', 'restore', 'list', 'prune']) assert.match(overview.stdout, new RegExp(`  ${command}`));
    assert.match(sb(['help', 'prune'], d).stdout, /^usage: sqlite-backup prune/);
  });

  it('backup --every: backs up on schedule, survives a failing run, and stops cleanly on SIGTERM (exit 0)', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const d = fresh();
    // The source appears only later: the first runs fail, the schedule must go on.
    writeFileSync(join(d, 'sqlite-backup.toml'), 'source_path = "app.db"\nbackup_dir = "backups"\nkeep_last = 0\n');
    const run = startCli(t, ['backup', '--every', '300ms', '--jitter', '0', '--json'], { cwd: d });
    await run.waitFor('a failed run reported', () => /ESOURCE_NOT_FOUND/.test(run.stderr));
    sqlite3(join(d, 'app.db'), 'CREATE TABLE t(x); INSERT INTO t VALUES (1);');
    // Finished runs, as reported: a .gz appears before its run has written the sidecar and latest.txt,
    // so counting files would send SIGTERM into the middle of the second run.
    const reported = () => run.stdout.split('\n').filter((l) => l.includes('"ok":true')).length;
    await run.waitFor('two scheduled backups', () => reported() >= 2);
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0, run.stderr);
    assert.match(run.stderr, /SIGTERM: stopping[\s\S]*stopped/);
    const results = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { command: string; ok: boolean; name?: string });
    assert.ok(results.some((r) => !r.ok), 'the failed runs are reported as JSON too');
    const names = results.filter((r) => r.ok).map((r) => r.name);
    assert.ok(names.length >= 2);
    assert.deepEqual(
      readdirSync(join(d, 'backups')).filter((f) => f.includes('.tmp-') || f.endsWith('.lock')),
      [],
      'a clean stop leaves no temp file or lock',
    );
  });

  describe('progress', { skip: ptyUnavailableReason() }, () => {
    it('a bar redrawn in place on a TTY (colour unless NO_COLOR), plain lines when stderr is a pipe', async (t) => {
      if (!requirePeer(t, 'sqlite3')) return;
      const d = fresh();
      createLarge(join(d, 'app.db'), 8);
      writeFileSync(join(d, 'sqlite-backup.toml'), 'source_path = "app.db"\nbackup_dir = "backups"\nprogress_log_interval = "1ns"\n');
      const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm' };
      delete env.NO_COLOR;
      const tty = await runInPty(process.execPath, [cli, 'backup'], { cwd: d, env, columns: 100, timeoutMs: 60_000 });
      assert.equal(tty.status, 0, tty.output);
      assert.match(tty.output, /\r(\x1b\[[0-9;]*m)*(snapshot|verify|compress)(\x1b\[[0-9;]*m)* .*\d+%.*\x1b\[K/, 'a bar line: \\r, phase, percent, erase');
      assert.match(tty.output, SGR, 'colour on a terminal');
      assert.match(tty.output, /published .*\.db\.gz/);
      assert.doesNotMatch(tty.output, /\[\d+\.\ds\] /, 'no log lines on a terminal');

      const plain = await runInPty(process.execPath, [cli, 'backup'], { cwd: d, env: { ...env, NO_COLOR: '1' }, columns: 100, timeoutMs: 60_000 });
      assert.equal(plain.status, 0, plain.output);
      assert.match(plain.output, /\d+%.*\x1b\[K/);
      assert.doesNotMatch(plain.output, SGR, 'NO_COLOR: no colour codes');

      const piped = sb(['backup'], d, env);
      assert.equal(piped.status, 0, piped.stderr);
      assert.doesNotMatch(piped.stderr, /\r|\x1b\[/, 'no cursor codes into a pipe');
      assert.match(piped.stderr, /^(\S+Z )?\[\d+\.\ds\] (snapshot|verify|compress)/m, 'progress_log_interval lines instead');
    });
  });
});
