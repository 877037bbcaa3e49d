/**
 * A local backup directory seen through the store (store/listing.ts): the backups it holds, with
 * their local paths, and which one is "the latest". The same rules hold for remote stores.
 */
import { join } from 'node:path';
import { LocalTransport } from '../transport/local.js';
import { latestOf, listStore, type StoreEntry } from './store/listing.js';

export interface BackupEntry extends StoreEntry {
  /** `join(dir, name)`. */
  path: string;
}

export interface ListOptions {
  /**
   * Only backups of this database (a sanitized name, see sanitizeDbName). Go v1 backups have no
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
