/**
 * What a local backup directory holds, and which backup is "the latest".
 *
 * The Go original picked "latest" by sorting all names, so it could pick a half-written `.tmp` file
 * or another database's backup. Here only names that parse as backups count (parseBackupName), only
 * regular files (a symlink could point anywhere), and order comes from the timestamp in the name.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BackupError, ErrorCode, isBackupError } from '../errors.js';
import { readLatest } from './manifest.js';
import { compareBackups, parseBackupName, SIDECAR_SUFFIX, type ParsedBackupName } from './naming.js';

export interface BackupEntry extends ParsedBackupName {
  /** `join(dir, name)`. */
  path: string;
  /** Bytes of the .gz file. */
  size: number;
  /** A `<name>.sha256` sidecar is present (a regular file; its content is not checked here). */
  hasChecksum: boolean;
  /** latest.txt names this file. */
  isLatest: boolean;
}

export interface ListOptions {
  /**
   * Only backups of this database (a sanitized name, see sanitizeDbName). Go v1 backups have no
   * dbName and are listed only without this filter.
   */
  dbName?: string;
}

/**
 * latest.txt's name for the listing flags, or undefined when it is missing or malformed: a broken
 * manifest must not make the directory unlistable (readLatest reports it to those who ask).
 */
async function latestOrNone(dir: string): Promise<string | undefined> {
  try {
    return await readLatest(dir);
  } catch (e) {
    if (isBackupError(e, ErrorCode.BACKUP_NOT_FOUND)) return undefined;
    throw e;
  }
}

function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

/** Regular files in `dir` by name; empty when `dir` does not exist; EIO when it is not a directory. */
export async function regularFiles(dir: string): Promise<Set<string>> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return new Set(entries.filter((d) => d.isFile()).map((d) => d.name));
  } catch (e) {
    const errno = errnoOf(e);
    if (errno === 'ENOENT') return new Set();
    const why = errno === 'ENOTDIR' ? 'not a directory' : (errno ?? (e as Error).message);
    throw new BackupError(ErrorCode.IO, `[api] cannot list backup directory "${dir}" (${why})`, {
      path: dir,
      cause: e,
      ...(errno ? { errno } : {}),
    });
  }
}

/**
 * The backups in `dir`, oldest first (by time in the name, then counter, then name). Ignores temp
 * files, sidecars, latest.txt, lock files, symlinks, anything unrecognised and, with `dbName`, other
 * databases' backups. A missing `dir` gives `[]`; a path that is not a directory throws EIO.
 */
export async function listBackups(dir: string, options: ListOptions = {}): Promise<BackupEntry[]> {
  const files = await regularFiles(dir);
  const latest = await latestOrNone(dir);
  const out: BackupEntry[] = [];
  for (const name of files) {
    const parsed = parseBackupName(name);
    if (!parsed || (options.dbName !== undefined && parsed.dbName !== options.dbName)) continue;
    const path = join(dir, name);
    let size: number;
    try {
      const st = await lstat(path);
      if (!st.isFile()) continue;
      size = st.size;
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') continue; // removed since readdir (a concurrent prune)
      throw new BackupError(ErrorCode.IO, `[api] cannot stat backup "${path}" (${errnoOf(e) ?? (e as Error).message})`, {
        path,
        cause: e,
      });
    }
    out.push({ ...parsed, path, size, hasChecksum: files.has(name + SIDECAR_SUFFIX), isLatest: name === latest });
  }
  return out.sort(compareBackups);
}

/**
 * The backup to restore from `dir`: the one latest.txt names when it is an existing, recognised
 * backup (of `dbName` when given), flagged `isLatest: true`; otherwise (latest.txt missing,
 * malformed, or naming a missing, unrecognised or other database's file) the newest by the listing,
 * flagged `isLatest: false`, so callers can tell which rule chose it. Undefined when there is none.
 */
export async function pickLatest(dir: string, options: ListOptions = {}): Promise<BackupEntry | undefined> {
  const entries = await listBackups(dir, options);
  return entries.find((e) => e.isLatest) ?? entries.at(-1);
}
