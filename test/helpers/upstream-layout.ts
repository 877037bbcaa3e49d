/**
 * Backup directories as restinpieces-backup (2026) writes them, made by hand with the native tools:
 * `<label>-<basename>-<YYYYMMDDTHHMMSSZ>.bck.gz` (gzip of a `VACUUM INTO` copy) and
 * `<label>-<basename>-<ts>.db` (a plain `.backup` snapshot), the hard link `latest-<label>-<basename>`
 * to the newest plain snapshot, no latest.txt and no `.sha256` sidecars (upstream writes none).
 */
import { linkSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { sqlite3 } from './peers.js';

/** A plain snapshot of `source` at `dest`, by the native CLI's backup API. */
export function plainSnapshot(source: string, dest: string): void {
  sqlite3(source, `.backup '${dest.replace(/'/g, "''")}'`);
}

/** A gzip'd `VACUUM INTO` copy of `source` at `dest` (by the native sqlite3 and gzip). */
export function compressedSnapshot(source: string, dest: string): void {
  const tmp = `${dest}.vacuum-scratch`;
  rmSync(tmp, { force: true });
  sqlite3(source, `VACUUM INTO '${tmp.replace(/'/g, "''")}'`);
  writeFileSync(dest, execFileSync('gzip', ['-c', '-n', tmp], { maxBuffer: 1 << 30 }));
  rmSync(tmp, { force: true });
}

/**
 * Adds one snapshot of `source` to `dir` under the upstream name for `label` and the source's file
 * name at `stamp` (`YYYYMMDDTHHMMSSZ`). A plain one also becomes the target of `latest-<label>-<basename>`
 * (replaced, as upstream does). Returns the file name.
 */
export function addUpstreamSnapshot(dir: string, label: string, source: string, stamp: string, compressed: boolean): string {
  mkdirSync(dir, { recursive: true });
  const base = source.split('/').pop()!;
  const name = `${label}-${base}-${stamp}.${compressed ? 'bck.gz' : 'db'}`;
  if (compressed) compressedSnapshot(source, join(dir, name));
  else {
    plainSnapshot(source, join(dir, name));
    const link = join(dir, `latest-${label}-${base}`);
    rmSync(link, { force: true });
    linkSync(join(dir, name), link);
  }
  return name;
}
