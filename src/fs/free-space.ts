/**
 * Free space, checked before a long job writes anything: without it, a backup of a large database
 * fails with ENOSPC after minutes of copying, snapshotting and compressing. Asking the file system first
 * (statfs: the blocks an unprivileged user may still take) turns that into an error at once, with the
 * figures, and nothing written.
 *
 * The check is advisory - another process may take the space meanwhile - so every writer keeps its
 * own ENOSPC handling; this only moves the common failure to the start.
 */
import { statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { formatSize } from '../units.js';
import { BackupError, ErrorCode } from '../errors.js';
import { pathExists } from './sync.js';

/** Bytes an unprivileged writer may still use on the file system holding `dir` (statfs bavail x bsize). */
export type FreeSpaceProbe = (dir: string) => Promise<number>;

export const statfsFreeBytes: FreeSpaceProbe = async (dir) => {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
};

/**
 * What writing `bytes` of output costs beyond the bytes themselves: sidecars, latest.txt, the lock,
 * directory blocks, and deflate's worst case on incompressible pages (stored blocks: 5 bytes per
 * 64 KiB, plus a 5-byte sync marker per MiB; about 1/10000). Generous on purpose: a check that passes
 * and a disk that fills minutes later is the failure this exists to prevent.
 */
export function withSlack(bytes: number): number {
  return bytes + Math.ceil(bytes / 512) + 64 * 1024;
}

/**
 * Throws EIO with errno ENOSPC (path: `dir`) when the file system of `dir` has fewer than `needed`
 * bytes free. `dir` need not exist yet: its nearest existing ancestor is asked, which is where it
 * will be created. `what` says what the space is for, e.g. "a backup of "/srv/app.db" (2 x 9.0 GiB)".
 * A file system that cannot answer (statfs unsupported) is not a reason to refuse: the writers'
 * own ENOSPC handling still applies.
 */
export async function requireFreeSpace(
  dir: string,
  needed: number,
  what: string,
  probe: FreeSpaceProbe = statfsFreeBytes,
): Promise<void> {
  const where = nearestExisting(resolve(dir));
  let available: number;
  try {
    available = await probe(where);
  } catch {
    return;
  }
  if (available >= needed) return;
  throw new BackupError(
    ErrorCode.IO,
    `not enough free space in "${dir}" (disk full): ${what} needs ${formatSize(needed)}, ` +
      `${formatSize(available)} available. Nothing was written; free some space or choose another directory.`,
    { path: dir, errno: 'ENOSPC' },
  );
}

function nearestExisting(dir: string): string {
  let d = dir;
  while (!pathExists(d)) {
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  return d;
}
