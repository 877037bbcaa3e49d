/**
 * What a retention policy is, and the one rule for where it comes from (resolveRetention): the config's
 * top level, a [[push]] entry, an entry in the restinpieces-backup shape, or the `prune` command's
 * flags. Kept apart from retention.ts (planning and removing) so the config loader can use it.
 */
import { BackupError, ErrorCode } from '../errors.js';
import { CONFIG_DEFAULTS } from './config-schema.js';

/** Which backups prune keeps: restic's `forget` policy. */
export interface RetentionPolicy {
  /** Keep the newest N backups. 0 turns pruning off: everything is kept, whatever the other fields say. */
  keepLast: number;
  /** Also keep the newest backup of each of the last N UTC days that have backups. */
  keepDaily: number;
  /** Also keep the newest backup of each of the last N ISO weeks (UTC) that have backups. */
  keepWeekly: number;
  /** Also keep the newest backup of each of the last N UTC hours that have backups. @default 0 */
  keepHourly?: number;
  /** Also keep the newest backup of each of the last N UTC calendar months that have backups. @default 0 */
  keepMonthly?: number;
  /** Also keep the newest backup of each of the last N UTC calendar years that have backups. @default 0 */
  keepYearly?: number;
}

/** Every count of a policy, in the order messages show them. */
export const RETENTION_FIELDS = ['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly'] as const;
/** The name of one count of a policy. */
export type RetentionField = keyof RetentionPolicy;

/** A policy with every count present. */
export type FullRetentionPolicy = Required<RetentionPolicy>;

/** Retention keys as written (in a config table, or as flags): a missing key is undefined. */
export type WrittenRetention = Partial<Record<RetentionField, number>>;

/** Keeps everything (keep_last = 0 turns pruning off). */
export const KEEP_ALL: FullRetentionPolicy = { keepLast: 0, keepHourly: 0, keepDaily: 0, keepWeekly: 0, keepMonthly: 0, keepYearly: 0 };

/** What `backup` applies when the config has no retention keys: its documented default (keep_last 30). */
export const DEFAULT_RETENTION: FullRetentionPolicy = {
  keepLast: CONFIG_DEFAULTS.keepLast,
  keepHourly: CONFIG_DEFAULTS.keepHourly,
  keepDaily: CONFIG_DEFAULTS.keepDaily,
  keepWeekly: CONFIG_DEFAULTS.keepWeekly,
  keepMonthly: CONFIG_DEFAULTS.keepMonthly,
  keepYearly: CONFIG_DEFAULTS.keepYearly,
};

/**
 * Where a policy comes from:
 * - `backup`: the config's top level (used by `backup` for backup_dir and by `pull` for local_dir).
 * - `push`: a `[[push]]` entry; `inherited` is the top level's resolved policy.
 * - `restinpieces`: an entry in the restinpieces-backup config shape (upstream keeps everything).
 * - `prune`: the `prune` command's flags; `inherited` is the policy the config applies to that
 *   directory or store, undefined when no config covers it.
 */
export type RetentionScope = 'backup' | 'push' | 'restinpieces' | 'prune';

/** The counts that are set, as an object without undefined fields. */
function written(keys: WrittenRetention): WrittenRetention {
  return Object.fromEntries(RETENTION_FIELDS.filter((f) => keys[f] !== undefined).map((f) => [f, keys[f]]));
}

/**
 * The one retention rule. Each key that is written wins; a missing key takes:
 * - `backup`: backup's documented default (DEFAULT_RETENTION: keep_last 30, the others 0);
 * - `push`: the top level's value (`inherited`);
 * - `restinpieces`: with no retention key at all, everything is kept (KEEP_ALL, as upstream does);
 *   with some, the missing ones are read as at the top level (DEFAULT_RETENTION);
 * - `prune`: `inherited` (the config's policy for that place), else DEFAULT_RETENTION; with neither
 *   a flag nor `inherited` there is no policy: undefined, and `prune` refuses rather than guess.
 */
export function resolveRetention(scope: 'backup' | 'restinpieces', keys: WrittenRetention): FullRetentionPolicy;
/** A `[[push]]` destination's policy: the keys it writes, the rest from `inherited` (the top level's). */
export function resolveRetention(scope: 'push', keys: WrittenRetention, inherited: FullRetentionPolicy): FullRetentionPolicy;
/** The `prune` command's policy: the flags given, the rest from `inherited`; undefined when there is neither. */
export function resolveRetention(scope: 'prune', keys: WrittenRetention, inherited: FullRetentionPolicy | undefined): FullRetentionPolicy | undefined;
export function resolveRetention(scope: RetentionScope, keys: WrittenRetention, inherited?: FullRetentionPolicy): FullRetentionPolicy | undefined {
  const set = written(keys);
  const any = Object.keys(set).length > 0;
  switch (scope) {
    case 'backup':
      return { ...DEFAULT_RETENTION, ...set };
    case 'push':
      return { ...(inherited ?? DEFAULT_RETENTION), ...set };
    case 'restinpieces':
      return any ? { ...DEFAULT_RETENTION, ...set } : { ...KEEP_ALL };
    case 'prune':
      if (!any && inherited === undefined) return undefined;
      return { ...(inherited ?? DEFAULT_RETENTION), ...set };
  }
}

/** The retention counts of a config (or [[push]] entry), with missing optional ones as 0. */
export function retentionOf(settings: RetentionPolicy): FullRetentionPolicy {
  return Object.fromEntries(RETENTION_FIELDS.map((f) => [f, settings[f] ?? 0])) as FullRetentionPolicy;
}

/** `keep_last=7, keep_daily=7` (keep_last always, the others when set): for messages. */
export function describeRetention(policy: RetentionPolicy): string {
  if (policy.keepLast === 0) return 'keep_last=0: everything is kept';
  const snake = (f: RetentionField) => f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return RETENTION_FIELDS.filter((f) => f === 'keepLast' || (policy[f] ?? 0) > 0)
    .map((f) => `${snake(f)}=${policy[f] ?? 0}`)
    .join(', ');
}

/** Counts added after keep_last/keep_daily/keep_weekly: optional in RetentionPolicy, 0 when missing. */
const OPTIONAL_FIELDS: ReadonlySet<RetentionField> = new Set(['keepHourly', 'keepMonthly', 'keepYearly']);

/** Throws ECONFIG unless every count is an integer >= 0. */
export function validatePolicy(policy: RetentionPolicy): void {
  for (const key of RETENTION_FIELDS) {
    const v = policy[key];
    if (v === undefined && OPTIONAL_FIELDS.has(key)) continue;
    if (!Number.isSafeInteger(v) || v! < 0) {
      throw new BackupError(ErrorCode.CONFIG, `retention ${key} must be an integer >= 0, got ${String(v)}`);
    }
  }
}
