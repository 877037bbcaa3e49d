/**
 * File system failures a user causes - a database they may not read, a backup directory they may not
 * write, a file where the directory should be - are typed BackupErrors with a documented code, the
 * errno name (a string, as the .d.ts says) and the path, in the library, the CLI's message and its
 * --json; never EINTERNAL. Permissions mean nothing to root, so the commands run as `nobody` (setpriv)
 * when the tests run as root, and as the current user otherwise.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createWalWithUncheckpointedFrames, createWithCli } from './helpers/databases.js';
import { hasCommand, requirePeer, run, type RunResult } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const library = new URL('../src/index.js', import.meta.url).href;

const asRoot = process.getuid?.() === 0;

/** Runs node with `args` as a user without root's powers (nobody when we are root). */
function nodeAsUser(t: TestContext, args: string[]): RunResult | undefined {
  if (!asRoot) return run(process.execPath, args, { allowFail: true });
  if (!hasCommand('setpriv')) {
    if (process.env.CI) throw new Error('setpriv (util-linux) is needed to drop root for this test');
    t.skip('running as root without setpriv');
    return undefined;
  }
  return run('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, ...args], { allowFail: true });
}

interface JsonError {
  code: string;
  message: string;
  path?: string;
  errno?: unknown;
}

/** `sqlite-backup backup --config <file> --json` as that user: exit code, the JSON error, stderr. */
function cliBackup(t: TestContext, config: string): { status: number; error: JsonError; stderr: string } | undefined {
  const r = nodeAsUser(t, [cli, 'backup', '--config', config, '--json']);
  if (!r) return undefined;
  const out = JSON.parse(r.stdout) as { ok: boolean; error: JsonError };
  assert.equal(out.ok, false, r.stdout);
  return { status: r.status, error: out.error, stderr: r.stderr };
}

/** backup(parseConfig(<file>)) through the public API, as that user: the rejection's fields. */
function libraryBackup(t: TestContext, config: string): Record<string, unknown> | undefined {
  const script = `
    import { readFileSync } from 'node:fs';
    const { backup, parseConfig, BackupError } = await import(${JSON.stringify(library)});
    try {
      await backup(parseConfig(readFileSync(${JSON.stringify(config)}, 'utf8')));
      console.log(JSON.stringify({ resolved: true }));
    } catch (e) {
      console.log(JSON.stringify({ isBackupError: e instanceof BackupError, code: e.code, errno: e.errno, errnoType: typeof e.errno, path: e.path, message: e.message }));
    }`;
  const r = nodeAsUser(t, ['--input-type=module', '-e', script]);
  if (!r) return undefined;
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe('file system errors a user causes: typed in the library, the CLI and --json', () => {
  const dir = tempDir();
  // The user running the commands must reach the files (mkdtemp makes 0700).
  chmodSync(dir, 0o755);
  const backups = join(dir, 'backups');
  mkdirSync(backups, { mode: 0o777 });
  chmodSync(backups, 0o777);
  const configFor = (name: string, source: string, backupDir = backups): string => {
    const file = join(dir, `${name}.toml`);
    writeFileSync(file, `source_path = ${JSON.stringify(source)}\nbackup_dir = ${JSON.stringify(backupDir)}\n`);
    chmodSync(file, 0o644);
    return file;
  };

  it('an unreadable source database: EIO, errno "EACCES", the path, "permission denied"', (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const source = join(dir, 'secret.db');
    createWithCli(source, { rows: 10 });
    chmodSync(source, 0o000);
    const config = configFor('secret', source);
    const c = cliBackup(t, config);
    if (!c) return;
    assert.equal(c.status, 1);
    assert.deepEqual({ code: c.error.code, errno: c.error.errno, path: c.error.path }, { code: 'EIO', errno: 'EACCES', path: source });
    assert.match(c.error.message, /permission denied/);
    assert.match(c.stderr, /^sqlite-backup: .*secret\.db" cannot be read: permission denied \(EACCES\) \[EIO\]$/m);
    const lib = libraryBackup(t, config)!;
    assert.deepEqual(
      { isBackupError: lib.isBackupError, code: lib.code, errno: lib.errno, errnoType: lib.errnoType, path: lib.path },
      { isBackupError: true, code: 'EIO', errno: 'EACCES', errnoType: 'string', path: source },
    );
  });

  it('a readable database whose -wal is not: EIO naming the -wal', (t) => {
    if (!requirePeer(t, 'python3')) return;
    const source = join(dir, 'wal.db');
    createWalWithUncheckpointedFrames(source, 20);
    chmodSync(source, 0o644);
    chmodSync(`${source}-wal`, 0o000);
    const config = configFor('wal', source);
    const c = cliBackup(t, config);
    if (!c) return;
    assert.equal(c.status, 1);
    assert.deepEqual({ code: c.error.code, errno: c.error.errno, path: c.error.path }, { code: 'EIO', errno: 'EACCES', path: `${source}-wal` });
    const lib = libraryBackup(t, config)!;
    assert.deepEqual({ code: lib.code, errnoType: lib.errnoType, path: lib.path }, { code: 'EIO', errnoType: 'string', path: `${source}-wal` });
  });

  it('backup_dir not writable, or a file: EDEST_DIR saying so (not a lock-file EIO)', (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const source = join(dir, 'app.db');
    createWithCli(source, { rows: 10 });
    chmodSync(source, 0o644);
    const readOnly = join(dir, 'read-only');
    mkdirSync(readOnly, { mode: 0o555 });
    chmodSync(readOnly, 0o555);
    const ro = cliBackup(t, configFor('ro', source, readOnly));
    if (!ro) return;
    assert.equal(ro.status, 1);
    assert.deepEqual({ code: ro.error.code, errno: ro.error.errno, path: ro.error.path }, { code: 'EDEST_DIR', errno: 'EACCES', path: readOnly });
    assert.match(ro.stderr, /^sqlite-backup: backup directory ".*read-only" is not writable: permission denied \(EACCES\) \[EDEST_DIR\]$/m);
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    const f = cliBackup(t, configFor('file', source, file))!;
    assert.equal(f.status, 1);
    assert.equal(f.error.code, 'EDEST_DIR');
    assert.match(f.stderr, /^sqlite-backup: backup directory ".*a-file" is a file, not a directory \[EDEST_DIR\]$/m);
  });
});
