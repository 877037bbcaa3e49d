/**
 * Real peers used by the tests (native sqlite3 CLI, python3, gzip, pigz, sshd). Outside CI a missing
 * peer skips the test that needs it; with CI set it fails the test: CI must never go green by skipping.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import type { TestContext } from 'node:test';

const found = new Map<string, boolean>();

export function hasCommand(cmd: string): boolean {
  let ok = found.get(cmd);
  if (ok === undefined) {
    ok = spawnSync('sh', ['-c', `command -v "$1"`, 'sh', cmd], { stdio: 'ignore' }).status === 0;
    found.set(cmd, ok);
  }
  return ok;
}

/** Returns true when the peer exists; otherwise skips the test, or throws under CI. */
export function requirePeer(t: TestContext, cmd: string): boolean {
  if (hasCommand(cmd)) return true;
  if (process.env.CI) throw new Error(`required test peer "${cmd}" is not installed (CI must not skip)`);
  t.skip(`${cmd} not installed`);
  return false;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command and returns its output; throws with the command's stderr if it fails. */
export function run(cmd: string, args: string[], opts: SpawnSyncOptions & { allowFail?: boolean } = {}): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 30, ...opts });
  if (r.error) throw r.error;
  const res = { status: r.status ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  if (!opts.allowFail && res.status !== 0) {
    const shown = args.map((a) => (a.length > 80 ? `${a.slice(0, 77)}...` : a)).join(' ');
    throw new Error(`${cmd} ${shown} exited ${res.status}: ${res.stderr.trim()}`);
  }
  return res;
}

/** Runs SQL through the native sqlite3 CLI. */
export function sqlite3(db: string, sql: string, opts: { allowFail?: boolean } = {}): RunResult {
  return run('sqlite3', ['-batch', '-bail', db], { input: sql, ...opts });
}

/** Runs a python3 script (given as text) with arguments. */
export function python(script: string, args: string[] = [], opts: { allowFail?: boolean } = {}): RunResult {
  return run('python3', ['-c', script, ...args], opts);
}
