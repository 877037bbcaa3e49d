/**
 * Removes what crashed runs left in a store: temp files (`<name>.tmp-<random>`) of one database's
 * backups, sidecars and latest.txt writes. Local stores sweep under the backup lock, so every such
 * temp is a dead run's; a remote store has no lock we can hold, so only temps older than
 * `olderThanMs` are removed there (a write still under way elsewhere renews nothing, but no single
 * upload takes that long). S3 writes leave no temp objects: an interrupted multipart upload is
 * invisible and aborted by the SDK, or by the bucket's AbortIncompleteMultipartUpload rule.
 */
import { TEMP_MARKER } from '../fs/atomic.js';
import type { Transport } from '../transport/types.js';
import { parseBackupName, SIDECAR_SUFFIX } from '../format/naming.js';
import { LATEST_TEMP_SUFFIX } from './manifest.js';

export interface SweepOptions {
  /** Only temps whose file is older than this (remote stores). @default 0 (all) */
  olderThanMs?: number;
  /** Extra temp bases that belong to this database (e.g. `app.snapshot`, `app.lock`). */
  alsoBases?: string[];
  now?: number;
  signal?: AbortSignal;
}

/** Whether `base` (a temp file's name before `.tmp-`) is a temp of `dbName`'s backups. */
export function isTempOf(base: string, dbName: string): boolean {
  const backupName = [SIDECAR_SUFFIX, LATEST_TEMP_SUFFIX].reduce((b, suffix) => (b.endsWith(suffix) ? b.slice(0, -suffix.length) : b), base);
  return parseBackupName(backupName)?.dbName === dbName;
}

/** Removes the database's stale temp files; returns their names. */
export async function sweepTemps(transport: Transport, dbName: string, options: SweepOptions = {}): Promise<string[]> {
  const now = options.now ?? Date.now();
  const minAge = options.olderThanMs ?? 0;
  const also = new Set(options.alsoBases ?? []);
  const removed: string[] = [];
  for (const f of await transport.list({ signal: options.signal })) {
    const at = f.name.indexOf(TEMP_MARKER);
    if (at < 0) continue;
    const base = f.name.slice(0, at);
    if (!(also.has(base) || isTempOf(base, dbName))) continue;
    if (minAge > 0 && now - f.mtimeMs < minAge) continue;
    if (await transport.remove(f.name)) removed.push(f.name);
  }
  return removed;
}
