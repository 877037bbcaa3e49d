/**
 * From a checked snapshot to an encrypted backup file, one pass and bounded memory: read -> gzip
 * (compress stage, parallel workers) -> age (encrypt stage, crypto/age-stream.ts) -> hash -> write.
 * The write is the atomic one of every file we publish (fs/atomic.ts: `<name>.tmp-<random>` 0600,
 * fsync, rename, fsync the directory), so a crash leaves either no file under the final name or the
 * whole of it. The hash is of the bytes as written - the encrypted file - which is what its `.sha256`
 * sidecar holds and what `sha256sum -c` checks. The unencrypted backup does not pass here: it keeps
 * gzipFile (compress/files.ts), byte for byte as before.
 */
import { createHash } from 'node:crypto';
import { CHUNK_SIZE, gzipStream, type GzipOptions } from '../compress/index.js';
import { encryptChunks } from '../crypto/age-stream.js';
import { BackupError, ErrorCode } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { readFileChunks } from '../fs/chunks.js';
import { pathExists } from '../fs/sync.js';

export interface EncryptedFileSummary {
  /** Size and SHA-256 (hex) of the encrypted file as written: its sidecar's content. */
  fileBytes: number;
  fileSha256: string;
  /** Size of the input (the database). */
  dbBytes: number;
}

export type EncryptToFileOptions = Omit<GzipOptions, 'name'>;

/**
 * gzip then age-encrypt the file `src` to `recipients` into the new file `dest` (refused with
 * EDEST_EXISTS if it exists: the caller holds the lock that keeps others from creating it).
 * `onProgress` reports the bytes of `src` consumed.
 */
export async function gzipEncryptFile(
  src: string,
  dest: string,
  recipients: readonly string[],
  options: EncryptToFileOptions = {},
): Promise<EncryptedFileSummary> {
  if (pathExists(dest)) throw new BackupError(ErrorCode.DEST_EXISTS, `"${dest}" already exists: not replaced`, { path: dest });
  const compressed = gzipStream(readFileChunks(src, CHUNK_SIZE, { signal: options.signal }), { ...options, name: src });
  const encrypted = encryptChunks(compressed, recipients);
  const hash = createHash('sha256');
  let fileBytes = 0;
  async function* hashed(): AsyncGenerator<Uint8Array> {
    for await (const chunk of encrypted) {
      hash.update(chunk);
      fileBytes += chunk.length;
      yield chunk;
    }
  }
  await writeFileAtomic(dest, hashed(), { signal: options.signal });
  const { uncompressedBytes } = await compressed.summary;
  return { fileBytes, fileSha256: hash.digest('hex'), dbBytes: uncompressedBytes };
}
