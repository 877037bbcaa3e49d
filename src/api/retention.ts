/**
 * Retention: which backups to keep (grandfather-father-son) and removing the rest. The Go original
 * had none, so its directory grew forever.
 *
 * planPrune is pure (entries in, decision out) so the policy can be tested and shown (dry run)
 * without a file system; prune applies it to a directory. Run prune under the backup job's lock:
 * two prunes, or a prune and a backup writing its sidecar, should not interleave.
 */
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BackupError, ErrorCode } from '../errors.js';
import { fsyncDir } from '../fs/sync.js';
import { listBackups, regularFiles, type BackupEntry } from './listing.js';
import { readLatest } from './manifest.js';
import { compareBackups, parseBackupName, SIDECAR_SUFFIX } from './naming.js';

export interface RetentionPolicy {
  /** Keep the newest N backups. 0 turns pruning off: everything is kept, whatever the other fields say. */
  keepLast: number;
  /** Also keep the newest backup of each of the last N UTC days that have backups. */
  keepDaily: number;
  /** Also keep the newest backup of each of the last N ISO weeks (UTC) that have backups. */
  keepWeekly: number;
}

export interface PlanOptions {
  /** Never removed (in addition to entries flagged `isLatest`). */
  latestName?: string;
  /**
   * Entries dated after this (a clock that ran ahead) are kept and use up no keepLast/daily/weekly
   * slot, so they cannot push the real newest backups out. @default new Date()
   */
  now?: Date;
}

export interface KeptEntry {
  entry: BackupEntry;
  /** Why it stays: `last`, `daily 2026-11-25`, `weekly 2026-W48`, `latest`, `future`, `keep-all`. */
  reasons: string[];
}

export interface PrunePlan {
  /** Oldest first. */
  keep: KeptEntry[];
  /** Oldest first. */
  remove: BackupEntry[];
}

const DAY_MS = 86_400_000;

/** `YYYY-MM-DD` of the UTC day. */
export function utcDayKey(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** `YYYY-Www` of the ISO 8601 week (UTC; weeks start on Monday; week 1 holds the first Thursday). */
export function isoWeekKey(d: Date): string {
  const day = (d.getUTCDay() + 6) % 7; // Monday 0 ... Sunday 6
  // The week belongs to the year of its Thursday; the Thursday's day of the year gives the number.
  // (Millisecond arithmetic and setUTCFullYear: Date.UTC would map the years 0-99 to 1900-1999.)
  const thursday = new Date(d.getTime() + (3 - day) * DAY_MS);
  const jan1 = new Date(0);
  jan1.setUTCFullYear(thursday.getUTCFullYear(), 0, 1);
  const week = Math.floor(Math.floor((thursday.getTime() - jan1.getTime()) / DAY_MS) / 7) + 1;
  return `${String(thursday.getUTCFullYear()).padStart(4, '0')}-W${String(week).padStart(2, '0')}`;
}

/** Throws ECONFIG unless every count is an integer >= 0. */
export function validatePolicy(policy: RetentionPolicy): void {
  for (const key of ['keepLast', 'keepDaily', 'keepWeekly'] as const) {
    const v = policy[key];
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new BackupError(ErrorCode.CONFIG, `[api] retention ${key} must be an integer >= 0, got ${String(v)}`);
    }
  }
}

/** Keeps the newest entry of each of the first `count` distinct buckets, newest first. */
function keepBuckets(newestFirst: BackupEntry[], count: number, key: (d: Date) => string, label: string, add: (e: BackupEntry, r: string) => void): void {
  const seen = new Set<string>();
  for (const e of newestFirst) {
    if (seen.size >= count) break;
    const k = key(e.time);
    if (seen.has(k)) continue;
    seen.add(k);
    add(e, `${label} ${k}`);
  }
}

/**
 * Decides what to keep. Each database (dbName; Go v1 backups form their own group) is planned
 * on its own, so one busy database cannot push another's backups out. Within a group: the newest
 * `keepLast`, plus the newest backup of each of the last `keepDaily` UTC days and of the last
 * `keepWeekly` ISO weeks that have backups. The entry named by `latestName` or flagged `isLatest`
 * is always kept, however old. Does not modify `entries`.
 */
export function planPrune(entries: readonly BackupEntry[], policy: RetentionPolicy, options: PlanOptions = {}): PrunePlan {
  validatePolicy(policy);
  const now = (options.now ?? new Date()).getTime();
  const reasons = new Map<BackupEntry, string[]>();
  const add = (e: BackupEntry, reason: string) => {
    const list = reasons.get(e);
    if (list) list.push(reason);
    else reasons.set(e, [reason]);
  };

  const groups = new Map<string | undefined, BackupEntry[]>();
  for (const e of entries) {
    if (policy.keepLast === 0) add(e, 'keep-all');
    if (e.isLatest || e.name === options.latestName) add(e, 'latest');
    if (e.time.getTime() > now) {
      add(e, 'future');
      continue;
    }
    const group = groups.get(e.dbName);
    if (group) group.push(e);
    else groups.set(e.dbName, [e]);
  }
  if (policy.keepLast > 0) {
    for (const group of groups.values()) {
      const newestFirst = [...group].sort(compareBackups).reverse();
      for (const e of newestFirst.slice(0, policy.keepLast)) add(e, 'last');
      keepBuckets(newestFirst, policy.keepDaily, utcDayKey, 'daily', add);
      keepBuckets(newestFirst, policy.keepWeekly, isoWeekKey, 'weekly', add);
    }
  }

  const sorted = [...entries].sort(compareBackups);
  return {
    keep: sorted.filter((e) => reasons.has(e)).map((entry) => ({ entry, reasons: reasons.get(entry)! })),
    remove: sorted.filter((e) => !reasons.has(e)),
  };
}

export interface PruneOptions {
  /** Report what would be removed, remove nothing. @default false */
  dryRun?: boolean;
  /** Prune only this database's backups (and orphan sidecars); others are left alone. */
  dbName?: string;
  /** Also never removed (latest.txt's own name always is). */
  latestName?: string;
  /** See PlanOptions.now. */
  now?: Date;
}

export interface PruneResult {
  /** Backup file names removed (or, in a dry run, that would be), oldest first. */
  removed: string[];
  /** Backup file names kept, oldest first. */
  kept: string[];
  /** `.sha256` files removed (or that would be): those of removed backups and orphans whose backup is gone. */
  removedSidecars: string[];
  dryRun: boolean;
}

async function removeFile(dir: string, name: string): Promise<void> {
  const path = join(dir, name);
  try {
    await unlink(path);
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    if (errno === 'ENOENT') return; // already gone: the goal is reached
    throw new BackupError(ErrorCode.IO, `[api] prune: cannot remove "${path}" (${errno ?? (e as Error).message})`, {
      path,
      cause: e,
      ...(errno ? { errno } : {}),
    });
  }
}

/**
 * Applies the policy to `dir`: removes each pruned backup, then its `.sha256` sidecar, then
 * sidecars whose backup is gone, and fsyncs the directory once. Backup first: after a crash a backup
 * without its sidecar is still usable, a sidecar without its backup is junk that the next prune
 * removes. `keepLast: 0` touches nothing at all. Never touches the file latest.txt names, temp files, lock files, latest.txt, other
 * databases' files (with `dbName`) or anything it does not recognise. Throws EBACKUP_NOT_FOUND when
 * latest.txt is malformed (it cannot tell what to protect), EIO when a removal fails.
 */
export async function prune(dir: string, policy: RetentionPolicy, options: PruneOptions = {}): Promise<PruneResult> {
  validatePolicy(policy);
  const dryRun = options.dryRun ?? false;
  // Throws on a malformed manifest; listBackups flags the entry it names as isLatest.
  const latestOnDisk = await readLatest(dir);
  const entries = await listBackups(dir, options.dbName === undefined ? {} : { dbName: options.dbName });
  const plan = planPrune(entries, policy, {
    ...(options.latestName === undefined ? {} : { latestName: options.latestName }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });

  const protectedNames = new Set([latestOnDisk, options.latestName]);
  const files = await regularFiles(dir);
  const orphans = [...files].filter((file) => {
    if (policy.keepLast === 0 || !file.endsWith(SIDECAR_SUFFIX)) return false;
    const backup = file.slice(0, -SIDECAR_SUFFIX.length);
    const parsed = parseBackupName(backup);
    return (
      parsed !== undefined &&
      !files.has(backup) &&
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
    dryRun,
  };
  if (dryRun || (plan.remove.length === 0 && orphans.length === 0)) return result;
  let failure: unknown;
  try {
    for (const e of plan.remove) {
      await removeFile(dir, e.name);
      if (e.hasChecksum) await removeFile(dir, e.name + SIDECAR_SUFFIX);
    }
    for (const sidecar of orphans) await removeFile(dir, sidecar);
  } catch (e) {
    failure = e;
  }
  // Make what was removed durable, also when a later removal failed (that error wins).
  try {
    fsyncDir(dir);
  } catch (e) {
    failure ??= new BackupError(ErrorCode.IO, `[api] prune: cannot fsync directory "${dir}"`, { path: dir, cause: e });
  }
  if (failure !== undefined) throw failure;
  return result;
}
