/**
 * A long-running CLI child (`backup --every ...`) whose output the test reads while it runs: killed
 * with SIGKILL after the test if it is still alive, so a failed assertion never leaves it behind.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface RunningCli {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** The exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Polls `ok` every 50 ms for up to 30 s, then asserts it (the message carries both outputs). */
  waitFor(what: string, ok: () => boolean): Promise<void>;
}

export function startCli(t: TestContext, args: string[], options: { cwd?: string } = {}): RunningCli {
  const child = spawn(process.execPath, [cli, ...args], { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    async waitFor(what, ok) {
      for (let i = 0; i < 600 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(ok(), `${what}; stdout: ${stdout}; stderr: ${stderr}`);
    },
  };
}
