/**
 * The backup lock: `<dir>/<dbName>.lock`, created with O_EXCL (0600) and holding
 * `{"pid":…,"hostname":"…","startedAt":"<ISO>"}`. One backup of a database at a time.
 *
 * Staleness, decided only when we can be sure:
 * - same host and pid dead (`kill(pid, 0)` -> ESRCH), or the lock predates the last boot by over 10
 *   minutes (slack for clock adjustments), or it carries our own pid but is not one of our locks (a
 *   restarted container reuses low pids): stale, replaced;
 * - another host: never broken automatically (its pids mean nothing here); the error says so;
 * - unparsable (a writer crashed between creating and writing it, or a foreign file): held while
 *   younger than `unparsableStaleMs` (1 hour; a young one may be mid-write), stale after that.
 * A dead holder's pid reused by an unrelated live process keeps the lock "held": the error names the
 * pid so a person can check. Hosts sharing a lock directory must have distinct hostnames.
 *
 * Takeover race: two processes may find the same stale lock, and "re-read, then unlink" alone lets
 * the slower one unlink the fresh lock the faster one just created. So breaking a stale lock is
 * serialised by a second O_EXCL file, `<lock>.tmp-breaking`: only its holder re-reads the lock and
 * unlinks it if it is still the very file judged stale (inode, mtime and content: file systems reuse
 * a freed inode at once). Creating the new lock needs no marker: O_EXCL lets exactly one win. The
 * marker lives for milliseconds. Residual race: a marker left by a process that died while holding
 * it is itself stale (dead pid, or unparsable for over a minute) and is removed by re-read-then-
 * unlink, where two racing processes could both enter: a crash in those milliseconds plus two
 * contenders right then.
 */
import { randomBytes } from 'node:crypto';
import { link, open, unlink } from 'node:fs/promises';
import { hostname as osHostname, uptime } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortError, BackupError, errnoOf, ErrorCode, fsReason, throwIfAborted } from '../errors.js';
import { fsyncDir } from '../fs/sync.js';
import { TEMP_MARKER } from '../fs/atomic.js';

export const LOCK_SUFFIX = '.lock';
export const DEFAULT_LOCK_POLL_MS = 200;
export const DEFAULT_UNPARSABLE_STALE_MS = 60 * 60 * 1000;
const MAX_LOCK_BYTES = 4096;
const MARKER_UNPARSABLE_STALE_MS = 60_000; // the break marker lives for milliseconds
const BOOT_SLACK_MS = 10 * 60_000; // see judge()

export interface AcquireLockOptions {
  /** How long to wait for a live holder to release. @default 0 (fail at once) */
  waitMs?: number;
  /** Interval between attempts while waiting. @default 200 */
  pollMs?: number;
  signal?: AbortSignal;
  /** An unparsable lock file older than this is stale. @default 3600000 (1 hour) */
  unparsableStaleMs?: number;
}

export interface LockInfo {
  pid: number;
  hostname: string;
  /** ISO timestamp. */
  startedAt: string;
}

export interface Lock {
  path: string;
  info: LockInfo;
  /** Removes the lock if it is still ours. Idempotent. */
  release(): Promise<void>;
}

/** Texts of lock/marker files this process holds (counted: two can be equal). Our pid in any other: stale. */
const held = new Map<string, number>();
const hold = (text: string): void => void held.set(text, (held.get(text) ?? 0) + 1);
const unhold = (text: string): void => {
  const n = (held.get(text) ?? 0) - 1;
  if (n > 0) held.set(text, n);
  else held.delete(text);
};

/** `<dir>/<dbName>.lock`; `dbName` is a backup base name (`[A-Za-z0-9._-]`, see naming). */
export function lockPathFor(dir: string, dbName: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(dbName)) throw new RangeError(`not a valid database name for a lock: ${JSON.stringify(dbName)}`);
  return join(dir, `${dbName}${LOCK_SUFFIX}`);
}

export async function acquireLock(dir: string, dbName: string, options: AcquireLockOptions = {}): Promise<Lock> {
  const path = lockPathFor(dir, dbName);
  const { signal } = options;
  const pollMs = Math.max(1, options.pollMs ?? DEFAULT_LOCK_POLL_MS);
  const waitMs = Math.max(0, options.waitMs ?? 0);
  const unparsableStaleMs = options.unparsableStaleMs ?? DEFAULT_UNPARSABLE_STALE_MS;
  const deadline = Date.now() + waitMs;
  const pause = async (ms: number): Promise<void> => {
    try {
      await sleep(ms, undefined, { signal });
    } catch {
      throw new AbortError(`waiting for lock "${path}" aborted`, { path, cause: signal?.reason });
    }
  };
  for (;;) {
    throwIfAborted(signal, `lock "${path}"`);
    const mine = await createExclusive(path);
    if (mine) {
      // A marker left by a process that died while breaking would otherwise stay in the directory.
      await clearStaleMarker(markerPathFor(path));
      return toLock(path, mine);
    }
    const seen = await readLock(path);
    if (!seen) continue; // released between our create and our read: try again at once
    if (judge(seen, unparsableStaleMs) === 'stale') {
      // Busy marker: another process is breaking this lock right now; look again shortly.
      if (!(await breakStale(path, seen))) await pause(5);
      continue;
    }
    if (Date.now() >= deadline) throw lockedError(path, seen, waitMs, unparsableStaleMs);
    await pause(Math.min(pollMs, Math.max(1, deadline - Date.now())));
  }
}

interface Created {
  info: LockInfo;
  text: string;
  file: SeenLock;
}

/**
 * Creates `path` holding our LockInfo, fsynced; undefined if it exists. The content is written to a
 * temp file first and hard-linked to `path` (link fails if `path` exists): the lock never exists
 * empty, so a process killed while taking it leaves no unreadable lock that would block backups for
 * an hour - at most a temp file, which the next backup of the database removes. File systems without
 * hard links fall back to O_EXCL create + write.
 */
async function createExclusive(path: string): Promise<Created | undefined> {
  const info: LockInfo = { pid: process.pid, hostname: osHostname(), startedAt: new Date().toISOString() };
  const text = `${JSON.stringify(info)}\n`;
  hold(text); // before the file exists: a concurrent acquire in this process must see it as held
  const tmp = `${path}${TEMP_MARKER}${randomBytes(6).toString('hex')}`;
  let linked = true;
  let st;
  try {
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(text);
      await fh.sync();
      st = await fh.stat({ bigint: true });
    } finally {
      await fh.close();
    }
    try {
      await link(tmp, path);
    } catch (e) {
      const errno = (e as NodeJS.ErrnoException).code;
      if (errno === 'EEXIST' || errno === 'ENOENT') {
        // Held by someone else, or our temp was cleaned away under us: the caller looks again.
        unhold(text);
        return undefined;
      }
      if (errno !== 'EPERM' && errno !== 'ENOTSUP' && errno !== 'EOPNOTSUPP' && errno !== 'ENOSYS') throw e;
      linked = false;
    }
  } catch (e) {
    unhold(text);
    await unlink(tmp).catch(() => {});
    throw ioError('create', path, e);
  } finally {
    if (linked) await unlink(tmp).catch(() => {});
  }
  if (!linked) return createExclusiveNoLink(path, info, text);
  try {
    fsyncDir(dirname(path));
  } catch (e) {
    // The lock exists but may not survive a crash: better no backup than two at once after one.
    unhold(text);
    await unlink(path).catch(() => {});
    throw ioError('fsync directory of', path, e);
  }
  return { info, text, file: { raw: text, ino: st!.ino, mtimeNs: st!.mtimeNs, info } };
}

/** createExclusive for file systems without hard links: O_EXCL create, then write. */
async function createExclusiveNoLink(path: string, info: LockInfo, text: string): Promise<Created | undefined> {
  let fh;
  try {
    fh = await open(path, 'wx', 0o600);
  } catch (e) {
    unhold(text);
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw ioError('create', path, e);
  }
  try {
    await fh.writeFile(text);
    await fh.sync();
    const st = await fh.stat({ bigint: true });
    await fh.close();
    fsyncDir(dirname(path));
    return { info, text, file: { raw: text, ino: st.ino, mtimeNs: st.mtimeNs, info } };
  } catch (e) {
    unhold(text);
    await fh.close().catch(() => {});
    await unlink(path).catch(() => {});
    throw ioError('write', path, e);
  }
}

/** Removes `path` if it is still the file `mine` (used for release and for the marker). */
async function removeIfSame(path: string, mine: SeenLock): Promise<boolean> {
  const now = await readLock(path);
  if (!now || !sameFile(now, mine)) return false;
  await unlink(path).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('remove', path, e);
  });
  return true;
}

function toLock(path: string, created: Created): Lock {
  let released = false;
  return {
    path,
    info: created.info,
    async release() {
      if (released) return;
      released = true;
      unhold(created.text);
      // Only our own file: anything else at that name belongs to someone else.
      await removeIfSame(path, created.file);
    },
  };
}

/**
 * Breaks the stale lock `seen` under the marker (see the module comment). Returns false when the
 * marker is held by a live process (the caller retries), true otherwise.
 */
async function breakStale(path: string, seen: SeenLock): Promise<boolean> {
  const markerPath = markerPathFor(path);
  const marker = await createExclusive(markerPath);
  if (!marker) return clearStaleMarker(markerPath);
  try {
    await removeIfSame(path, seen);
  } finally {
    unhold(marker.text);
    await removeIfSame(markerPath, marker.file);
  }
  return true;
}

interface SeenLock {
  raw: string;
  ino: bigint;
  /** Nanoseconds: with the inode and content, tells a file from a new one that reused its inode. */
  mtimeNs: bigint;
  info?: LockInfo;
}

/** Reads the lock through one descriptor (content and inode agree); undefined if there is none. */
async function readLock(path: string): Promise<SeenLock | undefined> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError('open', path, e);
  }
  try {
    const st = await fh.stat({ bigint: true });
    const buf = Buffer.alloc(Math.min(Number(st.size), MAX_LOCK_BYTES));
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const raw = buf.subarray(0, bytesRead).toString('utf8');
    const info = parseInfo(raw);
    return { raw, ino: st.ino, mtimeNs: st.mtimeNs, info };
  } catch (e) {
    throw ioError('read', path, e);
  } finally {
    await fh.close().catch(() => {});
  }
}

function parseInfo(raw: string): LockInfo | undefined {
  try {
    const v = JSON.parse(raw) as Partial<LockInfo>;
    if (
      Number.isInteger(v.pid) && v.pid! > 0 &&
      typeof v.hostname === 'string' &&
      typeof v.startedAt === 'string' && !Number.isNaN(Date.parse(v.startedAt))
    ) {
      return { pid: v.pid!, hostname: v.hostname, startedAt: v.startedAt };
    }
  } catch {} // not JSON: unparsable
  return undefined;
}

function judge(seen: SeenLock, unparsableStaleMs: number): 'held' | 'stale' {
  const { info } = seen;
  if (!info) return Date.now() - msOf(seen) > unparsableStaleMs ? 'stale' : 'held';
  if (info.hostname !== osHostname()) return 'held';
  if (info.pid === process.pid) return held.has(seen.raw) ? 'held' : 'stale';
  // Written before this machine booted: its process is gone, whatever now runs under that pid. Boot
  // time comes from the wall clock: the slack keeps a clock jump during a backup from breaking it.
  const bootedAt = Date.now() - uptime() * 1000;
  if (Date.parse(info.startedAt) < bootedAt - BOOT_SLACK_MS) return 'stale';
  return pidAlive(info.pid) ? 'held' : 'stale';
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

const markerPathFor = (lockPath: string): string => `${lockPath}${TEMP_MARKER}breaking`;

/** Removes a break marker whose writer died; true when no marker is left. */
async function clearStaleMarker(markerPath: string): Promise<boolean> {
  const other = await readLock(markerPath);
  if (!other) return true;
  if (judge(other, MARKER_UNPARSABLE_STALE_MS) === 'held') return false;
  await removeIfSame(markerPath, other);
  return true;
}

const sameFile = (a: SeenLock, b: SeenLock): boolean => a.ino === b.ino && a.mtimeNs === b.mtimeNs && a.raw === b.raw;
const msOf = (seen: SeenLock): number => Number(seen.mtimeNs / 1_000_000n);

function lockedError(path: string, seen: SeenLock, waitMs: number, unparsableStaleMs: number): BackupError {
  const waited = waitMs > 0 ? ` (waited ${waitMs} ms)` : '';
  const { info } = seen;
  if (!info) {
    const since = new Date(msOf(seen)).toISOString();
    return new BackupError(
      ErrorCode.LOCKED,
      `"${path}" exists but is unreadable (written ${since}); it is treated as held until ` +
        `${new Date(msOf(seen) + unparsableStaleMs).toISOString()}, ` +
        `or remove it by hand if no backup is running${waited}`,
      { path },
    );
  }
  const foreign = info.hostname !== osHostname();
  return new BackupError(
    ErrorCode.LOCKED,
    `"${path}" is held by pid ${info.pid} on host "${info.hostname}" since ${info.startedAt}${waited}` +
      (foreign ? `; a lock from another host is never broken automatically: remove it by hand if no backup runs there` : ''),
    { path, host: info.hostname, pid: info.pid },
  );
}

function ioError(what: string, path: string, e: unknown): BackupError {
  if (e instanceof BackupError) return e;
  const errno = errnoOf(e);
  return new BackupError(ErrorCode.IO, `${what} "${path}" failed (${errno ? fsReason(errno) : (e as Error).message})`, {
    path,
    cause: e,
    errno,
  });
}
