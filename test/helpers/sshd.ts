/**
 * A real OpenSSH sshd for the SFTP tests: `/usr/sbin/sshd -D -e -f <temp config>` on 127.0.0.1 and a
 * free port, with throw-away host keys, one authorized user key (both made by ssh-keygen) and
 * `internal-sftp` starting in a temp login directory. Everything lives in one temp dir, removed by
 * stop(). Loopback only: the server never listens anywhere else.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { hasCommand, requirePeer, run } from './peers.js';

export const SSHD = '/usr/sbin/sshd';
const KEY_TYPES = ['ed25519', 'ecdsa', 'rsa'] as const;
export type SshdKeyType = (typeof KEY_TYPES)[number];

/** ssh2/OpenSSH algorithm names of each host key type (what `HostKeyAlgorithms` takes). */
export const HOST_KEY_ALGORITHMS: Record<SshdKeyType, string[]> = {
  ed25519: ['ssh-ed25519'],
  ecdsa: ['ecdsa-sha2-nistp256'],
  rsa: ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

export interface SshdOptions {
  /** Registers stop() with t.after(). */
  t?: TestContext;
  /** Host keys to generate and serve. @default ['ed25519', 'ecdsa', 'rsa'] */
  hostKeyTypes?: SshdKeyType[];
  /** sshd `HostKeyAlgorithms` (e.g. only `ecdsa-sha2-nistp256`). @default sshd's own list */
  hostKeyAlgorithms?: string[];
  /** Passphrase of the authorized user key. @default none */
  userKeyPassphrase?: string;
}

export interface SshdHostKey {
  type: SshdKeyType;
  privatePath: string;
  /** `<algorithm> <base64>` from the .pub file, without a comment. */
  publicLine: string;
  /** `SHA256:...` as `ssh-keygen -lf` prints it. */
  fingerprint: string;
}

export interface UserKey {
  privatePath: string;
  publicLine: string;
}

export interface Sshd {
  host: '127.0.0.1';
  port: number;
  pid: number;
  /** The user sshd will accept (the one running the tests). */
  username: string;
  hostKeys: SshdHostKey[];
  userKey: UserKey;
  /** Local path of the SFTP login directory (what a relative remote path is relative to). */
  sftpRoot: string;
  /** Scratch directory of this server (keys, config, log), removed by stop(). */
  dir: string;
  /** A known_hosts line for this server's key of `type` (default: the first one). */
  knownHostsLine(type?: SshdKeyType): string;
  /** sshd's stderr so far (for failure messages). */
  log(): string;
  /** Kills the per-connection sshd processes: every open connection drops, the listener stays. */
  dropConnections(): number;
  /**
   * Freezes the per-connection processes (SIGSTOP): open connections stay up at the TCP level but
   * nothing answers, like a hung server. Returns the frozen pids; dropConnections() kills them.
   */
  stallConnections(): number[];
  /** How many file descriptors the per-connection processes hold on `path` (open SFTP handles). */
  openHandles(path: string): number;
  /** Kills the server (by pid) and waits for it; removes its directory. Idempotent. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
// Last line of defence: a crashed test file must not leave an sshd listening.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Skip reason when sshd or ssh-keygen is missing (for describe's `skip`); throws under CI. */
export function sshdSkipReason(): string | false {
  for (const cmd of [SSHD, 'ssh-keygen']) {
    if (hasCommand(cmd)) continue;
    if (process.env.CI) throw new Error(`required test peer "${cmd}" is not installed (CI must not skip)`);
    return `${cmd} not installed`;
  }
  return false;
}

/** requirePeer for sshd and ssh-keygen inside a test. */
export function requireSshd(t: TestContext): boolean {
  return requirePeer(t, SSHD) && requirePeer(t, 'ssh-keygen');
}

/** Makes a key pair with ssh-keygen (0600, OpenSSH format). */
export function makeKey(path: string, type: SshdKeyType, passphrase = ''): UserKey {
  const bits = type === 'rsa' ? ['-b', '2048'] : [];
  run('ssh-keygen', ['-q', '-t', type, ...bits, '-N', passphrase, '-C', 'sqlite-backup-test', '-f', path]);
  const [algo, blob] = readFileSync(`${path}.pub`, 'utf8').trim().split(/\s+/);
  return { privatePath: path, publicLine: `${algo} ${blob}` };
}

export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
  const dir = mkdtempSync(join(tmpdir(), 'sqlite-backup-sshd-'));
  try {
    const sshd = await launch(dir, options);
    options.t?.after(() => sshd.stop());
    return sshd;
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function launch(dir: string, options: SshdOptions): Promise<Sshd> {
  // Privilege separation directory; Debian creates it at boot, containers often lack it.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKeys = (options.hostKeyTypes ?? [...KEY_TYPES]).map((type): SshdHostKey => {
    const key = makeKey(join(dir, `host_${type}`), type);
    const fingerprint = run('ssh-keygen', ['-lf', `${key.privatePath}.pub`]).stdout.split(/\s+/)[1]!;
    return { type, ...key, fingerprint };
  });
  const userKey = makeKey(join(dir, 'user_key'), 'ed25519', options.userKeyPassphrase ?? '');
  writeFileSync(join(dir, 'authorized_keys'), `${userKey.publicLine}\n`, { mode: 0o600 });
  const sftpRoot = join(dir, 'home');
  mkdirSync(sftpRoot, { mode: 0o700 });

  // A free port can be taken between our probe and sshd's bind: try a few.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const config = join(dir, 'sshd_config');
    writeFileSync(config, configText(dir, port, hostKeys, sftpRoot, options), { mode: 0o600 });
    const logPath = join(dir, `sshd-${attempt}.log`);
    const logFd = openSync(logPath, 'w', 0o600);
    const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', logFd] });
    closeSync(logFd);
    running.add(child);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('exit', () => running.delete(child));
    const log = (): string => readFileSync(logPath, 'utf8');
    if (await waitForBanner(port, exited)) {
      return server(dir, port, child, exited, hostKeys, userKey, sftpRoot, log);
    }
    child.kill('SIGKILL');
    await exited;
    if (attempt >= 3 || !/Bind to port|Address already in use/.test(log())) {
      throw new Error(`sshd did not start on 127.0.0.1:${port}:\n${log()}`);
    }
  }
}

function configText(dir: string, port: number, hostKeys: SshdHostKey[], sftpRoot: string, options: SshdOptions): string {
  return [
    `ListenAddress 127.0.0.1:${port}`,
    ...hostKeys.map((k) => `HostKey ${k.privatePath}`),
    ...(options.hostKeyAlgorithms ? [`HostKeyAlgorithms ${options.hostKeyAlgorithms.join(',')}`] : []),
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'UsePAM no',
    'StrictModes no',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'AllowTcpForwarding no',
    'X11Forwarding no',
    'MaxStartups 50',
    'LogLevel ERROR',
    `Subsystem sftp internal-sftp -d ${sftpRoot}`,
    '',
  ].join('\n');
}

function server(
  dir: string,
  port: number,
  child: ChildProcess,
  exited: Promise<void>,
  hostKeys: SshdHostKey[],
  userKey: UserKey,
  sftpRoot: string,
  log: () => string,
): Sshd {
  const pid = child.pid!;
  let stopped = false;
  return {
    host: '127.0.0.1',
    port,
    pid,
    username: run('id', ['-un']).stdout.trim(),
    hostKeys,
    userKey,
    sftpRoot,
    dir,
    log,
    knownHostsLine(type) {
      const key = type ? hostKeys.find((k) => k.type === type) : hostKeys[0];
      if (!key) throw new Error(`this sshd has no ${type} host key`);
      return `[127.0.0.1]:${port} ${key.publicLine}`;
    },
    stallConnections() {
      return signalAll(descendants(pid), 'SIGSTOP');
    },
    dropConnections() {
      return signalAll(descendants(pid), 'SIGKILL').length;
    },
    openHandles(path) {
      let n = 0;
      for (const p of descendants(pid)) {
        try {
          for (const fd of readdirSync(`/proc/${p}/fd`)) {
            if (readlinkOr(`/proc/${p}/fd/${fd}`) === path) n++;
          }
        } catch {
          // exited while we looked
        }
      }
      return n;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // Connection processes first: killing only the listener leaves them serving open sessions.
      signalAll(descendants(pid), 'SIGKILL');
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function readlinkOr(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** Every process below `pid` (children first), read from /proc. */
/** Sends `signal` to each pid (one that is already gone is skipped); returns the pids. */
function signalAll(pids: number[], signal: NodeJS.Signals): number[] {
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      // already gone
    }
  }
  return pids;
}

function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name may contain spaces and parentheses: the ppid is the 2nd field after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(Number(entry), ppid);
    } catch {
      // exited while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [c, pp] of parentOf) {
      if (pp === p) {
        out.push(c);
        walk(c);
      }
    }
  };
  walk(pid);
  return out;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** True once 127.0.0.1:port answers with an SSH banner; false if sshd exits first or after 10 s. */
async function waitForBanner(port: number, exited: Promise<void>): Promise<boolean> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 10_000;
  while (!gone && Date.now() < deadline) {
    if (await banner(port)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

function banner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('data', (d) => done(d.toString('latin1').startsWith('SSH-2.0-')));
  });
}

/** `scp` of a remote file (relative to the login dir) from this sshd, with its keys; for benchmarks. */
export function scpFrom(sshd: Sshd, knownHosts: string, remote: string, local: string): void {
  const r = spawnSync(
    'scp',
    ['-q', '-P', String(sshd.port), '-i', sshd.userKey.privatePath, '-o', `UserKnownHostsFile=${knownHosts}`,
      '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `${sshd.username}@127.0.0.1:${remote}`, local],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`scp failed: ${r.stderr}`);
}
