import { closeSync, constants as fsc, fsyncSync, lstatSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';

/** Reads until `target` is full or EOF; returns the bytes read. */
export function readFully(fd: number, target: Uint8Array, position: number): number {
  let got = 0;
  while (got < target.length) {
    const n = readSync(fd, target, got, target.length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/** Writes all of `data` at `position` (writeSync may write less than asked). */
export function writeAll(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
}

/** Makes a rename or unlink in `dir` durable. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, fsc.O_RDONLY);
    fsyncSync(fd);
  } catch (e) {
    // Windows cannot open or fsync a directory; elsewhere a failure here matters.
    if (process.platform !== 'win32') throw e;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Removes a file if it exists; returns whether it did. */
export function unlinkQuiet(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether anything (file, directory, dangling symlink) stands at `path`. */
export function pathExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Removes a database file we wrote and the side files SQLite may have left next to it. */
export function removeDatabaseFiles(path: string): void {
  for (const p of [path, `${path}-journal`, `${path}-wal`, `${path}-shm`]) unlinkQuiet(p);
}
