/**
 * The library bundled with esbuild into one directory, as an Electron app ships it, and run from a
 * copy of that directory with no node_modules anywhere above it: backup + verify (SQLite-WASM in the
 * engine worker, gzip in the compress workers), and a pull over SFTP (ssh2 bundled). The copies with
 * sqlite3.wasm or compress-worker.js taken out must fail: the run really loads what the directory ships.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join } from 'node:path';
import { tempDir } from './helpers/tmp.js';
import { hasCommand, requirePeer, sqlite3 } from './helpers/peers.js';
import { createLarge } from './helpers/databases.js';
import { runBytes } from './helpers/gzip.js';
import { findFiles, REPO_ROOT } from './helpers/pack.js';
import { requireSshd, startSshd, type Sshd } from './helpers/sshd.js';
import { bundleConsumer, ENTRY_NAMES, WASM_NAME, type BundleOutput } from './helpers/bundle.js';

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node bundle-consumer.js <job>` in `dir`, with nothing from our environment that could resolve modules. */
function runConsumer(dir: string, job: object): Promise<Outcome> {
  const env = { ...process.env };
  // NODE_TEST_CONTEXT would make the child report to our test runner.
  for (const k of ['NODE_PATH', 'NODE_OPTIONS', 'NODE_TEST_CONTEXT']) delete env[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(dir, 'bundle-consumer.js'), JSON.stringify(job)], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every directory from `dir` up to the root that has a node_modules a bundle could resolve from. */
function nodeModulesAbove(dir: string): string[] {
  const found: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) found.push(join(d, 'node_modules'));
    if (dirname(d) === d) return found;
  }
}

const rowCount = (db: string): string => sqlite3(db, 'SELECT count(*) FROM big;').stdout.trim();

describe('bundled with esbuild into one directory, run with no node_modules', { concurrency: false }, () => {
  const root = tempDir('sqlite-backup-bundle-');
  const source = join(root, 'app.db');
  let bundle: BundleOutput;
  /** The shipped directory: a copy of the build output, away from the repository. */
  const app = join(root, 'app');
  /** A copy of `app` with one file removed (for the negative checks). */
  function without(file: string): string {
    const dir = join(root, `app-without-${file}`);
    cpSync(app, dir, { recursive: true });
    rmSync(join(dir, file));
    return dir;
  }
  let server: Sshd | undefined;
  after(async () => {
    await server?.stop();
  });

  before(async () => {
    bundle = await bundleConsumer(join(root, 'build'));
    cpSync(bundle.dir, app, { recursive: true });
    // Over 1 MiB (CHUNK_SIZE): backup() then deflates in the compress workers, not inline.
    if (hasCommand('sqlite3')) createLarge(source, 3);
  });

  it('the directory holds the three entries, sqlite3.wasm and package.json; no native addon; externals are node builtins', () => {
    assert.deepEqual(readdirSync(app).sort(), [...ENTRY_NAMES, WASM_NAME, 'package.json'].sort());
    assert.deepEqual(findFiles(app, '.node'), []);
    assert.deepEqual(nodeModulesAbove(app), [], 'a node_modules above the run directory would let the bundle resolve packages');
    const externals = new Set<string>();
    for (const out of Object.values(bundle.metafile.outputs)) for (const i of out.imports) if (i.external) externals.add(i.path);
    // ssh2's optional native parts stay out (it catches their load failure); everything else is bundled.
    const other = [...externals].filter((p) => !isBuiltin(p) && p !== 'cpu-features' && !p.endsWith('.node'));
    assert.deepEqual(other, []);
    const inputs = Object.keys(bundle.metafile.inputs);
    for (const pkg of ['ssh2-sftp-client', 'ssh2', '@sqlite.org/sqlite-wasm', 'fflate', 'smol-toml']) {
      assert.ok(inputs.some((p) => p.startsWith(`node_modules/${pkg}/`)), `${pkg} is bundled`);
    }
    // No absolute path of the build machine: the directory works wherever it is copied.
    for (const name of ENTRY_NAMES) assert.ok(!readFileSync(join(app, name), 'utf8').includes(REPO_ROOT), `${name} names ${REPO_ROOT}`);
  });

  it('backup + verify from the copied directory: a gzip that gunzip -dc and sqlite3 accept', async (t) => {
    if (!requirePeer(t, 'sqlite3') || !requirePeer(t, 'gzip')) return;
    const backupDir = join(root, 'backups');
    const r = await runConsumer(app, { source, backupDir });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { backup: { path: string; dbBytes: number }; verify: { ok: boolean; messages: string[]; checksum: string } };
    assert.ok(existsSync(out.backup.path), out.backup.path);
    assert.ok(out.backup.dbBytes > 2 * 1024 * 1024, `dbBytes ${out.backup.dbBytes}`);
    assert.deepEqual(out.verify, { ok: true, messages: ['ok'], checksum: 'ok' });
    const restored = join(root, 'gunzipped.db');
    writeFileSync(restored, runBytes('gzip', ['-dc', out.backup.path]));
    assert.equal(sqlite3(restored, 'PRAGMA integrity_check;').stdout.trim(), 'ok');
    assert.equal(rowCount(restored), rowCount(source));
  });

  it('pull over SFTP from a real sshd, run from the copied directory (ssh2 is in the bundle)', async (t) => {
    if (!requirePeer(t, 'sqlite3') || !requireSshd(t)) return;
    server = await startSshd();
    const knownHosts = join(root, 'known_hosts');
    writeFileSync(knownHosts, `${server.knownHostsLine()}\n`);
    const remote = join(server.sftpRoot, 'backups');
    const local = join(root, 'pulled');
    const restoreTo = join(root, 'restored.db');
    const pull = {
      host: server.host,
      port: server.port,
      user: server.username,
      privateKeyPath: server.userKey.privatePath,
      knownHosts,
      remoteDir: 'backups',
      localDir: local,
      restoreTo,
    };
    const r = await runConsumer(app, { source, backupDir: remote, pull });
    assert.equal(r.code, 0, `${r.stderr}\n${server.log()}`);
    const out = JSON.parse(r.stdout) as { backup: { name: string }; pull: { status: string; name: string; path: string; remoteChecksum: string; restoredTo: string } };
    assert.equal(out.pull.status, 'pulled');
    assert.equal(out.pull.name, out.backup.name);
    assert.equal(out.pull.remoteChecksum, 'ok');
    assert.deepEqual(readFileSync(out.pull.path), readFileSync(join(remote, out.backup.name)));
    assert.equal(out.pull.restoredTo, restoreTo);
    assert.equal(sqlite3(restoreTo, 'PRAGMA integrity_check;').stdout.trim(), 'ok');
    assert.equal(rowCount(restoreTo), rowCount(source));
  });

  it('a backup-only bundle (ssh2-sftp-client external, no banner) backs up and verifies; only a pull needs ssh2', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const slim = await bundleConsumer(join(root, 'build-slim'), { sftp: false });
    assert.ok(!Object.keys(slim.metafile.inputs).some((p) => p.includes('node_modules/ssh2')), 'ssh2 is not bundled');
    const dir = join(root, 'app-slim');
    cpSync(slim.dir, dir, { recursive: true });
    const backupDir = join(root, 'backups-slim');
    const ok = await runConsumer(dir, { source, backupDir });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { verify: { ok: boolean } }).verify.ok, true);
    // The pull then fails on the first connect, saying what is missing (nothing listens on port 1).
    const key = join(root, 'no-key');
    writeFileSync(key, 'not a key\n', { mode: 0o600 });
    const pull = { host: '127.0.0.1', port: 1, user: 'nobody', privateKeyPath: key, knownHosts: key, remoteDir: 'b', localDir: join(root, 'slim-pulled'), restoreTo: join(root, 'slim.db') };
    const failed = await runConsumer(dir, { source, backupDir, pull });
    assert.notEqual(failed.code, 0);
    assert.match(failed.stderr, /"error":.*ssh2-sftp-client/);
  });

  it('without sqlite3.wasm the same directory fails, naming the file; no backup is published', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const backupDir = join(root, 'backups-no-wasm');
    mkdirSync(backupDir);
    const r = await runConsumer(without(WASM_NAME), { source, backupDir });
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /"error":.*ENOENT.*sqlite3\.wasm/);
    assert.deepEqual(readdirSync(backupDir).filter((f) => f.endsWith('.gz')), []);
  });

  it('without compress-worker.js the backup fails with ECOMPRESS_WORKER: the gzip really runs in the shipped worker', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const backupDir = join(root, 'backups-no-worker');
    mkdirSync(backupDir);
    const r = await runConsumer(without('compress-worker.js'), { source, backupDir });
    assert.notEqual(r.code, 0);
    const err = (JSON.parse(r.stderr.trim().split('\n').at(-1)!) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, 'ECOMPRESS_WORKER', err.message);
    assert.match(err.message, /compress-worker\.js/);
    assert.deepEqual(readdirSync(backupDir).filter((f) => f.endsWith('.gz')), []);
  });
});
