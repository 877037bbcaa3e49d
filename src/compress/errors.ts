/** Error helpers of the compress layer: every message names the layer and the file. */
import { BackupError, type ErrorCodeValue } from '../errors.js';

export const LAYER = '[gzip]';

/** `[gzip] "backup.db.gz": CRC-32 mismatch ...`, with `path` set to the file (or stream) name. */
export function gzipError(code: ErrorCodeValue, name: string, detail: string, cause?: unknown): BackupError {
  return new BackupError(code, `${LAYER} ${JSON.stringify(name)}: ${detail}`, cause === undefined ? { path: name } : { path: name, cause });
}

/** The errno name (ENOENT, ENOSPC...) of a Node fs error, if it has one. */
export function errnoOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}
