/**
 * Facts about a database file read straight from its bytes, before SQLite touches it: is it a SQLite
 * database at all, which journal mode its header declares, is there a hot rollback journal next to it.
 * Reading these ourselves gives clear errors (SQLite would say "file is not a database" or, worse,
 * happily open a missing path as a new empty database - the Go original's behaviour).
 */
import { accessSync, closeSync, constants as fsc, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { BackupError, ErrorCode, errnoOf, fsReason } from '../errors.js';
import { pathExists, readFully } from '../fs/sync.js';

export const SQLITE_MAGIC = 'SQLite format 3\0';
/** First 8 bytes of a rollback journal that still holds pages to roll back. */
export const JOURNAL_MAGIC = Buffer.from('d9d505f920a163d7', 'hex');

export interface DatabaseHeader {
  size: number;
  pageSize: number;
  /** The header's read/write version bytes say WAL. */
  walMode: boolean;
  /** File change counter (offset 24): rollback-mode writers bump it on every commit. */
  changeCounter: number;
}

/** Reads and checks a database header; throws ESOURCE_NOT_FOUND or ENOTADB with the path. */
export function readDatabaseHeader(path: string): DatabaseHeader {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) {
      throw new BackupError(ErrorCode.NOT_A_DATABASE, `"${path}" is not a regular file`, { path });
    }
    size = st.size;
  } catch (e) {
    if (e instanceof BackupError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') {
      throw new BackupError(ErrorCode.SOURCE_NOT_FOUND, `database "${path}" does not exist`, {
        path,
        errno: err.code,
        cause: e,
      });
    }
    throw unreadable(path, e);
  }
  const header = Buffer.alloc(100);
  let got: number;
  try {
    got = withFd(path, (fd) => readFully(fd, header, 0));
  } catch (e) {
    throw unreadable(path, e);
  }
  return parseDatabaseHeader(header.subarray(0, got), size, path);
}

/** EIO for a database we may not stat, open or read (EACCES: the user running us lacks permission). */
function unreadable(path: string, e: unknown): BackupError {
  const errno = errnoOf(e);
  const why = errno ? fsReason(errno) : ((e as Error)?.message ?? String(e));
  return new BackupError(ErrorCode.IO, `database "${path}" cannot be read: ${why}`, {
    path,
    cause: e,
    errno,
  });
}

/**
 * Checks and decodes the first bytes of a database file (`head`: up to 100 bytes, `size`: the file's
 * size) read by the caller, however it read them. Throws ENOTADB naming the path.
 */
export function parseDatabaseHeader(head: Buffer, size: number, path: string): DatabaseHeader {
  if (size === 0) {
    throw new BackupError(ErrorCode.NOT_A_DATABASE, `"${path}" is empty (0 bytes): not a SQLite database`, {
      path,
    });
  }
  const got = Math.min(head.length, 100);
  if (got < 100 || head.toString('latin1', 0, 16) !== SQLITE_MAGIC) {
    throw new BackupError(
      ErrorCode.NOT_A_DATABASE,
      `"${path}" is not a SQLite database (${got < 100 ? `only ${got} bytes` : 'no SQLite header'})`,
      { path },
    );
  }
  const rawPageSize = head.readUInt16BE(16);
  return {
    size,
    pageSize: rawPageSize === 1 ? 65536 : rawPageSize,
    walMode: head[18] === 2 && head[19] === 2,
    changeCounter: head.readUInt32BE(24),
  };
}

/** True when `<db>-journal` exists and starts with the magic of a journal that still needs rolling back. */
export function hasHotJournalCandidate(dbPath: string): boolean {
  const journal = `${dbPath}-journal`;
  let fd: number;
  try {
    fd = openSync(journal, 'r');
  } catch {
    return false;
  }
  try {
    const head = Buffer.alloc(8);
    return readFully(fd, head, 0) === 8 && head.equals(JOURNAL_MAGIC);
  } finally {
    closeSync(fd);
  }
}

/** Size of a file, 0 when it does not exist. */
export function fileSizeOrZero(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * Checks that `dest` (and the side files SQLite would create next to it) do not exist and that its
 * directory exists and is a directory. Throws EDEST_EXISTS / EDEST_DIR.
 */
export function checkNewDestination(dest: string): void {
  for (const p of [dest, `${dest}-journal`, `${dest}-wal`, `${dest}-shm`]) {
    if (pathExists(p)) {
      throw new BackupError(ErrorCode.DEST_EXISTS, `destination "${p}" already exists; refusing to overwrite it`, {
        path: p,
      });
    }
  }
  const dir = dirname(dest);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (e) {
    throw new BackupError(ErrorCode.DEST_DIR, `destination directory "${dir}" does not exist`, {
      path: dir,
      cause: e,
      errno: (e as NodeJS.ErrnoException).code ?? 'ENOENT',
    });
  }
  if (!isDir) {
    throw new BackupError(ErrorCode.DEST_DIR, `destination directory "${dir}" is not a directory`, { path: dir });
  }
  try {
    accessSync(dir, fsc.W_OK);
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code ?? 'EACCES';
    throw new BackupError(ErrorCode.DEST_DIR, `destination directory "${dir}" is not writable (${errno})`, {
      path: dir,
      errno,
      cause: e,
    });
  }
}

function withFd<T>(path: string, fn: (fd: number) => T): T {
  const fd = openSync(path, 'r');
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}
