/**
 * What the CLI says when something is in the way: the user's next step in the CLI's own words (its
 * flags, no library layer prefixes), the facts a script needs in --json (the lock holder's pid), and
 * warnings said once.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Output } from '../src/cli/output.js';
import { createWithCli } from './helpers/databases.js';
import { requirePeer, run } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const sb = (args: string[]) => run(process.execPath, [cli, ...args], { allowFail: true });

describe('CLI messages', () => {
  const dir = tempDir();

  it('ELOCKED: --json carries the holder\'s pid and host; the line names the pid', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    createWithCli(join(dir, 'app.db'), { rows: 5 });
    const backups = join(dir, 'backups');
    mkdirSync(backups);
    writeFileSync(join(dir, 'app.toml'), `source_path = "app.db"\nbackup_dir = "backups"\n`);
    // A live process that is not us holds the lock, as another backup would.
    const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      writeFileSync(join(backups, 'app.lock'), `${JSON.stringify({ pid: holder.pid, hostname: hostname(), startedAt: new Date().toISOString() })}\n`);
      const r = sb(['backup', '--config', join(dir, 'app.toml'), '--json']);
      assert.equal(r.status, 1, r.stderr);
      const { error } = JSON.parse(r.stdout) as { error: { code: string; pid?: number; host?: string; message: string } };
      assert.equal(error.code, 'ELOCKED');
      assert.equal(error.pid, holder.pid);
      assert.equal(error.host, hostname());
      assert.match(r.stderr, new RegExp(`^(?:\\S+Z )?sqlite-backup: ".*app\\.lock" is held by pid ${holder.pid} `, 'm'));
    } finally {
      holder.kill();
      await once(holder, 'exit');
      rmSync(join(backups, 'app.lock'), { force: true });
    }
  });

  it('the library\'s wording stays out: no [api] prefix, --force and not "force: true"', (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const r0 = sb(['backup', '--config', join(dir, 'app.toml')]);
    assert.equal(r0.status, 0, r0.stderr);
    const name = readFileSync(join(dir, 'backups', 'latest.txt'), 'utf8').trim();
    const r = sb(['restore', join(dir, 'backups', name), join(dir, 'app.db')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^(?:\S+Z )?sqlite-backup: ".*app\.db" already exists; pass --force to move it aside and replace it \[EDEST_EXISTS\]$/m);
    assert.doesNotMatch(r.stderr, /\[api\]|force: true/);
    const json = JSON.parse(sb(['restore', join(dir, 'backups', name), join(dir, 'app.db'), '--json']).stdout) as { error: { message: string } };
    assert.doesNotMatch(json.error.message, /\[api\]|force: true/);
  });

  it('a warning says WARNING once, whatever the library\'s message starts with', () => {
    const writes: string[] = [];
    const out = new Output({ stdout: { write: () => true }, stderr: { write: (s: string) => (writes.push(s), true) }, env: {} }, { json: false, quiet: true, verbose: false, timestamps: false });
    out.warn('[sftp] WARNING: host key checking is OFF for h:22');
    out.warn('a plain warning');
    assert.deepEqual(writes, ['WARNING: host key checking is OFF for h:22\n', 'WARNING: a plain warning\n']);
  });
});
