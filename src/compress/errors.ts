/** Error helpers of the compress layer: every message names the file (or stream). */
import { BackupError, type ErrorCodeValue } from '../errors.js';

/** `"backup.db.gz": CRC-32 mismatch ...`, with `path` set to the file (or stream) name. */
export function gzipError(code: ErrorCodeValue, name: string, detail: string, cause?: unknown): BackupError {
  return new BackupError(code, `${JSON.stringify(name)}: ${detail}`, { path: name, cause });
}

/** The errno name (ENOENT, ENOSPC...) of a Node fs error, if it has one. */
export function errnoOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}
