/**
 * Publishing a backup in a store, in the one order that keeps every reader safe: the backup file
 * (atomically: never partial under its name), a check of what the store now holds, its `.sha256`
 * sidecar, and latest.txt last. A crash or failure before latest.txt leaves the store's previous
 * state in force; the backup file and sidecar this call wrote are removed again (best effort - what
 * a killed process leaves is not named by latest.txt, and the next prune or sweep removes it).
 */
import { BackupError, ErrorCode } from '../errors.js';
import type { Transport, WriteSource } from '../transport/types.js';
import { SIDECAR_SUFFIX } from '../format/naming.js';
import { writeLatest } from './manifest.js';
import { writeStoreSidecar } from './sidecar.js';
import { whereIn } from './where.js';

export interface PublishInput {
  /** The backup's file name (a backup name: see parseBackupName). */
  name: string;
  /** Lower-case hex SHA-256 of the file's bytes. */
  sha256: string;
  /** Bytes of the file. */
  size: number;
  /** The file's bytes, when the store does not hold it yet; without it the file must already be there. */
  data?: WriteSource;
}

export interface PublishOptions {
  signal?: AbortSignal;
  /** Bytes of the backup file sent so far. */
  onProgress?: (bytesSent: number) => void;
  /** Called after each step: `uploaded`, `sidecar`, `published`. */
  onStep?: (step: 'uploaded' | 'sidecar' | 'published') => void;
}

export async function publishBackup(transport: Transport, input: PublishInput, options: PublishOptions = {}): Promise<void> {
  const { signal } = options;
  const wrote = input.data !== undefined;
  let published = false;
  try {
    if (input.data !== undefined) {
      const result = await transport.write(input.name, input.data, {
        size: input.size,
        signal,
        onProgress: options.onProgress,
      });
      checkSize(transport, input, result.size);
    } else {
      const st = await transport.stat(input.name, { signal });
      if (!st) {
        const path = whereIn(transport, input.name);
        throw new BackupError(ErrorCode.BACKUP_NOT_FOUND, `cannot publish "${path}": it does not exist`, { path });
      }
      checkSize(transport, input, st.size);
    }
    options.onStep?.('uploaded');
    await writeStoreSidecar(transport, input.name, input.sha256, { signal });
    options.onStep?.('sidecar');
    await writeLatest(transport, input.name, { signal });
    published = true;
    options.onStep?.('published');
  } finally {
    if (!published && wrote) {
      // Not named by latest.txt, so nobody relies on it; an aborted or failed run must not leave it
      // to be picked by a listing fallback. Best effort: the connection may be what failed.
      await transport.remove(`${input.name}${SIDECAR_SUFFIX}`).catch(() => {});
      await transport.remove(input.name).catch(() => {});
    }
  }
}

function checkSize(transport: Transport, input: PublishInput, held: number): void {
  if (held === input.size) return;
  const path = whereIn(transport, input.name);
  throw new BackupError(
    ErrorCode.IO,
    `${path} holds ${held} bytes after the upload, but the backup has ${input.size}: not published`,
    { path },
  );
}

