/**
 * The smoke test `npm run portability` runs once per Node runtime: the installed package's CLI and
 * library, run by that runtime's `node`, on a small database the host's native `sqlite3` wrote, with
 * the host's `sqlite3` as the judge of the restored copy. Every step records pass/fail, time and the
 * error, and a step whose input is missing (the backup failed) is skipped rather than failed twice.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Step names in run order; the report's table has one column per step. */
export const STEPS = ['node', 'version', 'import', 'backup', 'verify', 'restore', 'check'];

/** Runs a command and returns its result; a timeout kills it (SIGKILL: qemu may ignore SIGTERM mid-JIT). */
export function run(cmd, args, { cwd, env, timeoutMs, input } = {}) {
  const r = spawnSync(cmd, args, {
    cwd,
    env: env ?? process.env,
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
    ...(input !== undefined ? { input } : {}),
  });
  return r;
}

/** One line per failure: the command, how it ended, and the tail of what it printed. */
function describeFailure(what, r, timeoutMs) {
  const tail = (s) => (s ?? '').trim().split('\n').slice(-8).join('\n');
  let how;
  if (r.error?.code === 'ETIMEDOUT') how = `timed out after ${Math.round(timeoutMs / 1000)} s`;
  else if (r.error) how = r.error.message;
  else if (r.signal) how = `killed by ${r.signal}`;
  else how = `exited ${r.status}`;
  const out = [tail(r.stderr), tail(r.stdout)].filter(Boolean).join('\n');
  return `${what} ${how}${out ? `:\n${out}` : ''}`;
}

/** The host's native sqlite3 CLI (a second opinion that shares no code with the package). */
function sqlite3(db, sql) {
  const r = run('sqlite3', [db], { input: sql, timeoutMs: 60_000 });
  if (r.error || r.status !== 0) throw new Error(describeFailure(`sqlite3 ${db}`, r, 60_000));
  return r.stdout;
}

/**
 * Writes the fixture once, with the host's sqlite3: several tables, an index, a view, text, blobs
 * and NULLs, a few hundred rows over several pages - small, but not a one-page database.
 */
export function writeFixture(path) {
  sqlite3(
    path,
    `PRAGMA page_size = 4096;
     CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE, note TEXT);
     CREATE TABLE blobs (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id), data BLOB);
     CREATE INDEX blobs_user ON blobs(user_id);
     CREATE VIEW user_blob_count AS SELECT u.id, count(b.id) AS n FROM users u LEFT JOIN blobs b ON b.user_id = u.id GROUP BY u.id;
     WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 400)
       INSERT INTO users (name, email, note) SELECT 'user ' || i, 'u' || i || '@example.org', CASE WHEN i % 7 = 0 THEN NULL ELSE 'caf\u00e9 ' || hex(randomblob(16)) END FROM c;
     WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300)
       INSERT INTO blobs (user_id, data) SELECT 1 + (i % 400), randomblob(200 + i) FROM c;
     PRAGMA user_version = 7;`,
  );
}

/**
 * The smoke steps for one runtime.
 * - runtime.command: argv prefix that runs this `node` (e.g. `[qemu, '-L', prefix, node]`).
 * - projectDir: a project with the package installed (node_modules/.bin/sqlite-backup).
 * - fixture: the database to back up (copied into workDir first, so runtimes never share files).
 * - expectedVersion: what `--version` must print (the installed package.json's version).
 * Returns `{ nodeVersion, arch, steps: [{ name, ok, skipped, ms, error? }] }`.
 */
export function runSmoke({ runtime, projectDir, fixture, workDir, expectedVersion, timeoutMs, env, onStep }) {
  mkdirSync(workDir, { recursive: true });
  const [cmd, ...prefix] = runtime.command;
  const cli = join(projectDir, 'node_modules', '.bin', 'sqlite-backup');
  const node = (args, cwd = workDir) => run(cmd, [...prefix, ...args], { cwd, env, timeoutMs });
  const steps = [];
  const facts = { nodeVersion: null, arch: null };
  const state = {};

  const step = (name, needs, body) => {
    if (needs.some((n) => !steps.find((s) => s.name === n)?.ok)) {
      steps.push({ name, ok: false, skipped: true, ms: 0 });
      onStep?.(steps.at(-1));
      return;
    }
    const started = performance.now();
    let error;
    try {
      body();
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    const ms = Math.round(performance.now() - started);
    steps.push({ name, ok: error === undefined, skipped: false, ms, ...(error !== undefined ? { error } : {}) });
    onStep?.(steps.at(-1));
  };
  // Runs the CLI with --json and returns the parsed last line; a non-zero exit or ok:false throws.
  const cliJson = (what, args) => {
    const r = node([cli, ...args, '--json']);
    if (r.error || r.status !== 0) throw new Error(describeFailure(what, r, timeoutMs));
    const last = r.stdout.trim().split('\n').at(-1) ?? '';
    const result = JSON.parse(last);
    if (result.ok !== true) throw new Error(`${what} printed ok=${result.ok}: ${last}`);
    return result;
  };

  step('node', [], () => {
    const r = node(['-p', 'JSON.stringify({ version: process.version, arch: process.arch, platform: process.platform })']);
    if (r.error || r.status !== 0) throw new Error(describeFailure('node -p', r, timeoutMs));
    const info = JSON.parse(r.stdout.trim());
    facts.nodeVersion = info.version;
    facts.arch = info.arch;
  });
  step('version', ['node'], () => {
    const r = node([cli, '--version']);
    if (r.error || r.status !== 0) throw new Error(describeFailure('sqlite-backup --version', r, timeoutMs));
    if (r.stdout.trim() !== expectedVersion) throw new Error(`sqlite-backup --version printed "${r.stdout.trim()}", expected "${expectedVersion}"`);
  });
  step('import', ['node'], () => {
    // The library entry as an ESM consumer loads it (resolved from the project, not this checkout).
    const code =
      "const m = await import('restinpieces-sqlite-backup');" +
      "const missing = ['backup', 'verify', 'restore', 'loadConfig', 'listBackups'].filter((k) => typeof m[k] !== 'function');" +
      "if (missing.length) throw new Error('missing exports: ' + missing.join(', '));";
    const r = node(['--input-type=module', '-e', code], projectDir);
    if (r.error || r.status !== 0) throw new Error(describeFailure('import restinpieces-sqlite-backup', r, timeoutMs));
  });
  step('backup', ['node'], () => {
    state.source = join(workDir, 'app.db');
    copyFileSync(fixture, state.source);
    const config = join(workDir, 'sqlite-backup.toml');
    writeFileSync(config, 'source_path = "app.db"\nbackup_dir  = "backups"\n');
    const result = cliJson('sqlite-backup backup', ['backup', '--config', config]);
    state.backup = result.path;
    const latest = readFileSync(join(workDir, 'backups', 'latest.txt'), 'utf8').trim();
    if (latest !== result.name) throw new Error(`latest.txt names "${latest}", backup printed "${result.name}"`);
  });
  step('verify', ['backup'], () => {
    const result = cliJson('sqlite-backup verify', ['verify', state.backup]);
    if (result.checksum !== 'ok') throw new Error(`verify: checksum ${result.checksum}`);
  });
  step('restore', ['backup'], () => {
    state.restored = join(workDir, 'restored.db');
    cliJson('sqlite-backup restore', ['restore', state.backup, state.restored]);
  });
  step('check', ['restore'], () => {
    const integrity = sqlite3(state.restored, 'PRAGMA integrity_check;').trim();
    if (integrity !== 'ok') throw new Error(`host sqlite3 integrity_check of the restored db: ${integrity}`);
    const dump = (db) => sqlite3(db, '.dump') + sqlite3(db, 'PRAGMA user_version;');
    if (dump(state.restored) !== dump(state.source)) throw new Error('host sqlite3 .dump of the restored db differs from the source');
  });
  return { ...facts, steps };
}
