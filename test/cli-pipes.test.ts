/**
 * A reader that goes away never ends an operation: `sqlite-backup list dir | head -n 1` and
 * `sqlite-backup backup ... 2>&1 | head -c 10`. The CLI runs as a child process writing into real
 * pipes whose read ends the test closes early; the operation must finish, clean up and exit with its
 * own code.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLarge } from './helpers/databases.js';
import { requirePeer } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

interface Closed {
  status: number | null;
  signal: NodeJS.Signals | null;
  /** What the test read before closing. */
  seen: string;
}

/**
 * Runs the CLI with stdout and stderr on pipes; once `bytes` bytes arrived on either, closes the
 * read ends of both (as `head` exiting does) and waits for the exit.
 */
function runAndCloseEarly(args: string[], bytes: number): Promise<Closed> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    let closed = false;
    const onData = (chunk: Buffer): void => {
      if (closed) return;
      seen += chunk.toString('utf8');
      if (seen.length < bytes) return;
      closed = true;
      child.stdout.destroy();
      child.stderr.destroy();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('exit', (status, signal) => resolve({ status, signal, seen }));
  });
}

describe('CLI output to a pipe whose reader went away', () => {
  const dir = tempDir();

  it('list | head -n 1: exits 0, quietly', async () => {
    const d = join(dir, 'many');
    mkdirSync(d);
    // More than a pipe's buffer (64 KiB) of lines: the CLI is still writing when the reader closes.
    const t0 = Date.UTC(2026, 0, 1);
    for (let i = 0; i < 1500; i++) {
      const ts = new Date(t0 + i * 60_000).toISOString().replace(/[-:]/g, '');
      writeFileSync(join(d, `app-${ts}-vacuum.db.gz`), '');
    }
    const r = await runAndCloseEarly(['list', d], 1);
    assert.equal(r.signal, null);
    assert.equal(r.status, 0, `list must exit 0 after its reader left (saw ${JSON.stringify(r.seen.slice(0, 200))})`);
    assert.match(r.seen, /^2026-01-\d\dT/);
  });

  it('backup with progress lines, reader gone mid-backup: finishes, publishes, releases the lock, leaves no temp files', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const src = join(dir, 'big.db');
    createLarge(src, 24);
    const config = join(dir, 'chatty.toml');
    writeFileSync(config, `source_path = "${src}"\nbackup_dir = "${join(dir, 'backups')}"\nprogress_log_interval = "1ns"\n`);
    const r = await runAndCloseEarly(['backup', '--no-timestamps', '--config', config], 10);
    assert.equal(r.signal, null);
    assert.equal(r.status, 0, `backup must finish after its reader left (saw ${JSON.stringify(r.seen.slice(0, 200))})`);
    assert.match(r.seen, /^\[\d+\.\ds\] /, 'progress lines were being written when the reader left');
    const files = readdirSync(join(dir, 'backups'));
    assert.deepEqual(files.filter((f) => f.endsWith('.lock')), [], 'the lock is released');
    assert.deepEqual(files.filter((f) => f.includes('.tmp-')), [], 'no temp files left');
    const latest = readFileSync(join(dir, 'backups', 'latest.txt'), 'utf8').trim();
    assert.ok(files.includes(latest), `latest.txt names ${latest}, which exists`);
    const sidecar = readFileSync(join(dir, 'backups', `${latest}.sha256`), 'utf8');
    const hash = createHash('sha256').update(readFileSync(join(dir, 'backups', latest))).digest('hex');
    assert.equal(sidecar, `${hash}  ${latest}\n`, 'the published backup matches its sidecar');
  });
});
