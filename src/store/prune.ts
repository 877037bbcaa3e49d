/**
 * Retention applied to a store (local directory, SFTP, S3): planPrune (../retention.ts) decides,
 * this removes. Backup first, then its sidecar, then sidecars whose backup is gone: after a crash a
 * backup without its sidecar is still usable, a sidecar without its backup is junk that the next
 * prune removes. Run it under the backup job's lock (a local store) or after a push has published
 * (a remote one): the file latest.txt names is never removed, nor the one a restinpieces-backup
 * `latest-*` link points to (nor the link: it is not a backup name).
 */
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { BackupError, ErrorCode, throwIfAborted } from '../errors.js';
import type { Transport } from '../transport/types.js';
import { parseBackupName, SIDECAR_SUFFIX } from '../format/naming.js';
import type { RetentionPolicy } from '../config/retention-policy.js';
import { planPrune } from './retention-plan.js';
import { latestProblemOf, listStore, type StoreListing } from './listing.js';

/** Options of prune and pruneStore. */
export interface PruneOptions {
  /** Report what would be removed, remove nothing. @default false */
  dryRun?: boolean;
  /** Prune only this database's backups (and orphan sidecars); others are left alone. */
  dbName?: string;
  /** Also never removed (latest.txt's own name always is). */
  latestName?: string;
  /** See PlanOptions.now. */
  now?: Date;
  signal?: AbortSignal;
}

/** What prune or pruneStore removed and kept. */
export interface PruneResult {
  /** Backup file names removed (or, in a dry run, that would be), oldest first. */
  removed: string[];
  /** Backup file names kept, oldest first. */
  kept: string[];
  /** `.sha256` files removed (or that would be): those of removed backups and orphans whose backup is gone. */
  removedSidecars: string[];
  /**
   * Backups of our layout without a sidecar that latest.txt does not name: a run killed between
   * renaming the backup into place and writing its sidecar. They were never published, so they take
   * no keep_* slot and are never removed by count (they are neither in `kept` nor in `removed`);
   * prune of a local directory and the backup job verify them first (see adopt.ts).
   */
  unverified: string[];
  /** Local prune: unverified backups that passed verification and got their sidecar (then counted as usual). */
  adopted?: string[];
  /** Local prune: unverified backups that failed verification (gzip or integrity_check) and were removed. */
  discarded?: string[];
  dryRun: boolean;
}

/** A backup that was renamed into place but never got its sidecar: not published, not counted. */
export function isUnpublished(e: { layout: string; hasChecksum: boolean; isLatest: boolean; name: string }, latestName?: string): boolean {
  // Go layouts never had sidecars: theirs are ordinary backups.
  return e.layout === 'ours' && !e.hasChecksum && !e.isLatest && e.name !== latestName;
}

/**
 * Applies the policy to the store. `keepLast: 0` touches nothing at all. Never touches the file
 * latest.txt names, unverified backups (see PruneResult.unverified), temp files, lock files, latest.txt, other databases' files (with `dbName`) or
 * anything it does not recognise. Throws EBACKUP_NOT_FOUND when latest.txt is malformed (it cannot
 * tell what to protect), the transport's error when a removal fails (after trying the others' order:
 * it stops at the first failure).
 */
export async function pruneStore(transport: Transport, policy: RetentionPolicy, options: PruneOptions = {}): Promise<PruneResult> {
  const dryRun = options.dryRun ?? false;
  const listing = await listStore(transport, {
    dbName: options.dbName,
    signal: options.signal,
  });
  const latestProblem = latestProblemOf(listing);
  if (latestProblem) throw latestProblem;
  // What a `latest-*` link points to is as protected as what latest.txt names: rsync clients pull
  // the link, and upstream's own tools expect the timestamped name beside it.
  const linked = await linkedBackups(transport, listing);
  for (const e of listing.backups) if (linked.has(e.name)) e.isLatest = true;
  const unverified = listing.backups.filter((e) => isUnpublished(e, options.latestName));
  const counted = listing.backups.filter((e) => !unverified.includes(e));
  const plan = planPrune(counted, policy, {
    latestName: options.latestName,
    now: options.now,
  });

  const protectedNames = new Set([listing.latest, options.latestName, ...linked]);
  const orphans = [...listing.files.keys()].filter((file) => {
    if (policy.keepLast === 0 || !file.endsWith(SIDECAR_SUFFIX)) return false;
    const backup = file.slice(0, -SIDECAR_SUFFIX.length);
    const parsed = parseBackupName(backup);
    return (
      parsed !== undefined &&
      !listing.files.has(backup) &&
      !protectedNames.has(backup) &&
      (options.dbName === undefined || parsed.dbName === options.dbName)
    );
  });
  orphans.sort();
  const companions = plan.remove.filter((e) => e.hasChecksum).map((e) => e.name + SIDECAR_SUFFIX);
  const result: PruneResult = {
    removed: plan.remove.map((e) => e.name),
    kept: plan.keep.map((k) => k.entry.name),
    removedSidecars: [...companions, ...orphans],
    unverified: unverified.map((e) => e.name),
    dryRun,
  };
  if (dryRun) return result;
  for (const e of plan.remove) {
    if (protectedNames.has(e.name)) {
      // planPrune keeps these; this guards the one promise retention must never break.
      throw new BackupError(ErrorCode.BACKUP_NOT_FOUND, `refusing to remove "${e.name}", which latest.txt or a latest-* link names`);
    }
    throwIfAborted(options.signal, `prune of ${transport.location}`);
    await transport.remove(e.name);
    if (e.hasChecksum) await transport.remove(e.name + SIDECAR_SUFFIX);
  }
  for (const sidecar of orphans) await transport.remove(sidecar);
  return result;
}

/**
 * The backups a restinpieces-backup `latest-<label>-<basename>` hard link points to. In a local
 * directory: the files with the link's inode. Over SFTP or S3 there are no inodes: a hard link has
 * its target's size and mtime, so the backups of that database with both equal count (at worst one
 * more snapshot is kept than needed).
 */
export async function linkedBackups(transport: Transport, listing: StoreListing): Promise<Set<string>> {
  const linked = new Set<string>();
  const links = [...listing.latestLinks].map(([dbName, name]) => ({ dbName, file: listing.files.get(name)! }));
  if (links.length === 0) return linked;
  if (transport.kind === 'local') {
    const inode = async (name: string) => {
      const st = await lstat(join(transport.location, name)).catch(() => undefined);
      return st ? `${st.dev}:${st.ino}` : undefined;
    };
    const linkInodes = new Set((await Promise.all(links.map((l) => inode(l.file.name)))).filter((i) => i !== undefined));
    for (const e of listing.backups) {
      if (linkInodes.has((await inode(e.name)) ?? '')) linked.add(e.name);
    }
    return linked;
  }
  for (const { dbName, file } of links) {
    for (const e of listing.backups) {
      if (e.dbName === dbName && e.size === file.size && e.mtimeMs === file.mtimeMs) linked.add(e.name);
    }
  }
  return linked;
}
