/**
 * The README's `npm start` demo, run as a user would: as a child process. Its backup is then checked
 * by independent tools (sha256sum -c, gzip -t, sqlite3). The CLI's own tests are in cli.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requirePeer, run, sqlite3 } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const demo = fileURLToPath(new URL('../scripts/demo/demo.js', import.meta.url));
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

describe('npm start demo', () => {
  const dir = tempDir();

  it('backs up, lists, verifies and restores the sample database; independent tools agree', (t) => {
    const root = join(dir, 'demo');
    const r = run(process.execPath, [demo, root]);
    for (const step of ['sample', 'config', 'backup', 'list', 'verify', 'restore', 'done']) {
      assert.match(r.stdout, new RegExp(`^${step} `, 'm'), `demo must report its ${step} step`);
    }
    const backups = join(root, 'backups');
    const latest = readFileSync(join(backups, 'latest.txt'), 'utf8');
    assert.match(latest, /^sample-\d{8}T\d{6}\.\d{3}Z-vacuum\.db\.gz$/);
    const files = [latest, `${latest}.sha256`];
    assert.deepEqual(readdirSync(backups).sort(), ['latest.txt', ...files].sort());
    if (!requirePeer(t, 'gzip') || !requirePeer(t, 'sqlite3')) return;
    run('sha256sum', ['-c', files[1]!], { cwd: backups });
    run('gzip', ['-t', files[0]!], { cwd: backups });
    const restored = join(root, 'restored.db');
    assert.equal(sqlite3(restored, 'PRAGMA integrity_check;').stdout.trim(), 'ok');
    assert.equal(sqlite3(restored, 'SELECT count(*) FROM orders;').stdout.trim(), '5000');
    // Running it again replaces its own directory...
    run(process.execPath, [demo, root]);
  });

  it('"try" lines: npx sqlite-backup commands that work as printed, and init for your own database', () => {
    const root = join(dir, 'try');
    const r = run(process.execPath, [demo, root]);
    const tries = r.stdout.slice(r.stdout.indexOf('\ntry ') + 1).split('\n').filter((l) => l.includes('npx '));
    assert.ok(tries.length >= 3, r.stdout);
    for (const line of tries) assert.match(line, /^(try|your db|) +npx sqlite-backup /, 'the command a user types, not a path into dist/');
    assert.match(r.stdout, /^your db +npx sqlite-backup init .*source_path and backup_dir/m);
    // Each suggested command, as printed (npx resolves to this CLI), from where the demo ran.
    for (const line of tries.filter((l) => !/ init /.test(l))) {
      const command = line.replace(/^(try|your db|) +npx sqlite-backup /, '').replace(/ +\(.*\)$/, '').split(' ');
      const c = run(process.execPath, [cli, ...command], { allowFail: true });
      assert.equal(c.status, 0, `${line}\n${c.stderr}`);
    }
  });

  it('never clears a directory it did not create', () => {
    const foreign = join(dir, 'mine');
    run(process.execPath, [demo, foreign]);
    writeFileSync(join(dir, 'keep.txt'), 'x');
    const r = run(process.execPath, [demo, dir], { allowFail: true });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /was not created by this demo/);
    assert.ok(readdirSync(dir).includes('keep.txt'));
  });
});
