/**
 * A real S3 server for the tests: Ceph RADOS Gateway on a throw-away one-node Ceph cluster (1 mon,
 * 1 bluestore osd in a sparse file, no mgr), loopback only, set up by test/helpers/ceph-rgw.sh (read its
 * comments). Each cluster has its own temp dir and its own ports (a block below the ephemeral range,
 * claimed with a lock file, so that test files running at the same time never collide). The daemons are
 * this process's children, each stopped by its pid; they are also started with a parent-death signal
 * (setpriv --pdeathsig KILL), so even a SIGKILLed test process leaves none behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import { hasCommand } from './peers.js';

export interface CephRgw {
  endpoint: string; // e.g. "http://127.0.0.1:<port>"
  region: string; // "us-east-1"
  accessKeyId: string;
  secretAccessKey: string;
  /** The variables a child process needs: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, S3_ENDPOINT. */
  env: Record<string, string>;
  /** Creates a bucket (path-style) and returns its name; a fresh random name when none is given. */
  createBucket(name?: string): Promise<string>;
  /** SIGKILL only the radosgw process (the cluster stays): connections drop, the port refuses. */
  killGateway(): Promise<void>;
  /** Starts radosgw again on the same port and waits until it answers. */
  startGateway(): Promise<void>;
  /** The gateway's log so far (for failure messages). */
  log(): string;
  /** Stops every daemon it started (by its own pid), removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** Compiled to dist/test/helpers/; the script stays in the source tree. */
export const CEPH_RGW_SCRIPT = fileURLToPath(new URL('../../../test/helpers/ceph-rgw.sh', import.meta.url));
const COMMANDS = ['radosgw', 'ceph-mon', 'ceph-osd', 'ceph', 'radosgw-admin', 'rados', 'monmaptool', 'ceph-authtool', 'setpriv'];
const REGION = 'us-east-1';

// Bounds of each start-up step (normally ~5 s in all); generous for a loaded 2-core machine.
const WAIT = { init: 60, mon: 90, osdInit: 90, osd: 120, rgw: 120, user: 90 };
const ATTEMPTS = 3; // only a port taken under our feet is retried

// Port block of one cluster: mon v2 and v1, gateway, then the osd's messenger ports (it binds 8).
const BLOCK = 32;
const MON = 0;
const RGW = 2;
const MS_MIN = 8;
const LOCKS = join(tmpdir(), 'sqlite-backup-ceph-ports');
const DIR_PREFIX = 'sqlite-backup-ceph-'; // + owner pid + '-' + random

interface Daemon {
  child: ChildProcess;
  exited: Promise<void>;
}

interface Live {
  dir: string;
  lock: string;
}

const running = new Set<ChildProcess>();
const live = new Set<Live>();
// Last line of defence: a crashed test file must not leave a cluster running (pdeathsig covers SIGKILL).
process.on('exit', () => {
  for (const child of running) kill(child, 'SIGKILL');
  for (const l of live) release(l);
});

/** Skip reason when radosgw/ceph-mon/ceph-osd (or their tools) are missing; throws under CI. */
export function cephSkipReason(): string | false {
  for (const cmd of COMMANDS) {
    if (hasCommand(cmd)) continue;
    if (process.env.CI) throw new Error(`required test peer "${cmd}" is not installed (CI must not skip)`);
    return `${cmd} not installed`;
  }
  return false;
}

export async function startCephRgw(): Promise<CephRgw> {
  sweepLeftovers();
  for (let attempt = 1; ; attempt++) {
    const l: Live = { dir: mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`)), lock: '' };
    live.add(l);
    const daemons: Daemon[] = [];
    try {
      const base = await claimPorts(l);
      return await launch(l, base, daemons);
    } catch (e) {
      const logs = logTails(l.dir);
      const portTaken = logFiles(l.dir).some((f) => /Address already in use/.test(readOr(f)));
      await killAll(daemons);
      release(l);
      if (attempt < ATTEMPTS && portTaken) continue;
      const reason = e instanceof Error ? e.message : String(e);
      throw new Error(`Ceph RGW did not start: ${reason}\n${logs}`);
    }
  }
}

async function launch(l: Live, base: number, daemons: Daemon[]): Promise<CephRgw> {
  const port = base + RGW;
  const accessKeyId = randomBytes(10).toString('hex').toUpperCase();
  const secretAccessKey = randomBytes(20).toString('hex');
  // the script's knobs come from here only (an S3_STORE or CEPH_ARGS in the developer's shell would leak in)
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(S3_|CEPH_ARGS$)/.test(k)));
  const scriptEnv: NodeJS.ProcessEnv = {
    ...inherited,
    S3_DIR: l.dir,
    S3_PORT: String(port),
    S3_MON_PORT: String(base + MON),
    S3_MS_PORT_MIN: String(base + MS_MIN),
    S3_MS_PORT_MAX: String(base + BLOCK - 1),
    S3_ACCESS_KEY: accessKeyId,
    S3_SECRET_KEY: secretAccessKey,
    S3_WAIT_MON: String(WAIT.mon),
    S3_WAIT_OSD: String(WAIT.osd),
    S3_WAIT_RGW: String(WAIT.rgw),
  };
  const start = (name: 'mon' | 'osd' | 'rgw'): Daemon => {
    const d = spawnDaemon(l.dir, name, scriptEnv);
    daemons.push(d);
    return d;
  };

  await step(scriptEnv, ['init'], WAIT.init);
  await step(scriptEnv, ['wait', 'mon'], WAIT.mon + 30, start('mon'));
  await step(scriptEnv, ['osd-init'], WAIT.osdInit);
  await step(scriptEnv, ['wait', 'osd'], WAIT.osd + 30, start('osd'));
  let rgw: Daemon | undefined = start('rgw'); // creates its pools on first start
  await step(scriptEnv, ['wait', 'rgw'], WAIT.rgw + 30, rgw);
  await step(scriptEnv, ['user'], WAIT.user);

  const endpoint = `http://127.0.0.1:${port}`;
  let client: S3Client | undefined;
  let lastLog = '';
  let stopping: Promise<void> | undefined;
  const log = (): string => (stopping ? lastLog : gatewayLog(l.dir));

  return {
    endpoint,
    region: REGION,
    accessKeyId,
    secretAccessKey,
    env: { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_REGION: REGION, S3_ENDPOINT: endpoint },
    async createBucket(name) {
      const bucket = name ?? `test-${randomBytes(8).toString('hex')}`;
      const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
      client ??= new S3Client({ endpoint, region: REGION, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return bucket;
    },
    async killGateway() {
      if (!rgw) return;
      const d = rgw;
      rgw = undefined;
      kill(d.child, 'SIGKILL');
      await d.exited;
    },
    async startGateway() {
      if (stopping) throw new Error('startGateway after stop()');
      if (rgw && rgw.child.exitCode === null && rgw.child.signalCode === null) return;
      try {
        // the killed gateway's watches would hold up every metadata write for ~30 s (see the script)
        await step(scriptEnv, ['forget-gateway'], WAIT.user);
        rgw = start('rgw');
        await step(scriptEnv, ['wait', 'rgw'], WAIT.rgw + 30, rgw);
      } catch (e) {
        throw new Error(`radosgw did not start again: ${(e as Error).message}\n${logTails(l.dir)}`);
      }
    },
    log,
    stop() {
      stopping ??= (async () => {
        lastLog = gatewayLog(l.dir);
        client?.destroy();
        await killAll(daemons);
        release(l);
      })();
      return stopping;
    },
  };
}

/** `ceph-rgw.sh exec <name>`: bash execs setpriv, which execs the daemon: child.pid is the daemon's pid. */
function spawnDaemon(dir: string, name: string, env: NodeJS.ProcessEnv): Daemon {
  const out = openSync(join(dir, 'log', `${name}.out`), 'a');
  let child: ChildProcess;
  try {
    child = spawn('bash', [CEPH_RGW_SCRIPT, 'exec', name], { env, stdio: ['ignore', out, out] });
  } finally {
    closeSync(out);
  }
  running.add(child);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      running.delete(child);
      resolve();
    });
    child.once('error', () => {
      running.delete(child);
      resolve();
    });
  });
  return { child, exited };
}

/**
 * Runs one step of the script (its own process group, killed whole on timeout) within `seconds`; with a
 * daemon, fails as soon as that daemon exits (no point waiting the full bound for a dead mon).
 */
function step(env: NodeJS.ProcessEnv, args: string[], seconds: number, daemon?: Daemon): Promise<void> {
  const what = `ceph-rgw.sh ${args.join(' ')}`;
  return new Promise<void>((resolve, reject) => {
    const child = spawn('bash', [CEPH_RGW_SCRIPT, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    running.add(child);
    let output = '';
    child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) killGroup(child);
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => finish(new Error(`${what} timed out after ${seconds}s: ${output.trim()}`)), seconds * 1000);
    child.once('error', (e) => finish(new Error(`${what}: ${e.message}`)));
    child.once('close', (code, signal) => {
      running.delete(child);
      finish(code === 0 ? undefined : new Error(`${what} exited ${code ?? signal}: ${output.trim()}`));
    });
    void daemon?.exited.then(() => {
      const { exitCode, signalCode } = daemon.child;
      finish(new Error(`${what}: the daemon exited (${exitCode ?? signalCode}) before it was ready`));
    });
  });
}

function kill(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(child.pid, signal);
  } catch {
    // already gone
  }
}

/** A step is bash running the ceph CLI (python): signal its whole group, which it leads. */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** SIGKILL (the cluster is thrown away: no clean shutdown needed) and wait for each daemon's exit. */
async function killAll(daemons: Daemon[]): Promise<void> {
  for (const d of daemons) kill(d.child, 'SIGKILL');
  await Promise.all(daemons.map((d) => d.exited));
}

/** Removes the cluster's temp dir and frees its port block. Synchronous: the exit handler uses it too. */
function release(l: Live): void {
  live.delete(l);
  rmSync(l.dir, { recursive: true, force: true });
  if (l.lock) {
    try {
      unlinkSync(l.lock);
    } catch {
      // already gone
    }
  }
}

/**
 * Removes the temp dirs of clusters whose test process died without its exit handler (SIGKILL, a
 * timeout of the runner): its daemons died with it (pdeathsig), only the dir is left.
 */
function sweepLeftovers(): void {
  for (const name of readdirSync(tmpdir())) {
    const m = new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(name);
    if (m && !alive(Number(m[1]))) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
  let locks: string[] = [];
  try {
    locks = readdirSync(LOCKS);
  } catch {
    // none yet
  }
  for (const name of locks) if (!alive(Number(readOr(join(LOCKS, name))))) rmSync(join(LOCKS, name), { force: true });
}

/**
 * A block of BLOCK free ports below the ephemeral range (so no outgoing connection or listen(0) takes
 * one meanwhile), claimed by a lock file holding our pid; a lock whose process is gone is taken over.
 */
async function claimPorts(l: Live): Promise<number> {
  const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number) as [number, number];
  const [from, to] = lo - 10_000 >= 64 * BLOCK ? [10_000, lo] : [hi + 1, 65_536];
  const blocks = Math.floor((to - from) / BLOCK);
  mkdirSync(LOCKS, { recursive: true });
  for (let i = 0; i < 200; i++) {
    const base = from + Math.floor(Math.random() * blocks) * BLOCK;
    const lock = join(LOCKS, String(base));
    let fd: number;
    try {
      fd = openSync(lock, 'wx');
    } catch {
      if (!alive(Number(readOr(lock)))) rmSync(lock, { force: true });
      continue;
    }
    writeSync(fd, String(process.pid));
    closeSync(fd);
    l.lock = lock;
    if (await allFree(base, BLOCK)) return base;
    unlinkSync(lock);
    l.lock = '';
  }
  throw new Error(`no free block of ${BLOCK} ports found in ${from}-${to - 1}`);
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

async function allFree(base: number, count: number): Promise<boolean> {
  for (let p = base; p < base + count; p++) if (!(await canListen(p))) return false;
  return true;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** radosgw's log file, then what it wrote to stdout/stderr (all its starts). */
function gatewayLog(dir: string): string {
  const out = readOr(join(dir, 'log', 'rgw.out')).trim();
  return readOr(join(dir, 'log', 'client.rgw.log')) + (out ? `---- radosgw stdout/stderr\n${out}\n` : '');
}

/** The cluster's log files: daemons' stdout/stderr and the steps' outputs first (short, where a crash shows), cluster.log last. */
function logFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(join(dir, 'log'));
  } catch {
    return [];
  }
  const rank = (n: string): number => (n.endsWith('.out') ? 0 : n === 'cluster.log' ? 2 : 1);
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)).map((n) => join(dir, 'log', n));
}

/** The last lines of every log of the cluster (for start-up failures). */
function logTails(dir: string, lines = 20): string {
  const tails = logFiles(dir).map((path) => {
    const text = readOr(path).trimEnd();
    return text ? `---- ${path}\n${text.split('\n').slice(-lines).join('\n')}` : '';
  });
  return tails.filter(Boolean).join('\n') || '(no logs)';
}
