/**
 * Small files (latest.txt, .sha256 sidecars) written the only safe way: `<name>.tmp-<random>` created
 * 0600 -> write -> fsync -> rename over the final name -> fsync the directory. A crash at any point
 * leaves either the old file or the new one, never a partial file under the final name; on error the
 * temp file is removed.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BackupError, ErrorCode, fsError } from '../errors.js';
import { fsyncDir } from '../engine/fs-util.js';

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
}

/** Atomically replaces (or creates) `path` with `data`. Errors are EIO naming the path. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const tmp = tempPathFor(path, options.tempBase);
  let step = 'create';
  try {
    const fh = await open(tmp, 'wx', options.mode ?? 0o600);
    try {
      step = 'write';
      await fh.writeFile(data);
      step = 'fsync';
      await fh.sync();
    } finally {
      await fh.close();
    }
    step = 'rename';
    await rename(tmp, path);
    step = 'fsync directory of';
    fsyncDir(dirname(path));
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    throw fsError('[api]', step, path, e);
  }
}

/**
 * Creates `dir` (and its parents) 0700 if missing; an existing directory keeps its mode. Anything
 * that keeps it from being used is EDEST_DIR, with `label` saying which directory (`[api] backup
 * directory`, `[pull] local_dir`).
 */
export async function ensurePrivateDir(dir: string, label: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (!(await stat(dir)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    throw new BackupError(ErrorCode.DEST_DIR, `${label} "${dir}" cannot be used (${errno ?? (e as Error).message})`, {
      path: dir,
      cause: e,
      ...(errno ? { errno } : {}),
    });
  }
}
