/**
 * Decodes a pulled backup while it downloads (decrypt an age backup, gunzip, or copy a plain
 * snapshot), into a private scratch database next to the part file, so the integrity check can
 * start as soon as the last byte arrives (before, the download and the gunzip ran one after the
 * other: about a quarter of a 150 MB pull was spent waiting).
 *
 * The scratch file is only ever read by our own integrity check (then, with a restore, moved into
 * place) and removed afterwards: it is not fsynced, and a crash leaves it to the next pull's
 * clean-up (removeLeftovers in pull.ts). An encrypted backup is decrypted only here, once: the file
 * published in local_dir stays encrypted, as the server has it.
 */
import { open, rm, type FileHandle } from 'node:fs/promises';
import { writeChunks } from '../fs/chunks.js';
import type { AgeIdentities } from '../crypto/age-identity.js';
import { AGE_MAGIC, isAgeHeader } from '../crypto/age-stream.js';
import { BackupError, ErrorCode, fsError, isBackupError } from '../errors.js';
import { decodeBackup, OUTPUT_AHEAD, type BackupEncoding, type DecodeSummary } from './decode.js';
import { readAhead } from '../read-ahead.js';
import { isContentError } from './verify.js';

/** Suffix of the scratch database of `<name>.part`. */
export const SCRATCH_SUFFIX = '.part.db';

export type UnpackOutcome = { ok: true; encrypted: boolean; summary: DecodeSummary } | { ok: false; encrypted: boolean; error: BackupError };

export interface UnpackOptions {
  signal?: AbortSignal | undefined;
  /** A plain SQLite snapshot (restinpieces-backup's `.db`): copied as it is. */
  plain?: boolean;
  /** The name says age (`.age`). Without it the first bytes still decide: see unpackTo. */
  encrypted?: boolean;
  /** Decrypt an encrypted backup with these; without them an encrypted backup is ECONFIG. */
  identities?: AgeIdentities | undefined;
  /** How the caller tells the user to give an identity, for the ECONFIG message. */
  missingIdentity?: (name: string) => BackupError;
}

/**
 * Decodes `bytes` into `dbPath` (created 0600, replaced if it exists).
 *
 * Damaged content is an outcome, not a throw: a bad gzip (CRC, truncated, not gzip), and an age file
 * that fails authentication or is not age at all (EDECRYPT): the caller reports it only after it
 * knows whether the transfer itself was sound (the sha256 against the server's sidecar), so a byte
 * flipped in transit is not reported as a tampered backup. Throws, stopping the download at once:
 * operational failures (disk full, abort), an encrypted backup without identities (ECONFIG), and a
 * key that does not fit (EDECRYPT, found in the header: the file is fine, our key is not, and
 * downloading the rest cannot change that).
 *
 * The encoding is the name's, except that a file whose first bytes are an age header is decrypted
 * whatever its name says (a backup renamed on the server): its bytes decide, as they do for verify.
 */
export async function unpackTo(bytes: AsyncIterable<Uint8Array>, dbPath: string, name: string, options: UnpackOptions = {}): Promise<UnpackOutcome> {
  const { signal } = options;
  await rm(dbPath, { force: true });
  let fh: FileHandle;
  try {
    fh = await open(dbPath, 'wx', 0o600);
  } catch (e) {
    throw scratchError('create', dbPath, e);
  }
  let encrypted = options.encrypted ?? false;
  try {
    const { head, all } = await peek(bytes, AGE_MAGIC.length);
    encrypted ||= isAgeHeader(head);
    if (encrypted && options.identities === undefined) throw (options.missingIdentity ?? defaultMissingIdentity)(name);
    const encoding: BackupEncoding = { encrypted, compressed: encrypted || !options.plain };
    // The download hashes the file as it arrives (pull-download.ts): not hashed a second time here.
    const decoded = decodeBackup(all, encoding, { identities: options.identities, name, signal, hashFile: false });
    await writeChunks(fh, readAhead(decoded, OUTPUT_AHEAD), dbPath, { what: 'write of the scratch database' });
    return { ok: true, encrypted, summary: await decoded.summary };
  } catch (e) {
    // A key that does not fit is no verdict on the file: it throws at once (the download stops at
    // the header). Damaged or altered content is an outcome, reported after the transfer's sha256.
    if (isWrongIdentity(e)) throw e;
    if (isContentError(e)) return { ok: false, encrypted, error: e };
    throw e;
  } finally {
    await fh.close().catch(() => {});
  }
}

/**
 * An EDECRYPT that says no key of ours opens the file's header (age-encryption's "no identity
 * matched"), as opposed to a file that is damaged, altered or not age at all.
 */
export function isWrongIdentity(e: unknown): boolean {
  if (!isBackupError(e, ErrorCode.DECRYPT)) return false;
  const cause = (e as BackupError).cause;
  return /no identity matched/i.test(cause instanceof Error ? cause.message : String(cause));
}

/**
 * The first `n` bytes of `bytes` (fewer when it is shorter), and all of its bytes again, the ones
 * looked at included. Reads only as many chunks as needed (one, nearly always).
 */
async function peek(bytes: AsyncIterable<Uint8Array>, n: number): Promise<{ head: Uint8Array; all: AsyncIterable<Uint8Array> }> {
  const it = bytes[Symbol.asyncIterator]();
  const seen: Uint8Array[] = [];
  let length = 0;
  let ended = false;
  while (length < n) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    seen.push(r.value);
    length += r.value.length;
  }
  const head = Buffer.concat(seen).subarray(0, n);
  async function* all(): AsyncGenerator<Uint8Array> {
    yield* seen;
    if (ended) return;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  return { head, all: all() };
}

function defaultMissingIdentity(name: string): BackupError {
  return new BackupError(ErrorCode.CONFIG, `"${name}" is encrypted (age): give the identity file that decrypts it`, { path: name });
}

function scratchError(op: string, path: string, e: unknown): BackupError {
  return fsError(`${op} of the scratch database`, path, e);
}
