/**
 * gzipFile / gunzipFile: file to file, atomically. The output is written to `<dest>.tmp-<random>`,
 * fsynced, renamed to `dest`, and the directory fsynced; on any error or abort the temp file is
 * removed, so nothing half written ever stands under the final name. Outputs are created 0600, and an
 * existing `dest` is refused (EDEST_EXISTS) unless `overwrite` is set.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BackupError, ErrorCode } from '../errors.js';
import { errnoOf, gzipError } from './errors.js';
import { gunzipStreamInternal, type GunzipOptions } from './gunzip.js';
import { CHUNK_SIZE, gzipStreamInternal, type GzipOptions } from './gzip.js';
import { checkAborted, readChunks, type GzipStream, type GzipSummary } from './stream-util.js';

/** Compressed input is read in chunks of this size for gunzip. */
const GUNZIP_READ_SIZE = 256 * 1024;

/** How gzipFile / gunzipFile write their output file. */
export interface FileOutputOptions {
  /** Replace `dest` if it exists (atomically, by rename). @default false: fail with EDEST_EXISTS */
  overwrite?: boolean;
  /** Permission bits of the output file. @default 0o600 (backups hold user data) */
  mode?: number;
  /**
   * fsync the output and its directory before returning. Turn off only for scratch output that is
   * thrown away after use (a database decompressed just to be checked): the fsync of a large file
   * costs seconds and protects nothing there. @default true
   */
  durable?: boolean;
}

/** Options of gzipFile: gzipStream's, and how the output is written. */
export type GzipFileOptions = Omit<GzipOptions, 'name'> & FileOutputOptions;
/** Options of gunzipFile: gunzipStream's, and how the output is written. */
export type GunzipFileOptions = Omit<GunzipOptions, 'name'> & FileOutputOptions;

/** Compresses `src` into the gzip file `dest`. Returns sizes and hashes of both sides. */
export function gzipFile(src: string, dest: string, options: GzipFileOptions = {}): Promise<GzipSummary> {
  return transformFile(src, dest, options, CHUNK_SIZE, (chunks, totalIn) =>
    gzipStreamInternal(chunks, { ...options, name: src }, { owned: true, totalIn }),
  );
}

/**
 * Decompresses the gzip file `src` into `dest`, checking CRC-32 and length of every member.
 * Errors name `src`: EGZIP_NOT_GZIP, EGZIP_TRUNCATED, EGZIP_CRC, EGZIP_SIZE, EGZIP_TRAILING, EGZIP_CORRUPT.
 */
export function gunzipFile(src: string, dest: string, options: GunzipFileOptions = {}): Promise<GzipSummary> {
  return transformFile(src, dest, options, GUNZIP_READ_SIZE, (chunks, totalIn) =>
    gunzipStreamInternal(chunks, { ...options, name: src }, { owned: true, totalIn }),
  );
}

async function transformFile(
  src: string,
  dest: string,
  options: FileOutputOptions & { signal?: AbortSignal },
  readSize: number,
  makeStream: (chunks: AsyncIterable<Uint8Array>, totalIn: number) => GzipStream,
): Promise<GzipSummary> {
  const overwrite = options.overwrite ?? false;
  const mode = options.mode ?? 0o600;
  checkAborted(options.signal, src);
  let input: FileHandle;
  try {
    input = await open(src, 'r');
  } catch (e) {
    const errno = errnoOf(e);
    if (errno === 'ENOENT') throw new BackupError(ErrorCode.SOURCE_NOT_FOUND, `${JSON.stringify(src)}: no such file`, { path: src, errno, cause: e });
    throw ioError('open', src, e);
  }
  let tmp: string | undefined;
  let output: FileHandle | undefined;
  try {
    const st = await input.stat();
    if (!st.isFile()) throw new BackupError(ErrorCode.IO, `${JSON.stringify(src)}: not a regular file`, { path: src });
    if (!overwrite) await refuseExisting(dest);
    tmp = `${dest}.tmp-${randomBytes(6).toString('hex')}`;
    output = await open(tmp, 'wx', mode).catch((e: unknown) => {
      throw ioError('create (temp file)', dest, e);
    });
    if (process.platform !== 'win32') await output.chmod(mode); // exact mode, whatever the umask
    const stream = makeStream(readChunks(input, readSize), st.size);
    // One write in flight while the next chunk is being produced.
    let writing: Promise<void> | undefined;
    for await (const chunk of stream) {
      await writing;
      writing = writeAll(output, chunk, dest); // errors name the file the user asked for, not our temp
      writing.catch(() => {}); // awaited above or below
    }
    await writing;
    const summary = await stream.summary;
    const durable = options.durable ?? true;
    if (durable) {
      await output.sync().catch((e: unknown) => {
        throw ioError('fsync', dest, e);
      });
    }
    const out = output;
    output = undefined;
    await out.close();
    checkAborted(options.signal, src);
    if (!overwrite) await refuseExisting(dest);
    await rename(tmp, dest).catch((e: unknown) => {
      throw ioError(`rename ${JSON.stringify(tmp)} ->`, dest, e);
    });
    tmp = undefined;
    if (durable) await syncDir(dirname(dest));
    return summary;
  } finally {
    await input.close().catch(() => {});
    if (output) await output.close().catch(() => {});
    if (tmp) await rm(tmp, { force: true }).catch(() => {});
  }
}

async function refuseExisting(dest: string): Promise<void> {
  const exists = await stat(dest).then(
    () => true,
    (e: unknown) => {
      if (errnoOf(e) === 'ENOENT') return false;
      throw ioError('stat', dest, e);
    },
  );
  if (exists) throw new BackupError(ErrorCode.DEST_EXISTS, `${JSON.stringify(dest)}: already exists (pass overwrite: true to replace it)`, { path: dest });
}

async function writeAll(fh: FileHandle, chunk: Uint8Array, path: string): Promise<void> {
  let at = 0;
  while (at < chunk.length) {
    let written: number;
    try {
      ({ bytesWritten: written } = await fh.write(chunk, at, chunk.length - at, null));
    } catch (e) {
      throw ioError('write', path, e);
    }
    at += written;
  }
}

/** Makes a rename durable. Directories cannot be opened or fsynced on Windows: skipped there. */
async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch (e) {
    if (errnoOf(e) !== 'EINVAL' && errnoOf(e) !== 'ENOTSUP') throw ioError('fsync', dir, e);
  } finally {
    await fh.close();
  }
}

function ioError(what: string, path: string, e: unknown): BackupError {
  if (e instanceof BackupError) return e;
  const errno = errnoOf(e);
  const detail = `${what} failed${errno === 'ENOSPC' ? ' (disk full)' : ''}: ${e instanceof Error ? e.message : String(e)}`;
  const err = gzipError(ErrorCode.IO, path, detail, e);
  return errno ? new BackupError(ErrorCode.IO, err.message, { path, errno, cause: e }) : err;
}
