/**
 * Runs a command on a real pseudo-terminal through util-linux `script`, for tests of what a user sees
 * on a terminal (isTTY true, `\r` redraws, escape codes). No native pty addon: `script -q -e -c <cmd>
 * /dev/null` opens the pty, copies everything the command writes to it onto our pipe, and exits with
 * the command's status.
 *
 * What `script` (util-linux 2.38) does that callers must expect:
 * - The pty's line discipline turns each `\n` into `\r\n` (onlcr); a lone `\r` passes unchanged.
 *   stdout and stderr both go to the one terminal, interleaved.
 * - The pty has no size (0x0), so Node reports `columns` 0 unless `columns` is given here.
 * - It runs the command with `$SHELL -c`; we set SHELL=/bin/sh for it so the quoting below holds
 *   under any login shell (the command sees the caller's SHELL again).
 * - `-e` gives the command's exit status (128+n when a signal killed it). SIGTERM to `script` kills
 *   the command but makes `script` exit 0, so a timeout here rejects instead of reporting a status.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { hasCommand } from './peers.js';

export const SCRIPT = 'script';

export interface PtyOptions {
  cwd?: string;
  /** The command's environment. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Kill the command and reject after this long. @default 10000 */
  timeoutMs?: number;
  /** Terminal width to set with `stty` before the command starts. @default none (Node then sees 0) */
  columns?: number;
}

export interface PtyResult {
  /** The command's exit status; null only when `script` itself died from a signal. */
  status: number | null;
  /** Everything the terminal received, escape codes and `\r\n` included (decoded as UTF-8). */
  output: string;
  /** `script`'s own complaints (the command's stderr is in `output`). */
  stderr: string;
}

const running = new Set<ChildProcess>();
// A crashed test file must not leave a command running on an orphaned pty.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** POSIX shell single-quoting: safe for any string, including quotes, spaces, `$` and newlines. */
export function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

let probed: string | undefined | null = null;

/**
 * Why pty tests cannot run here (for describe's `skip`), or undefined when `script` works: it must
 * exist, give the command a terminal, and pass its exit status through. Throws under CI.
 */
export function ptyUnavailableReason(): string | undefined {
  if (probed === null) probed = probe();
  if (probed !== undefined && process.env.CI) {
    throw new Error(`pty tests need util-linux "${SCRIPT}": ${probed} (CI must not skip)`);
  }
  return probed;
}

function probe(): string | undefined {
  if (!hasCommand(SCRIPT)) return `${SCRIPT} not installed`;
  const r = spawnSync(SCRIPT, ['-q', '-e', '-c', 'test -t 1 && test -t 2 && exit 7; exit 1', '/dev/null'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SHELL: '/bin/sh' },
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (r.error) return `${SCRIPT} failed to start: ${r.error.message}`;
  if (r.status === 7) return undefined;
  if (r.status === 1) return `${SCRIPT} gives the command no terminal`;
  return `${SCRIPT} -q -e -c does not work here (exit ${r.status}): ${String(r.stderr).trim()}`;
}

/** Runs `command args...` on a fresh pty; resolves when it exits, rejects on timeout. */
export function runInPty(command: string, args: string[], options: PtyOptions = {}): Promise<PtyResult> {
  const env = options.env ?? process.env;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const prelude: string[] = [];
  if (options.columns !== undefined) {
    if (!Number.isInteger(options.columns) || options.columns < 1) throw new RangeError('columns must be an integer >= 1');
    prelude.push(`stty cols ${options.columns} rows 24`);
  }
  // Give the command back the SHELL it would have had; SHELL=/bin/sh is only for script's `-c`.
  prelude.push(env.SHELL === undefined ? 'unset SHELL' : `SHELL=${shellQuote(env.SHELL)}`);
  const line = [...prelude, `exec ${[command, ...args].map(shellQuote).join(' ')}`].join('; ');

  return new Promise((resolve, reject) => {
    const child = spawn(SCRIPT, ['-q', '-e', '-c', line, '/dev/null'], {
      ...(options.cwd ? { cwd: options.cwd } : {}),
      env: { ...env, SHELL: '/bin/sh' },
      // stdin /dev/null: script copies nothing in, and reading EOF does not end the session (2.38).
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM'); // script passes it on to the command
      killTimer = setTimeout(() => child.kill('SIGKILL'), 2000);
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      running.delete(child);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      running.delete(child);
      const output = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (timedOut) {
        reject(new Error(`${command} on a pty timed out after ${timeoutMs} ms; output so far: ${JSON.stringify(output)}`));
        return;
      }
      resolve({ status: signal ? null : code, output, stderr });
    });
  });
}
