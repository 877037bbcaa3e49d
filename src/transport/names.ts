/**
 * Names a transport accepts: plain file names inside its directory. A hostile server's latest.txt
 * (or a bug upstream) must never make us read or write outside the backup directory.
 */
import { BackupError, ErrorCode } from '../errors.js';

/** Longest file name most file systems allow (bytes). A longer manifest is not a file name. */
export const MAX_NAME_BYTES = 255;

/**
 * Why `name` is not a plain file name in one directory (`undefined` when it is one): empty, too
 * long, a path (`/`, `\`), `..` anywhere, NUL or another control character (so never multi-line),
 * `:` (a Windows drive or alternate data stream), or surrounding whitespace.
 */
export function plainFileNameProblem(name: string): string | undefined {
  if (name === '') return 'it is empty';
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `it is longer than ${MAX_NAME_BYTES} bytes`;
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'it contains a line break, NUL or another control character';
  if (/[/\\]/.test(name)) return 'it contains a path separator';
  if (name.includes('..')) return 'it contains ".."';
  if (name === '.') return 'it is "."';
  if (name.includes(':')) return 'it contains ":"';
  if (name.trim() !== name) return 'it starts or ends with whitespace';
  return undefined;
}

export function isPlainFileName(name: string): boolean {
  return plainFileNameProblem(name) === undefined;
}

/** Throws EBACKUP_NOT_FOUND unless `name` is a plain file name. */
export function checkTransportName(name: string, location: string): void {
  const problem = plainFileNameProblem(name);
  if (problem !== undefined) {
    throw new BackupError(ErrorCode.BACKUP_NOT_FOUND, `refusing ${JSON.stringify(name)} in ${location}: ${problem}`, {
      path: name,
    });
  }
}
