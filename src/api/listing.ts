/**
 * A local backup directory seen through the store (store/listing.ts): the backups it holds, with
 * their local paths, and which one is "the latest". The same rules hold for remote stores.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BackupError, ErrorCode } from '../errors.js';
import { LATEST_FILE } from '../format/naming.js';
import { LocalTransport } from '../transport/local/local.js';
import { latestOf, listStore, type StoreEntry } from '../store/listing.js';

/** A backup in a local directory, as listBackups and pickLatest return it. */
export interface BackupEntry extends StoreEntry {
  /** `join(dir, name)`. */
  path: string;
}

/** Options of listBackups and pickLatest. */
export interface ListOptions {
  /**
   * Only backups of this database: the name in the backup file names (the database file's name
   * without its extension, characters outside `[A-Za-z0-9._-]` as `_`; `app.db` gives `app`). Go v1 backups have no
   * dbName and are listed only without this filter.
   */
  dbName?: string;
}

/**
 * The backups in `dir`, oldest first (by time in the name, then counter, then name). Ignores temp
 * files, sidecars, latest.txt, lock files, symlinks, anything unrecognised and, with `dbName`, other
 * databases' backups. A missing `dir` gives `[]`; a path that is not a directory throws EIO.
 */
export async function listBackups(dir: string, options: ListOptions = {}): Promise<BackupEntry[]> {
  const listing = await listStore(new LocalTransport(dir), options);
  return listing.backups.map((e) => ({ ...e, path: join(dir, e.name) }));
}

/**
 * The backup to restore from `dir`: the one latest.txt names when it is an existing, recognised
 * backup (of `dbName` when given), flagged `isLatest: true`; otherwise (latest.txt missing,
 * malformed, or naming a missing, unrecognised or other database's file) the newest by the listing,
 * flagged `isLatest: false`, so callers can tell which rule chose it. Undefined when there is none.
 */
export async function pickLatest(dir: string, options: ListOptions = {}): Promise<BackupEntry | undefined> {
  const listing = await listStore(new LocalTransport(dir), options);
  const e = latestOf(listing);
  return e && { ...e, path: join(dir, e.name) };
}

/**
 * The database names among `backups`, in order of first appearance. Go v1 names carry none: that
 * writer kept one database per directory, the same one its later upstream names (`<base>-...`)
 * continue, so they never make a directory "several databases".
 */
export function namedDatabases(backups: readonly { dbName: string | undefined }[]): string[] {
  return [...new Set(backups.flatMap((b) => (b.dbName === undefined ? [] : [b.dbName])))];
}

/** Which rule chose the backup of a directory: latest.txt, or the newest by name when there is none. */
export type ChosenBy = 'latest.txt' | 'newest';

/**
 * What restore and verify act on when given `path`: the file itself, or, for a backup directory, the
 * backup latest.txt names. A directory without latest.txt (Go upstream layouts never write one), or
 * whose latest.txt names a missing file, gives its newest backup by name - the rule of list and pull -
 * and `chosenBy: 'newest'` says so. A malformed latest.txt is refused (EBACKUP_NOT_FOUND): something
 * wrote that directory that we do not understand, and guessing which database to restore is worse
 * than asking. A directory without backups is EBACKUP_NOT_FOUND too. With `dbName`, only that
 * database's backups count; without it, a directory whose latest.txt does not choose and that holds
 * several databases' backups (a restinpieces-backup `dest_path` is shared by all its entries) is
 * EBACKUP_NOT_FOUND naming them: which one to restore is the user's to say (`--db`).
 */
export async function resolveBackupPath(path: string, options: ListOptions = {}): Promise<{ file: string; chosenBy?: ChosenBy }> {
  let isDir = false;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch {
    // A missing or unreadable path is reported by whoever opens it, with its own wording.
  }
  if (!isDir) return { file: path };
  const listing = await listStore(new LocalTransport(path), options);
  if (listing.latestProblem) {
    throw new BackupError(
      ErrorCode.BACKUP_NOT_FOUND,
      `${listing.latestProblem.message}: not guessing which backup to use; give the backup file instead of the directory`,
      { path: join(path, LATEST_FILE), cause: listing.latestProblem },
    );
  }
  const e = latestOf(listing);
  if (!e) {
    const of = options.dbName !== undefined ? ` of database "${options.dbName}"` : '';
    throw new BackupError(ErrorCode.BACKUP_NOT_FOUND, `no backup${of} in directory "${path}"`, { path });
  }
  const databases = namedDatabases(listing.backups);
  if (!e.isLatest && databases.length > 1) {
    throw new BackupError(
      ErrorCode.BACKUP_NOT_FOUND,
      `directory "${path}" holds backups of several databases (${databases.join(', ')}) and no latest.txt says which: ` +
        'pass --db <name> (dbName) to choose one',
      { path },
    );
  }
  return { file: join(path, e.name), chosenBy: e.isLatest ? 'latest.txt' : 'newest' };
}
