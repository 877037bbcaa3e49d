/**
 * latest.txt, the manifest of a backup store: exactly the file name of the newest verified
 * backup. Written without a newline (as the Go writer did); one trailing `\n` or `\r\n` is tolerated
 * when reading. The one reader and the one writer for every store (local directory, SFTP, S3):
 * backup, push, pull, list, prune and restore all go through here.
 *
 * Its content is data from a server and is never trusted as a path: anything that is not a plain
 * file name is rejected, so a tampered manifest cannot make a reader open a file outside the store.
 */
import { BackupError, ErrorCode } from '../errors.js';
import { MAX_NAME_BYTES, plainFileNameProblem } from '../transport/names.js';
import type { Transport } from '../transport/types.js';
import { LATEST_FILE, parseBackupName } from '../format/naming.js';
import { whereIn } from './where.js';

/** latest.txt is written through `<backup name>.latest.tmp-<random>` (local and SFTP stores). */
export const LATEST_TEMP_SUFFIX = '.latest';

/**
 * The file name latest.txt holds, or undefined when there is no latest.txt. Throws EBACKUP_NOT_FOUND
 * (naming the file) when the content is not a plain file name or not UTF-8, and the transport's
 * error when it cannot be read. It does not check that the named file exists or is a backup:
 * findLatest does.
 */
export async function readLatest(transport: Transport, options: { signal?: AbortSignal } = {}): Promise<string | undefined> {
  // Bounded read: a huge (tampered) manifest is not loaded whole. +3 leaves room for `\r\n` and one
  // byte more to notice an over-long name.
  const text = await transport.readText(LATEST_FILE, MAX_NAME_BYTES + 3, options);
  if (text === undefined) return undefined;
  const path = whereIn(transport, LATEST_FILE);
  if (text.includes('\uFFFD')) {
    throw new BackupError(ErrorCode.BACKUP_NOT_FOUND, `"${path}" is not UTF-8 text: not a backup file name`, { path });
  }
  const name = text.replace(/\r?\n$/, '');
  const problem = plainFileNameProblem(name);
  if (problem !== undefined) {
    const shown = JSON.stringify(name.length > 60 ? `${name.slice(0, 57)}...` : name);
    throw new BackupError(ErrorCode.BACKUP_NOT_FOUND, `"${path}" does not hold a plain backup file name: ${shown} (${problem})`, {
      path,
    });
  }
  return name;
}

/**
 * Points latest.txt at `name`: exactly the name, no newline, written atomically. Write it last,
 * after the backup and its sidecar are in place and checked. Throws EBACKUP_NOT_FOUND when `name`
 * is not a backup file name or the store holds no such file (the manifest must never name nothing).
 */
export async function writeLatest(transport: Transport, name: string, options: { signal?: AbortSignal } = {}): Promise<void> {
  const path = whereIn(transport, LATEST_FILE);
  if (plainFileNameProblem(name) !== undefined || parseBackupName(name) === undefined) {
    throw new BackupError(ErrorCode.BACKUP_NOT_FOUND, `refusing to write "${path}": ${JSON.stringify(name)} is not a backup file name`, {
      path,
    });
  }
  if ((await transport.stat(name, options)) === undefined) {
    const target = whereIn(transport, name);
    throw new BackupError(ErrorCode.BACKUP_NOT_FOUND, `refusing to write "${path}": "${target}" is not an existing backup file`, {
      path: target,
    });
  }
  await transport.write(LATEST_FILE, name, { ...options, tempBase: `${name}${LATEST_TEMP_SUFFIX}` });
}
