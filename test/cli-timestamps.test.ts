/**
 * Timestamps on the CLI's human messages, as documented: stderr messages carry one when stderr is not a
 * terminal (cron mail, a log file, a pipe), none on a terminal; `--timestamps` adds them to stdout's
 * results too; `--no-timestamps` and `--json` leave them out. Run as a user would: child processes,
 * and a real pseudo-terminal (util-linux `script`).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requirePeer, run, sqlite3 } from './helpers/peers.js';
import { ptyUnavailableReason, runInPty } from './helpers/pty.js';
import { tempDir } from './helpers/tmp.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const sb = (args: string[], cwd: string) => run(process.execPath, [cli, ...args], { allowFail: true, cwd });
/** An ISO 8601 UTC time to the second, then a space, at the start of a line. */
const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ /;
const STAMPED = (rest: string) => new RegExp(`${STAMP.source}${rest}`, 'm');

describe('CLI timestamps', () => {
  const dir = tempDir();
  const d = join(dir, 'case');
  mkdirSync(d);
  // A status that fails (no backup): a result on stdout and an error line on stderr.
  mkdirSync(join(d, 'empty'));

  it('piped stderr: every line stamped (errors, progress lines); stdout results not', (t) => {
    const r = sb(['status', 'empty'], d);
    assert.equal(r.status, 1);
    assert.match(r.stderr, STAMPED('sqlite-backup: no backup in '));
    // One time per message: its indented continuation lines (hint, caused by) are not stamped.
    for (const line of r.stderr.trimEnd().split('\n')) if (!line.startsWith(' ')) assert.match(line, STAMP, `stderr line without a time: ${line}`);
    assert.match(r.stdout, /^no backups in /, 'results stay as scripts read them');
    // Progress lines of a backup too (progress_log_interval), and the stamp is the current time.
    if (!requirePeer(t, 'sqlite3')) return;
    sqlite3(join(d, 'app.db'), 'CREATE TABLE t(x); INSERT INTO t VALUES (1);');
    writeFileSync(join(d, 'chatty.toml'), 'source_path = "app.db"\nbackup_dir = "backups"\nprogress_log_interval = "1ns"\n');
    const before = Date.now();
    const b = sb(['backup', '-c', 'chatty.toml'], d);
    assert.equal(b.status, 0, b.stderr);
    const m = STAMPED('\\[\\d+\\.\\ds\\] (snapshot|verify|compress)').exec(b.stderr);
    assert.ok(m, b.stderr);
    const at = Date.parse(m[0].slice(0, 20));
    assert.ok(at >= Math.floor(before / 1000) * 1000 && at <= Date.now(), m[0]);
    assert.doesNotMatch(b.stdout, STAMP);
  });

  it('--timestamps stamps stdout results too; --no-timestamps and --json stamp nothing', () => {
    const forced = sb(['--timestamps', 'status', 'empty'], d);
    assert.match(forced.stdout, STAMPED('no backups in '));
    assert.match(forced.stderr, STAMPED('sqlite-backup: '));
    const off = sb(['status', 'empty', '--no-timestamps'], d);
    assert.match(off.stdout, /^no backups in /);
    assert.match(off.stderr, /^sqlite-backup: no backup in /);
    const json = sb(['status', 'empty', '--json'], d);
    assert.equal((JSON.parse(json.stdout) as { ok: boolean }).ok, false);
    assert.match(json.stderr, /^sqlite-backup: no backup in /);
    // JSON objects are never stamped, even when asked for.
    const both = sb(['status', 'empty', '--json', '--timestamps'], d);
    assert.equal((JSON.parse(both.stdout) as { command: string }).command, 'status');
    assert.match(both.stderr, STAMPED('sqlite-backup: '));
  });

  it('on a terminal: no timestamps unless --timestamps', { skip: ptyUnavailableReason() }, async () => {
    const tty = await runInPty(process.execPath, [cli, 'status', 'empty'], { cwd: d, timeoutMs: 30_000 });
    assert.equal(tty.status, 1, tty.output);
    assert.match(tty.output, /^sqlite-backup: no backup in /m);
    assert.doesNotMatch(tty.output, /\d\d:\d\d:\d\dZ /);
    const forced = await runInPty(process.execPath, [cli, 'status', 'empty', '--timestamps'], { cwd: d, timeoutMs: 30_000 });
    assert.match(forced.output, STAMPED('sqlite-backup: no backup in '));
  });
});
