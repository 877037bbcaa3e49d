/**
 * The one way files are written in place of others: `<name>.tmp-<random>` created 0600 -> write ->
 * fsync -> rename over the final name -> fsync the directory. A crash at any point leaves either the
 * old file or the new one, never a partial file under the final name; on error or abort the temp
 * file is removed. Used by the local transport (backups, sidecars, latest.txt), the pull's resume
 * metadata and the lock; the engine and the gzip writer keep their own page-level writers.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { access, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AbortError, BackupError, errnoOf, ErrorCode, fsError, fsReason } from '../errors.js';
import { fsyncDir } from './sync.js';

/** Marker in every temp file name we create, so listings and pruning can recognise (and skip) them. */
export const TEMP_MARKER = '.tmp-';

/** `<dir>/<base>.tmp-<12 hex>`: a fresh temp path next to `finalPath` (base: its name by default). */
export function tempPathFor(finalPath: string, base = basename(finalPath)): string {
  return join(dirname(finalPath), `${base}${TEMP_MARKER}${randomBytes(6).toString('hex')}`);
}

export interface AtomicWriteOptions {
  /** @default 0o600 */
  mode?: number;
  /**
   * Name the temp file `<tempBase>.tmp-<random>` instead of `<file name>.tmp-<random>`: lets a
   * shared file's temp (latest.txt) say whose it is, so that owner can clean it up after a crash.
   */
  tempBase?: string;
  signal?: AbortSignal;
}

/**
 * Atomically replaces (or creates) `path` with `data` (bytes, text, or a stream of chunks, written
 * as they come: a large file is never held whole). Returns the number of bytes written. Errors are
 * EIO naming the path ("disk full" for ENOSPC), EABORTED.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array | AsyncIterable<Uint8Array>,
  options: AtomicWriteOptions = {},
): Promise<number> {
  const tmp = tempPathFor(path, options.tempBase);
  let step = 'create';
  let written = 0;
  try {
    const fh = await open(tmp, 'wx', options.mode ?? 0o600);
    try {
      step = 'write';
      if (typeof data === 'string' || data instanceof Uint8Array) {
        const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
        await fh.writeFile(bytes);
        written = bytes.length;
      } else {
        for await (const chunk of data) {
          if (options.signal?.aborted) throw new AbortError(`write of "${path}" aborted`, { path, cause: options.signal.reason });
          let off = 0;
          while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off, written + off)).bytesWritten;
          written += chunk.length;
        }
      }
      step = 'fsync';
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (options.signal?.aborted) throw new AbortError(`write of "${path}" aborted`, { path, cause: options.signal.reason });
    step = 'rename';
    await rename(tmp, path);
    step = 'fsync directory of';
    fsyncDir(dirname(path));
    return written;
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    throw fsError(step, path, e);
  }
}

/**
 * Creates `dir` (and its parents) 0700 if missing; an existing directory keeps its mode. Anything
 * that keeps it from being used is EDEST_DIR, saying what is wrong - a file in its place, a parent
 * that cannot be created, no write permission - with `label` saying which directory (`backup
 * directory`, `local_dir`). Checked here, before the first file is created in it, so the
 * error names the directory rather than whichever file (a lock, a temp file) came first.
 */
export async function ensurePrivateDir(dir: string, label: string): Promise<void> {
  const fail = (what: string, e?: unknown): never => {
    const errno = errnoOf(e);
    throw new BackupError(ErrorCode.DEST_DIR, `${label} "${dir}" ${what}`, {
      path: dir,
      cause: e,
      errno,
    });
  };
  let made: unknown;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    made = e;
  }
  const st = await stat(dir).catch(() => undefined);
  if (st && !st.isDirectory()) fail('is a file, not a directory');
  if (made !== undefined || !st) {
    const errno = errnoOf(made);
    fail(`cannot be created: ${errno === 'ENOTDIR' ? 'a parent is a file, not a directory' : errno ? fsReason(errno) : String(made)}`, made);
  }
  try {
    await access(dir, fsc.W_OK | fsc.X_OK);
  } catch (e) {
    const errno = errnoOf(e);
    fail(`is not writable${errno ? `: ${fsReason(errno)}` : ''}`, e);
  }
}

/** fsync a file that is already written (through a read-only handle: fsync needs no write access). */
export async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
