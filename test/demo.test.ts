/**
 * The README's `npm start` demo and the first CLI command, run as a user would: as child processes.
 * The demo's backup is then checked by independent tools (sha256sum -c, gzip -t, sqlite3).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requirePeer, run, sqlite3 } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const demo = fileURLToPath(new URL('../src/cli/demo.js', import.meta.url));
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

describe('npm start demo', () => {
  const dir = tempDir();

  it('backs up, lists, verifies and restores the sample database; independent tools agree', (t) => {
    const root = join(dir, 'demo');
    const r = run(process.execPath, [demo, root]);
    for (const step of ['sample', 'backup', 'list', 'verify', 'restore', 'done']) {
      assert.match(r.stdout, new RegExp(`^${step} `, 'm'), `demo must report its ${step} step`);
    }
    const backups = join(root, 'backups');
    const files = readdirSync(backups).sort();
    assert.equal(files.length, 2, files.join(', '));
    assert.match(files[0]!, /^sample-\d{8}T\d{6}\.\d{3}Z-vacuum\.db\.gz$/);
    assert.equal(files[1], `${files[0]}.sha256`);
    if (!requirePeer(t, 'gzip') || !requirePeer(t, 'sqlite3')) return;
    run('sha256sum', ['-c', files[1]!], { cwd: backups });
    run('gzip', ['-t', files[0]!], { cwd: backups });
    const restored = join(root, 'restored.db');
    assert.equal(sqlite3(restored, 'PRAGMA integrity_check;').stdout.trim(), 'ok');
    assert.equal(sqlite3(restored, 'SELECT count(*) FROM orders;').stdout.trim(), '5000');
    // Running it again replaces its own directory...
    run(process.execPath, [demo, root]);
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

describe('sqlite-backup CLI (first commands)', () => {
  const dir = tempDir();

  it('verify: exit 0 and "ok" for a healthy database, 1 for a missing one, 2 for bad usage', (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const db = join(dir, 'x.db');
    sqlite3(db, 'CREATE TABLE t(a); INSERT INTO t VALUES (1);');
    const ok = run(process.execPath, [cli, 'verify', db]);
    assert.match(ok.stdout, /^ok: /);
    const missing = run(process.execPath, [cli, 'verify', join(dir, 'nope.db')], { allowFail: true });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /does not exist.*ESOURCE_NOT_FOUND/);
    const usage = run(process.execPath, [cli, 'verify'], { allowFail: true });
    assert.equal(usage.status, 2);
    const version = run(process.execPath, [cli, '--version']);
    assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+$/);
  });
});
