/**
 * Unverified backups in a local directory: a run killed between renaming its `.gz` into place and
 * writing the `.sha256` sidecar leaves a complete-looking backup that was never published. Left as
 * it is, it would take a keep_* slot (so a published backup got pruned in its place) and could be
 * picked by a listing fallback. The backup job (before pruning) and a local prune settle each one:
 * a file that gunzips and passes the integrity check is adopted (its sidecar is written, it counts
 * from then on); one that does not is removed. Never touched: the file latest.txt names, Go-layout
 * backups (they never had sidecars), other databases' files (with `dbName`).
 *
 * Encrypted orphans (`.db.gz.age` without sidecar) are also left alone: checking their content needs
 * an age identity, which the backup job never has (it holds only the public recipients). Deleting
 * one unchecked could throw away the only copy of a good backup, and adopting one unchecked would
 * publish a file nobody verified; so it stays unverified: it takes no keep_* slot and is never
 * removed by count (prune lists it under `unverified`). The window that leaves one is a kill between
 * the rename of the `.age` and the write of its sidecar; `verify <file> --age-identity` checks it,
 * and removing it by hand is safe (nothing names it).
 */
import { join } from 'node:path';
import { WasmEngine, type Engine, type IntegrityMode } from '../engine/index.js';
import { ErrorCode, isBackupError, throwIfAborted } from '../errors.js';
import { LocalTransport } from '../transport/local/local.js';
import type { Transport } from '../transport/types.js';
import { acquireLock } from '../format/lock.js';
import { SIDECAR_SUFFIX } from '../format/naming.js';
import { sha256File } from '../format/sidecar.js';
import { listStore } from '../store/listing.js';
import { isUnpublished } from '../store/prune.js';
import { writeStoreSidecar } from '../store/sidecar.js';
import { verify } from './verify.js';

export interface AdoptOptions {
  /** Only this database's backups. */
  dbName?: string;
  /** Never touched, besides the file latest.txt names (the backup just published). */
  latestName?: string;
  /**
   * Take each database's backup lock (without waiting) before settling its files; a database whose
   * lock is held (a backup is running: the file may be its own, about to get its sidecar) is skipped.
   * False when the caller already holds the lock (the backup job). @default true
   */
  takeLocks?: boolean;
  /** @default 'full' */
  mode?: IntegrityMode;
  /** Engine for the checks (not closed by us). @default one WasmEngine, started only when needed */
  engine?: Engine;
  signal?: AbortSignal;
}

export interface AdoptResult {
  /** Verified: their sidecar was written. */
  adopted: string[];
  /** Failed verification: removed. */
  discarded: string[];
}

/** Settles the unverified backups of `dir` (see the module comment). I/O failures and aborts throw. */
export async function adoptUnverified(dir: string, options: AdoptOptions = {}): Promise<AdoptResult> {
  const { signal } = options;
  const result: AdoptResult = { adopted: [], discarded: [] };
  const transport: Transport = new LocalTransport(dir);
  const listing = await listStore(transport, {
    dbName: options.dbName,
    signal,
  });
  // A malformed latest.txt hides which file is published: leave everything (prune refuses too).
  if (listing.latestProblem) return result;
  const byDb = new Map<string, string[]>();
  for (const e of listing.backups) {
    // Encrypted: cannot be checked without an identity (see the module comment).
    if (!isUnpublished(e, options.latestName) || e.dbName === undefined || e.encrypted) continue;
    byDb.set(e.dbName, [...(byDb.get(e.dbName) ?? []), e.name]);
  }
  if (byDb.size === 0) return result;

  const engine = options.engine ?? new WasmEngine();
  try {
    for (const [dbName, names] of byDb) {
      let lock;
      if (options.takeLocks ?? true) {
        try {
          lock = await acquireLock(dir, dbName, { signal });
        } catch (e) {
          if (isBackupError(e, ErrorCode.LOCKED)) continue;
          throw e;
        }
      }
      try {
        for (const name of names) {
          throwIfAborted(signal, `verifying "${join(dir, name)}"`);
          await settle(transport, dir, name, engine, options, result);
        }
      } finally {
        await lock?.release();
      }
    }
  } finally {
    if (!options.engine) await engine.close().catch(() => {});
  }
  return result;
}

async function settle(transport: Transport, dir: string, name: string, engine: Engine, options: AdoptOptions, result: AdoptResult): Promise<void> {
  const path = join(dir, name);
  const { signal } = options;
  // Looked at again under the lock: the run that wrote it may have finished publishing meanwhile.
  if ((await transport.stat(name, { signal })) === undefined || (await transport.stat(name + SIDECAR_SUFFIX, { signal })) !== undefined) return;
  let hex: string;
  let ok: boolean;
  try {
    hex = await sha256File(path, { signal });
    const verified = await verify(path, { engine, mode: options.mode ?? 'full', signal });
    if (!verified.contentChecked) return; // encrypted: see the module comment
    ok = verified.ok;
  } catch (e) {
    if (isBackupError(e, ErrorCode.BACKUP_NOT_FOUND)) return; // removed meanwhile
    throw e;
  }
  if (ok) {
    await writeStoreSidecar(transport, name, hex, { signal });
    result.adopted.push(name);
  } else {
    await transport.remove(name);
    result.discarded.push(name);
  }
}
