/**
 * Downloads one remote backup into `<local_dir>/<name>.part`, resuming an earlier interrupted
 * download only when the remote file is provably the same one: `<name>.part.json` records the remote
 * size and mtime when the download started, and a resume needs both unchanged (otherwise the part
 * is thrown away - splicing two different files would be caught by the checks, but is pointless).
 * The whole file is hashed either way (a kept prefix is re-read); the caller checks that hash.
 * A `consume` callback sees the same bytes as they arrive, so decompression overlaps the transfer.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, readFile, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { AbortError, BackupError, ErrorCode, fsError, isBackupError } from '../errors.js';
import type { RemoteFile, Transport } from '../transport/types.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { collectEvery, keepGarbageUnder } from '../memory.js';

/**
 * Bytes downloaded between two looks at this thread's garbage (keepGarbageUnder). SFTP leaves ~4 bytes of
 * short-lived Buffers per downloaded byte on this thread (socket reads, decrypted packets, ssh2's
 * reassembled replies, our read slots), then zlib's output: left to V8, dead Buffers reach ~40 MB
 * before it collects them, and that memory stays resident while the engine's worker adds its own.
 */
const GARBAGE_CHECK_EVERY_BYTES = 256 * 1024;
/**
 * Buffer memory allowed on this thread during a download: the live Buffers in flight are ~5-10 MB;
 * every MB above that is a MB the allocator keeps resident while the integrity check adds its own.
 */
const GARBAGE_LIMIT_BYTES = 12 * 1048576;

export const PART_SUFFIX = '.part';

interface PartMeta {
  name: string;
  size: number;
  mtimeMs: number;
}

export interface DownloadOptions {
  attempts: number;
  signal?: AbortSignal;
  onBytes?: (done: number) => void;
  /** A fresh transport after a dropped connection; without it a drop ends the download. */
  reconnect?: ((reason: string) => Promise<Transport>) | undefined;
  /**
   * Gets every byte of the file in order while it downloads (a resumed part's kept prefix first),
   * e.g. to decompress it on the way. Pulling drives the download; bytes it does not pull are still
   * downloaded and hashed after it returns. If it throws, the download stops with that error.
   */
  consume?: (bytes: AsyncIterable<Uint8Array>) => Promise<void>;
}

export interface DownloadResult {
  partPath: string;
  sha256: string;
  resumedFrom: number;
  /**
   * The part's fsync (then its close), still running when the download returns: the caller checks
   * what it downloaded meanwhile, and awaits this before it publishes the part (and before it removes
   * it). Rejects with EIO when the fsync fails.
   */
  durable: Promise<void>;
}

/** Removes a part file and its metadata. */
export async function removePart(partPath: string): Promise<void> {
  await rm(partPath, { force: true });
  await rm(`${partPath}.json`, { force: true });
}

async function readMeta(partPath: string): Promise<PartMeta | undefined> {
  try {
    const meta = JSON.parse(await readFile(`${partPath}.json`, 'utf8')) as PartMeta;
    return typeof meta.size === 'number' && typeof meta.mtimeMs === 'number' ? meta : undefined;
  } catch {
    return undefined;
  }
}

/** Bytes of `partPath` that may be kept for `remote`, or 0 (and the part removed) when it may not. */
async function resumableBytes(partPath: string, remote: RemoteFile): Promise<number> {
  const meta = await readMeta(partPath);
  const size = (await stat(partPath).catch(() => undefined))?.size;
  // An empty part is started again: opening it for a fresh download ('wx') needs it gone.
  if (meta && size !== undefined && size > 0 && meta.name === remote.name && meta.size === remote.size && meta.mtimeMs === remote.mtimeMs && size <= remote.size) {
    return size;
  }
  await removePart(partPath);
  return 0;
}

export async function downloadToPart(
  transportArg: Transport,
  remote: RemoteFile,
  localDir: string,
  options: DownloadOptions,
): Promise<DownloadResult> {
  const partPath = join(localDir, `${remote.name}${PART_SUFFIX}`);
  const resumedFrom = await resumableBytes(partPath, remote);
  if (resumedFrom === 0) {
    await writeFileAtomic(`${partPath}.json`, JSON.stringify({ name: remote.name, size: remote.size, mtimeMs: remote.mtimeMs }));
  }
  let transport = transportArg;
  let fh: FileHandle;
  try {
    fh = await open(partPath, resumedFrom === 0 ? 'wx' : 'r+', 0o600);
  } catch (e) {
    throw fsError('open', partPath, e);
  }
  let offset = resumedFrom;
  const collect = collectEvery(GARBAGE_CHECK_EVERY_BYTES, keepGarbageUnder(GARBAGE_LIMIT_BYTES), resumedFrom);
  // The whole file is hashed on the way: the kept prefix first, then every byte as it is written.
  const hash = createHash('sha256');

  /** Every byte of the file in order, each one written to the part and hashed before it is handed on. */
  async function* fileBytes(): AsyncGenerator<Uint8Array> {
    if (resumedFrom > 0) yield* readPrefix(fh, resumedFrom, hash, partPath);
    for (let attempt = 1; ; attempt++) {
      try {
        for await (const chunk of transport.read(remote.name, { start: offset, signal: options.signal })) {
          await writeAll(fh, chunk, offset, partPath);
          hash.update(chunk);
          offset += chunk.length;
          collect(offset);
          options.onBytes?.(offset);
          yield chunk;
          if (offset > remote.size) return;
        }
        return;
      } catch (e) {
        const dropped = isBackupError(e, ErrorCode.CONNECT);
        if (!dropped || !options.reconnect || attempt >= options.attempts || options.signal?.aborted) throw e;
        // Keep what we have and go on from there over a new connection.
        await new Promise((r) => setTimeout(r, 200 * attempt));
        transport = await options.reconnect((e as Error).message);
      }
    }
  }

  const bytes = fileBytes();
  let durable: Promise<void> | undefined;
  try {
    if (options.consume) {
      // The consumer may stop early (it found the gzip damaged): the rest is still downloaded and
      // hashed, so the caller can tell a damaged transfer (sha256 mismatch) from a damaged file.
      await options.consume({ [Symbol.asyncIterator]: () => ({ next: () => bytes.next() }) });
    }
    for (let r = await bytes.next(); !r.done; r = await bytes.next());
    durable = syncAndClose(fh, partPath);
  } catch (e) {
    // Ends the transport's read (closing the remote handle) if the consumer failed mid-file.
    bytes.return(undefined).catch(() => {});
    throw e;
  } finally {
    if (!durable) await fh.close();
  }
  // Handled here so that a failed fsync is no unhandled rejection while the caller is busy; the
  // caller's own await still sees it.
  durable.catch(() => {});
  try {
    if (options.signal?.aborted) throw new AbortError(`download of "${remote.name}" aborted`, { path: partPath });
    // The remote file changed under us (it grew, or shrank): what we have is not that file.
    const now = await transport.stat(remote.name);
    if (offset !== remote.size || !now || now.size !== remote.size || now.mtimeMs !== remote.mtimeMs) {
      await durable.catch(() => {});
      await removePart(partPath);
      throw new BackupError(
        ErrorCode.IO,
        `"${remote.name}" changed on ${transport.location} while it was downloaded (${offset} of ${remote.size} bytes); try again`,
        { path: partPath },
      );
    }
  } catch (e) {
    // No failure leaves the part's fsync and close running behind the caller's back.
    await durable.catch(() => {});
    throw e;
  }
  return { partPath, sha256: hash.digest('hex'), resumedFrom, durable };
}

async function syncAndClose(fh: FileHandle, path: string): Promise<void> {
  try {
    await fh.sync();
  } catch (e) {
    throw fsError('fsync', path, e);
  } finally {
    await fh.close();
  }
}

/** The kept prefix of a resumed part, hashed as it is read. */
async function* readPrefix(fh: FileHandle, length: number, hash: Hash, path: string): AsyncGenerator<Uint8Array> {
  for (let position = 0; position < length; ) {
    // A fresh buffer per chunk: the consumer may keep (or transfer) what it is given.
    const buf = Buffer.allocUnsafe(Math.min(1 << 20, length - position));
    let n: number;
    try {
      ({ bytesRead: n } = await fh.read(buf, 0, buf.length, position));
    } catch (e) {
      throw fsError('read', path, e);
    }
    if (n === 0) throw fsError('read', path, new Error('the partial download shrank while it was resumed'));
    const chunk = buf.subarray(0, n);
    hash.update(chunk);
    position += n;
    yield chunk;
  }
}

async function writeAll(fh: FileHandle, chunk: Uint8Array, position: number, path: string): Promise<void> {
  let done = 0;
  try {
    while (done < chunk.length) done += (await fh.write(chunk, done, chunk.length - done, position + done)).bytesWritten;
  } catch (e) {
    throw fsError('write', path, e);
  }
}
