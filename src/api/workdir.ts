/**
 * The private work directory of an encrypted backup. With [encryption] nothing plaintext may ever
 * stand in backup_dir (it may be synced, shared or mounted from elsewhere), so the live copy of the
 * source, the snapshot and whatever SQLite writes next to them (`-journal`, `-wal`) go to a fresh
 * 0700 directory under os.tmpdir() ($TMPDIR) instead, removed on every exit path of the run.
 *
 * A run killed with SIGKILL cannot remove it: its name says whose it was, so the next run of the same
 * database removes it, under that database's backup lock (then no other run of it is alive on this
 * host, and the directory can only be a dead run's). The name is
 * `sqlite-backup-work-<hash>-<dbName>-<6 random>`: `<hash>`, 12 hex characters of the SHA-256 of
 * backup_dir's real path, keeps two backup directories with a database of the same name from ever
 * touching each other's directories; the fixed shape (exactly 6 characters after the prefix) keeps
 * database `a` from matching database `a-b`'s directories.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsError } from '../errors.js';

const PREFIX = 'sqlite-backup-work-';
/** mkdtemp appends exactly six characters. */
const RANDOM_LENGTH = 6;

/** `sqlite-backup-work-<hash>-<dbName>-`: what every work directory of this database and backup_dir starts with. */
export async function workDirPrefix(backupDir: string, dbName: string): Promise<string> {
  const real = await realpath(backupDir).catch(() => backupDir);
  const hash = createHash('sha256').update(real).digest('hex').slice(0, 12);
  return `${PREFIX}${hash}-${dbName}-`;
}

/**
 * Removes the work directories dead runs of this database left in os.tmpdir(). Call it only while
 * holding the database's backup lock. Best effort: a directory that cannot be removed (another user's,
 * on a shared /tmp) is left for the next run; returns the paths removed.
 */
export async function removeStaleWorkDirs(prefix: string): Promise<string[]> {
  const root = tmpdir();
  const names = await readdir(root).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || name.length !== prefix.length + RANDOM_LENGTH) continue;
    const path = join(root, name);
    try {
      await rm(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      // left for the next run
    }
  }
  return removed;
}

/** A fresh private (0700: mkdtemp's mode) work directory for one run. */
export async function makeWorkDir(prefix: string): Promise<string> {
  const root = tmpdir();
  try {
    return await mkdtemp(join(root, prefix));
  } catch (e) {
    throw fsError('create the private work directory in', root, e);
  }
}

/** Removes a run's work directory and everything in it (every exit path of the run). */
export async function removeWorkDir(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true }).catch((e: unknown) => {
    throw fsError('remove', path, e);
  });
}
