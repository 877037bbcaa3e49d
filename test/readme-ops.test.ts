/**
 * The README's operator recipes, run: the systemd service + timer (checked by `systemd-analyze verify`
 * when it is installed, and their ExecStart run), and the crontab lines (each command run: silent on
 * success, so cron mails only on failure, and loud when the backup is missing). `/srv/app` in the
 * recipes becomes a temp directory holding a real database, config and `node_modules/.bin/sqlite-backup`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasCommand, requirePeer, run, sqlite3 } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** The body of every fenced block whose first line is `# <marker>...`. */
function blocksStartingWith(marker: string): string[] {
  return [...readme.matchAll(/^```[a-z]*\n([\s\S]*?)^```$/gm)].map((m) => m[1]!).filter((b) => b.startsWith(`# ${marker}`));
}

/** A stand-in for `/srv/app`: app.db, sqlite-backup.toml, and the CLI at node_modules/.bin/sqlite-backup. */
function fakeApp(root: string): string {
  const app = join(root, 'srv', 'app');
  mkdirSync(join(app, 'node_modules', '.bin'), { recursive: true });
  sqlite3(join(app, 'app.db'), "CREATE TABLE t(x); INSERT INTO t VALUES ('nightly');");
  writeFileSync(join(app, 'sqlite-backup.toml'), 'source_path = "app.db"\nbackup_dir = "backups"\n');
  const bin = join(app, 'node_modules', '.bin', 'sqlite-backup');
  writeFileSync(bin, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(cli)} "$@"\n`);
  chmodSync(bin, 0o755);
  return app;
}

/** A command line of the recipes (no quoting in them) with /srv/app moved to `app`. */
function argv(line: string, app: string): string[] {
  return line.replace(/\/srv\/app/g, app).trim().split(/\s+/);
}

describe('README operator recipes', () => {
  const dir = tempDir();

  it('the systemd service and timer: valid units, and ExecStart backs up', (t) => {
    const [service] = blocksStartingWith('/etc/systemd/system/sqlite-backup.service');
    const [timer] = blocksStartingWith('/etc/systemd/system/sqlite-backup.timer');
    assert.ok(service && timer, 'the README shows sqlite-backup.service and sqlite-backup.timer');
    assert.match(timer, /^OnCalendar=/m);
    assert.match(service, /^Type=oneshot$/m);
    const exec = /^ExecStart=(.*)$/m.exec(service)?.[1];
    assert.ok(exec, 'the service has an ExecStart=');
    if (!requirePeer(t, 'sqlite3')) return;
    const app = fakeApp(join(dir, 'systemd'));
    // The flags parse (strict: an unknown one is exit 2) ...
    const [bin, ...args] = argv(exec, app);
    assert.equal(run(bin!, [...args, '--help'], { allowFail: true }).status, 0, exec);
    // ... and the command does what the unit is for.
    const r = run(bin!, args, { allowFail: true, cwd: app });
    assert.equal(r.status, 0, r.stderr);
    assert.match(readFileSync(join(app, 'backups', 'latest.txt'), 'utf8'), /^app-\d{8}T.*\.db\.gz$/);
    if (!hasCommand('systemd-analyze')) {
      t.diagnostic('systemd-analyze not installed: the unit files themselves were not verified');
      return;
    }
    const units = join(dir, 'units');
    mkdirSync(units);
    writeFileSync(join(units, 'sqlite-backup.service'), service.replace(/\/srv\/app/g, app));
    writeFileSync(join(units, 'sqlite-backup.timer'), timer);
    const v = run('systemd-analyze', ['verify', join(units, 'sqlite-backup.service'), join(units, 'sqlite-backup.timer')], { allowFail: true });
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stderr.trim(), '', 'no warnings about the units');
    const calendar = /^OnCalendar=(.*)$/m.exec(timer)![1]!;
    assert.equal(run('systemd-analyze', ['calendar', calendar], { allowFail: true }).status, 0, calendar);
  });

  it('the crontab: silent on success (cron mails nothing), says why on failure', (t) => {
    const [crontab] = blocksStartingWith('crontab -e');
    assert.ok(crontab, 'the README shows a crontab');
    const jobs = crontab.split('\n').flatMap((l) => {
      const m = /^([\d*/,-]+\s+){5}(\/.*)$/.exec(l);
      return m ? [m[2]!] : [];
    });
    assert.equal(jobs.length, 2, crontab);
    assert.match(crontab, /^MAILTO=/m);
    if (!requirePeer(t, 'sqlite3')) return;
    const app = fakeApp(join(dir, 'cron'));
    const [backupJob, statusJob] = jobs.map((j) => argv(j, app));
    assert.equal(backupJob![1], 'backup');
    assert.equal(statusJob![1], 'status');
    for (const [bin, ...args] of [backupJob!, statusJob!]) {
      const r = run(bin!, args, { allowFail: true, cwd: '/' });
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout + r.stderr, '', `${args.join(' ')} printed something: cron would mail it`);
    }
    // The backups are gone (the job never ran): the check prints why, with a time, and fails.
    rmSync(join(app, 'backups'), { recursive: true });
    const [bin, ...args] = statusJob!;
    const r = run(bin!, args, { allowFail: true, cwd: '/' });
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ sqlite-backup: no backup of "app" in ".*backups"/);
  });
});
