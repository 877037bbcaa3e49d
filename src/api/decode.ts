/**
 * From a backup file's bytes to the database's bytes: age-decrypt (`.age`), then gunzip (`.gz`), or
 * nothing (a plain `.db`). One pass over the input, which is hashed on the way (the `.sha256`
 * sidecar holds the hash of the file as published: of the encrypted bytes when encrypted). Used by
 * verify and restore (a local file) and by pull (the download as it arrives).
 */
import { createHash } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { gunzipStreamInternal } from '../compress/gunzip.js';
import type { AgeIdentities } from '../crypto/age-identity.js';
import { decryptChunks } from '../crypto/age-stream.js';
import { BackupError, ErrorCode, fsError } from '../errors.js';
import { readFileChunks, writeChunks } from '../fs/chunks.js';
import { readAhead } from '../read-ahead.js';
import { collectEvery, releaseYoungGarbage } from '../memory.js';

/** How a backup file is encoded, from its first bytes (detectFormat) or its name. */
export interface BackupEncoding {
  /** age-encrypted (the gzip inside). */
  encrypted: boolean;
  /** gzip (always true when encrypted). */
  compressed: boolean;
}

export interface DecodeOptions {
  /** Required when the backup is encrypted. */
  identities?: AgeIdentities | undefined;
  /** Names the backup in messages (a path, or a remote name). */
  name: string;
  signal?: AbortSignal | undefined;
  /** Bytes of the backup file consumed so far. */
  onProgress?: ((bytesIn: number) => void) | undefined;
  /**
   * Hash the backup file's bytes (summary.fileSha256). Off for a caller that hashes them itself as
   * they arrive (pull): fileSha256 is then empty. @default true
   */
  hashFile?: boolean;
}

export interface DecodeSummary {
  /** Size and SHA-256 (hex) of the backup file's bytes: what its sidecar holds (empty without hashFile). */
  fileBytes: number;
  fileSha256: string;
  /** Size of the database. */
  dbBytes: number;
}

/** The database's bytes; `summary` resolves once they have all been read. */
export interface DecodedBackup extends AsyncIterable<Uint8Array> {
  readonly summary: Promise<DecodeSummary>;
}

/**
 * Decodes `bytes` as `encoding` says. Throws (from the iteration) EDECRYPT for a key that does not
 * fit or altered ciphertext, EGZIP_* for a damaged gzip stream; an encrypted backup without
 * `identities` is ECONFIG before anything is read.
 */
export function decodeBackup(bytes: AsyncIterable<Uint8Array>, encoding: BackupEncoding, options: DecodeOptions): DecodedBackup {
  const { identities, name, signal } = options;
  if (encoding.encrypted && identities === undefined) throw missingIdentity(name);
  let resolve!: (s: DecodeSummary) => void;
  let reject!: (e: unknown) => void;
  const summary = new Promise<DecodeSummary>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  summary.catch(() => {}); // errors reach the caller through the iteration
  const hashFile = options.hashFile ?? true;
  const hash = hashFile ? createHash('sha256') : undefined;
  let fileBytes = 0;
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const chunk of readAhead(bytes, INPUT_AHEAD)) {
      // The gzip stream hashes its own input; only the bytes it does not see are hashed here.
      if (encoding.encrypted || !encoding.compressed) hash?.update(chunk);
      fileBytes += chunk.length;
      options.onProgress?.(fileBytes);
      yield chunk;
    }
  }
  async function* run(): AsyncGenerator<Uint8Array> {
    let dbBytes = 0;
    try {
      const raw = counted();
      const compressed = encoding.encrypted ? await decryptChunks(raw, identities!, name) : raw;
      if (!encoding.compressed && !encoding.encrypted) {
        for await (const chunk of compressed) {
          dbBytes += chunk.length;
          yield chunk;
        }
        resolve({ fileBytes, fileSha256: hash?.digest('hex') ?? '', dbBytes });
        return;
      }
      // The database's own SHA-256 is never read: its integrity is the gzip CRC-32s and the check's.
      const gunzip = gunzipStreamInternal(
        compressed,
        { name, signal },
        { skipHash: { uncompressed: true, compressed: !hashFile || encoding.encrypted } },
      );
      const collect = collectEvery(MINOR_GC_EVERY_BYTES, releaseYoungGarbage);
      for await (const chunk of gunzip) {
        dbBytes += chunk.length;
        collect(dbBytes);
        yield chunk;
      }
      const gz = await gunzip.summary;
      resolve({ fileBytes, fileSha256: encoding.encrypted ? (hash?.digest('hex') ?? '') : gz.compressedSha256, dbBytes });
    } catch (e) {
      reject(e);
      throw e;
    } finally {
      reject(new BackupError(ErrorCode.ABORTED, `decoding of "${name}" stopped before the end`, { path: name }));
    }
  }
  const it = run();
  return { summary, [Symbol.asyncIterator]: () => it };
}

/**
 * Decodes the backup file `src` into a new file `dest` (created 0600; fails if it exists). Not
 * fsynced: the caller fsyncs it when it keeps it. On failure `dest` is removed.
 */
export async function decodeBackupFile(src: string, dest: string, encoding: BackupEncoding, options: Omit<DecodeOptions, 'name'>): Promise<DecodeSummary> {
  const decoded = decodeBackup(readFileChunks(src, READ_SIZE, { signal: options.signal }), encoding, { ...options, name: src });
  let out: FileHandle;
  try {
    out = await open(dest, 'wx', 0o600);
  } catch (e) {
    throw fsError('create', dest, e);
  }
  let ok = false;
  try {
    await writeChunks(out, readAhead(decoded, OUTPUT_AHEAD), dest);
    const summary = await decoded.summary;
    ok = true;
    return summary;
  } finally {
    await out.close().catch(() => {});
    if (!ok) await rm(dest, { force: true }).catch(() => {});
  }
}

/**
 * Chunks of the backup file read (or downloaded) ahead of the gunzip, and of the database decoded
 * ahead of its write: reading, inflating (zlib, on the thread pool) and writing overlap instead of
 * taking turns (read-ahead.ts).
 */
export const INPUT_AHEAD = 2;
export const OUTPUT_AHEAD = 2;

/**
 * Decompressed bytes between two minor collections. Every output chunk is a Buffer of its own, dead
 * once written, whose memory V8 gives back only when it collects the small wrapper: without help
 * that happens every few tens of MiB, and the memory stays resident meanwhile (see memory.ts).
 */
const MINOR_GC_EVERY_BYTES = 4 * 1048576;

/** Compressed or encrypted input is read in pieces of this size. */
const READ_SIZE = 256 * 1024;

export function missingIdentity(name: string): BackupError {
  return new BackupError(
    ErrorCode.CONFIG,
    `"${name}" is encrypted (age): give the identity file that decrypts it (--age-identity <file>, $SQLITE_BACKUP_AGE_IDENTITY, or [pull] age_identity)`,
    { path: name },
  );
}
