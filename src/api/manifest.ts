/**
 * latest.txt, the manifest of a backup directory: exactly the file name of the newest verified
 * backup. We write it without a newline (as the Go writer did) and tolerate one when reading.
 *
 * Its content is data from the server and is never trusted as a path: anything that is not a plain
 * file name is rejected, so a tampered manifest cannot make a reader open a file outside the directory.
 */
import { lstat, open } from 'node:fs/promises';
import { join } from 'node:path';
import { BackupError, ErrorCode } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { LATEST_FILE, parseBackupName } from './naming.js';

export { plainFileNameProblem, isPlainFileName } from '../transport/names.js';
import { MAX_NAME_BYTES, plainFileNameProblem, isPlainFileName } from '../transport/names.js';

function ioError(what: string, path: string, e: unknown): BackupError {
  const errno = (e as NodeJS.ErrnoException).code;
  return new BackupError(ErrorCode.IO, `[api] cannot ${what} "${path}" (${errno ?? (e as Error).message})`, {
    path,
    cause: e,
    ...(errno ? { errno } : {}),
  });
}

/**
 * The file name latest.txt in `dir` holds, or undefined when there is no latest.txt. One trailing
 * `\n` or `\r\n` is dropped. Throws EBACKUP_NOT_FOUND (naming the file) when the content is not a
 * plain file name (see plainFileNameProblem) or is not UTF-8, and EIO when the file cannot be read.
 * It does not check that the named file exists or is a backup: pickLatest does.
 */
export async function readLatest(dir: string): Promise<string | undefined> {
  const path = join(dir, LATEST_FILE);
  // Bounded read: a huge (tampered) manifest must not be loaded whole. +3 leaves room for
  // `\r\n` and one byte more to notice an over-long name.
  const buf = Buffer.alloc(MAX_NAME_BYTES + 3);
  let length = 0;
  try {
    const fh = await open(path, 'r');
    try {
      for (;;) {
        const { bytesRead } = await fh.read(buf, length, buf.length - length, length);
        if (bytesRead === 0 || (length += bytesRead) === buf.length) break;
      }
    } finally {
      await fh.close();
    }
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    if (errno === 'ENOENT') return undefined;
    throw ioError('read', path, e);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, length));
  } catch {
    throw new BackupError(ErrorCode.BACKUP_NOT_FOUND, `[api] "${path}" is not UTF-8 text: not a backup file name`, { path });
  }
  const name = text.replace(/\r?\n$/, '');
  const problem = plainFileNameProblem(name);
  if (problem !== undefined) {
    const shown = JSON.stringify(name.length > 60 ? `${name.slice(0, 57)}...` : name);
    throw new BackupError(ErrorCode.BACKUP_NOT_FOUND, `[api] "${path}" does not hold a plain backup file name: ${shown} (${problem})`, {
      path,
    });
  }
  return name;
}

/** latest.txt is written through `<backup name>.latest.tmp-<random>`. */
export const LATEST_TEMP_SUFFIX = '.latest';

/**
 * Points latest.txt in `dir` at `name`: exactly the name, no newline, written atomically (0600).
 * Write it last, after the backup and its sidecar are in place and verified. Throws
 * EBACKUP_NOT_FOUND when `name` is not a backup file name or no such regular file is in `dir`
 * (the manifest must never name nothing), EIO when the write fails.
 */
export async function writeLatest(dir: string, name: string): Promise<void> {
  const path = join(dir, LATEST_FILE);
  if (!isPlainFileName(name) || parseBackupName(name) === undefined) {
    throw new BackupError(ErrorCode.BACKUP_NOT_FOUND, `[api] refusing to write "${path}": ${JSON.stringify(name)} is not a backup file name`, {
      path,
    });
  }
  const target = join(dir, name);
  let isFile = false;
  try {
    isFile = (await lstat(target)).isFile();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('stat', target, e);
  }
  if (!isFile) {
    throw new BackupError(ErrorCode.BACKUP_NOT_FOUND, `[api] refusing to write "${path}": "${target}" is not an existing backup file`, {
      path: target,
    });
  }
  // The temp file carries the backup's name: latest.txt is shared by every database of the
  // directory, and only then can the next run of this database tell a crashed run's temp is its own.
  await writeFileAtomic(path, name, { tempBase: `${name}${LATEST_TEMP_SUFFIX}` });
}
