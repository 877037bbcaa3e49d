/**
 * Decompresses a pulled backup (or copies a plain snapshot) while it downloads, into a private scratch database next to the part
 * file, so the integrity check can start as soon as the last byte arrives (before, the download and
 * the gunzip ran one after the other: about a quarter of a 150 MB pull was spent waiting).
 *
 * The scratch file is only ever read by our own integrity check and removed afterwards: it is not
 * fsynced, and a crash leaves it to the next pull's clean-up (removeLeftovers in pull.ts).
 */
import { open, rm, type FileHandle } from 'node:fs/promises';
import { gunzipStream, type GzipSummary } from '../compress/index.js';
import { fsError, type BackupError } from '../errors.js';
import { isContentError } from './verify.js';

/** Suffix of the scratch database of `<name>.part`. */
export const SCRATCH_SUFFIX = '.part.db';

/** `summary` is the gzip stream's; a plain snapshot has none. */
export type UnpackOutcome = { ok: true; summary?: GzipSummary } | { ok: false; error: BackupError };

/**
 * Gunzips `bytes` into `dbPath` (created 0600, replaced if it exists). Damaged content (bad CRC,
 * truncated, not gzip) is an outcome, not a throw: the caller reports it after it knows whether the
 * transfer itself was sound. Operational failures (disk full, abort) throw.
 */
export async function unpackTo(
  bytes: AsyncIterable<Uint8Array>,
  dbPath: string,
  name: string,
  options: { signal?: AbortSignal | undefined; workerUrl?: URL | string | undefined; plain?: boolean } = {},
): Promise<UnpackOutcome> {
  const { signal, workerUrl } = options;
  await rm(dbPath, { force: true });
  let fh: FileHandle;
  try {
    fh = await open(dbPath, 'wx', 0o600);
  } catch (e) {
    throw scratchError('create', dbPath, e);
  }
  try {
    // A plain snapshot (restinpieces-backup's `.db`) is the database itself: copied as it arrives.
    const stream = options.plain ? undefined : gunzipStream(bytes, { name, ...(signal ? { signal } : {}), ...(workerUrl !== undefined ? { workerUrl } : {}) });
    let position = 0;
    for await (const chunk of stream ?? bytes) {
      for (let done = 0; done < chunk.length; ) {
        try {
          done += (await fh.write(chunk, done, chunk.length - done, position + done)).bytesWritten;
        } catch (e) {
          throw scratchError('write', dbPath, e);
        }
      }
      position += chunk.length;
    }
    return stream ? { ok: true, summary: await stream.summary } : { ok: true };
  } catch (e) {
    if (isContentError(e)) return { ok: false, error: e };
    throw e;
  } finally {
    await fh.close().catch(() => {});
  }
}

function scratchError(op: string, path: string, e: unknown): BackupError {
  return fsError('[pull]', `${op} of the scratch database`, path, e);
}
