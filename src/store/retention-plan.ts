/**
 * Which backups to keep: restic's `forget` policy (the newest N, plus the newest of each of the last
 * N hours, days, weeks, months and years that have backups). planPrune is pure (entries in,
 * decision out) so the policy can be tested and shown (dry run) without a file system; the store's
 * prune and the local prune apply it.
 */
import { compareBackups, type ParsedBackupName } from '../format/naming.js';
import { validatePolicy, type RetentionPolicy } from '../config/retention-policy.js';

/** What planning needs of a backup: its parsed name, and whether latest.txt names it. */
export type RetentionEntry = ParsedBackupName & { hasChecksum?: boolean; isLatest: boolean };

export interface PlanOptions {
  /** Never removed (in addition to entries flagged `isLatest`). */
  latestName?: string;
  /**
   * Entries dated after this (a clock that ran ahead) are kept and use up no keepLast/daily/weekly
   * slot, so they cannot push the real newest backups out. @default new Date()
   */
  now?: Date;
}

export interface KeptEntry<E extends RetentionEntry = RetentionEntry> {
  entry: E;
  /**
   * Why it stays: `last`, `hourly 2026-11-25T13`, `daily 2026-11-25`, `weekly 2026-W48`, `monthly
   * 2026-11`, `yearly 2026`, `latest`, `future`, `keep-all`.
   */
  reasons: string[];
}

export interface PrunePlan<E extends RetentionEntry = RetentionEntry> {
  /** Oldest first. */
  keep: KeptEntry<E>[];
  /** Oldest first. */
  remove: E[];
}

const DAY_MS = 86_400_000;

/** `YYYY-MM-DD` of the UTC day. */
export function utcDayKey(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** `YYYY-MM-DDTHH` of the UTC hour. */
export function utcHourKey(d: Date): string {
  return d.toISOString().slice(0, 13);
}

/** `YYYY-MM` of the UTC calendar month. */
export function utcMonthKey(d: Date): string {
  return d.toISOString().slice(0, 7);
}

/** `YYYY` of the UTC calendar year. */
export function utcYearKey(d: Date): string {
  return d.toISOString().slice(0, 4);
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

/** Keeps the newest entry of each of the first `count` distinct buckets, newest first. */
function keepBuckets<E extends RetentionEntry>(newestFirst: E[], count: number, key: (d: Date) => string, label: string, add: (e: E, r: string) => void): void {
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
 * `keepLast`, plus the newest backup of each of the last `keepHourly` UTC hours, `keepDaily` UTC
 * days, `keepWeekly` ISO weeks, `keepMonthly` UTC months and `keepYearly` UTC years that have backups
 * (restic's `forget` rules; the buckets count from the newest backup, not from now). The entry named by `latestName` or flagged `isLatest`
 * is always kept, however old. Does not modify `entries`.
 */
export function planPrune<E extends RetentionEntry>(entries: readonly E[], policy: RetentionPolicy, options: PlanOptions = {}): PrunePlan<E> {
  validatePolicy(policy);
  const now = (options.now ?? new Date()).getTime();
  const reasons = new Map<E, string[]>();
  const add = (e: E, reason: string) => {
    const list = reasons.get(e);
    if (list) list.push(reason);
    else reasons.set(e, [reason]);
  };

  const groups = new Map<string | undefined, E[]>();
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
      keepBuckets(newestFirst, policy.keepHourly ?? 0, utcHourKey, 'hourly', add);
      keepBuckets(newestFirst, policy.keepDaily, utcDayKey, 'daily', add);
      keepBuckets(newestFirst, policy.keepWeekly, isoWeekKey, 'weekly', add);
      keepBuckets(newestFirst, policy.keepMonthly ?? 0, utcMonthKey, 'monthly', add);
      keepBuckets(newestFirst, policy.keepYearly ?? 0, utcYearKey, 'yearly', add);
    }
  }

  const sorted = [...entries].sort(compareBackups);
  return {
    keep: sorted.filter((e) => reasons.has(e)).map((entry) => ({ entry, reasons: reasons.get(entry)! })),
    remove: sorted.filter((e) => !reasons.has(e)),
  };
}
