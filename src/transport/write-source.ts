/**
 * The bytes of a write, whatever form the caller gave them in, as one stream of chunks - with the
 * checks every transport needs: the abort signal between chunks, progress, and "exactly `size`
 * bytes" when the caller said how many to expect (a source that ends early must not be published
 * as if it were whole).
 */
import { AbortError, BackupError, ErrorCode } from '../errors.js';
import type { WriteOptions, WriteSource } from './types.js';

/** Progress is reported when at least this many more bytes were sent. */
const PROGRESS_EVERY = 4 * 1024 * 1024;

export async function* writeChunks(data: WriteSource, options: WriteOptions, where: string): AsyncGenerator<Uint8Array> {
  const { signal, size, onProgress } = options;
  let sent = 0;
  let reported = 0;
  const source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> =
    typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
  for await (const chunk of source) {
    if (signal?.aborted) throw new AbortError(`write of ${where} aborted`, { cause: signal.reason });
    sent += chunk.length;
    if (size !== undefined && sent > size) throw sizeMismatch(where, size, `more than ${size}`);
    if (chunk.length > 0) yield chunk;
    if (onProgress && sent - reported >= PROGRESS_EVERY) {
      reported = sent;
      onProgress(sent);
    }
  }
  if (signal?.aborted) throw new AbortError(`write of ${where} aborted`, { cause: signal.reason });
  if (size !== undefined && sent !== size) throw sizeMismatch(where, size, String(sent));
  if (onProgress && sent !== reported) onProgress(sent);
}

function sizeMismatch(where: string, expected: number, got: string): BackupError {
  return new BackupError(ErrorCode.IO, `write of ${where}: the source gave ${got} bytes, expected ${expected}; nothing was published`, {
    path: where,
  });
}

/** The whole of a small source as one buffer (for bodies that must be sent at once). */
export function bytesOf(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}
