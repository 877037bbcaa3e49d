/**
 * Many databases from one config: the restinpieces-backup shape's `[vacuum.<label>]` /
 * `[online.<label>]` entries (Config.entries), run one at a time through the same backup pipeline
 * as a single database (backup.ts, with its `layout` option for upstream's names). An entry is
 * skipped while its newest backup in dest_path is younger than its `frequency`; an entry that fails
 * is reported and the next one runs.
 */
import { asBackupError, BackupError, ErrorCode, throwIfAborted } from '../errors.js';
import { backup, type BackupOptions, type BackupResult } from './backup.js';
import { CONFIG_DEFAULTS, type BackupConfig, type BackupEntryConfig, type Config } from '../config/config.js';
import { listBackups } from './listing.js';

/** What happened to one entry of a many-entry config in a run. */
export interface EntryOutcome {
  label: string;
  strategy: BackupEntryConfig['strategy'];
  /** `<label>-<basename>`: what the entry's file names start with. */
  dbName: string;
  sourcePath: string;
  destPath: string;
  /** published: a new backup; not-due: skipped, its newest backup is younger than `frequency`; failed: see error. */
  status: 'published' | 'not-due' | 'failed';
  result?: BackupResult;
  /** not-due: the newest backup's file name, and when the entry is due again. */
  newest?: string;
  dueAt?: Date;
  /** failed: a BackupError for every failure we know. */
  error?: Error;
}

/** Options of backupEntries: backup's, and callbacks per entry. */
export interface BackupEntriesOptions extends Omit<BackupOptions, 'layout'> {
  /** Called after each entry, in config order. */
  onEntry?: (outcome: EntryOutcome) => void;
  /** Called before an entry runs (not for the ones that are not due). */
  onStart?: (entry: BackupEntryConfig) => void;
}

/** The single-database config one entry runs with (dest_path is its backup_dir). */
export function entryBackupConfig(entry: BackupEntryConfig, encryption?: Config['encryption']): BackupConfig {
  const { pull: _pull, ...defaults } = CONFIG_DEFAULTS;
  return {
    ...defaults,
    sourcePath: entry.sourcePath,
    backupDir: entry.destPath,
    strategy: entry.strategy,
    pagesPerStep: entry.pagesPerStep,
    sleepIntervalMs: entry.sleepIntervalMs,
    compressionLevel: entry.compressionLevel,
    verify: entry.verify,
    lockTimeoutMs: entry.lockTimeoutMs,
    keepLast: entry.keepLast,
    keepHourly: entry.keepHourly,
    keepDaily: entry.keepDaily,
    keepWeekly: entry.keepWeekly,
    keepMonthly: entry.keepMonthly,
    keepYearly: entry.keepYearly,
    // [encryption] is the file's: it applies to every entry.
    encryption,
  };
}

/**
 * Whether the entry is due at `now`: no `frequency`, no backup of it yet in dest_path, or its newest
 * (by the time in the name, compressed or plain) at least `frequency` old.
 */
export async function entryDue(entry: BackupEntryConfig, now: Date): Promise<{ due: boolean; newest?: string; dueAt?: Date }> {
  if (entry.frequencyMs === undefined) return { due: true };
  const newest = (await listBackups(entry.destPath, { dbName: entry.dbName })).at(-1);
  if (!newest) return { due: true };
  const dueAt = new Date(newest.time.getTime() + entry.frequencyMs);
  return { due: now.getTime() >= dueAt.getTime(), newest: newest.name, dueAt };
}

/**
 * Runs every entry of `config` that is due, one at a time, in file order. Never rejects for an
 * entry's failure: it is in that entry's outcome and the next entry runs. After an abort, the
 * remaining entries are reported failed (EABORTED) without running.
 */
export async function backupEntries(config: Config, options: BackupEntriesOptions = {}): Promise<EntryOutcome[]> {
  const { onEntry, onStart, ...backupOptions } = options;
  const now = options.now ?? (() => new Date());
  const outcomes: EntryOutcome[] = [];
  for (const entry of config.entries ?? []) {
    const base = { label: entry.label, strategy: entry.strategy, dbName: entry.dbName, sourcePath: entry.sourcePath, destPath: entry.destPath };
    let outcome: EntryOutcome;
    try {
      throwIfAborted(options.signal, `backup of [${entry.strategy}.${entry.label}]`);
      const due = await entryDue(entry, now());
      if (!due.due) {
        outcome = { ...base, status: 'not-due', newest: due.newest, dueAt: due.dueAt };
      } else {
        onStart?.(entry);
        const result = await backup(entryBackupConfig(entry, config.encryption), { ...backupOptions, layout: { kind: 'rib', dbName: entry.dbName, compressed: entry.compression } });
        outcome = { ...base, status: 'published', result };
      }
    } catch (e) {
      outcome = { ...base, status: 'failed', error: asBackupError(e, `backup of [${entry.strategy}.${entry.label}]:`) as Error };
    }
    outcomes.push(outcome);
    onEntry?.(outcome);
  }
  return outcomes;
}

/**
 * A run of many entries in which at least one failed (the others ran): the job handler's rejection.
 * `outcomes` holds every entry's, `failed` the labels (`[vacuum.app]`) of the failed ones.
 */
export class EntriesError extends BackupError {
  readonly failed: string[];
  constructor(readonly outcomes: EntryOutcome[]) {
    const bad = outcomes.filter((o) => o.status === 'failed');
    const failed = bad.map((o) => `[${o.strategy}.${o.label}]`);
    super(
      ErrorCode.ENTRIES,
      `${bad.length} of ${outcomes.length} entries failed: ` + bad.map((o, i) => `${failed[i]} ${o.sourcePath}: ${o.error?.message ?? 'failed'}`).join('; '),
      bad.length === 1 && bad[0]!.error instanceof BackupError && bad[0]!.error.path !== undefined ? { path: bad[0]!.error.path, cause: bad[0]!.error } : {},
    );
    this.failed = failed;
    this.name = 'EntriesError';
  }
}
