/**
 * The backup as a job handler, in the shape of the Go original's `JobHandler.Handle(ctx, job) error`:
 * `handle(job, { signal })` resolves when the backup is published and rejects with a typed error
 * otherwise. Plug it into any job queue (the queue owns scheduling and retries), or call it from a
 * timer - see the README.
 */
import { backup, type BackupOptions, type BackupResult } from './backup.js';
import { backupEntries, EntriesError, type EntryOutcome } from './backup-entries.js';
import { loadConfig, type Config } from '../config/config.js';
import { BackupError, ErrorCode } from '../errors.js';

/** The job type the Go original registers its handler under. */
export const JOB_TYPE = 'db_backup';

/** What a queue hands the handler. Only `type` is looked at (when present); the payload is unused. */
export interface Job {
  type?: string;
  id?: string | number;
  payload?: unknown;
}

/** Options of `BackupHandler.handle`. */
export interface HandleOptions {
  signal?: AbortSignal;
}

/** What createBackupHandler returns. */
export interface BackupHandler {
  readonly jobType: typeof JOB_TYPE;
  /**
   * A single-database config: the backup's result. A many-entry config ([vacuum.<label>] /
   * [online.<label>]): every entry that is due runs, and the outcomes come back; if any entry failed,
   * after all have run, it rejects with an EntriesError (EENTRIES) naming the failed labels.
   */
  handle(job: Job, options?: HandleOptions): Promise<BackupResult | EntryOutcome[]>;
}

/**
 * A config object, a config file path (re-read on every run, so edits apply without a restart, as
 * the Go handler read its scope from the config store each time), or a function returning either.
 */
export type ConfigSource = Config | string | (() => Config | string | Promise<Config | string>);

/**
 * The job handler of the Go original: `handle(job, { signal })` backs up the database(s) of `source`
 * and resolves when the backup is published, or rejects with a BackupError. `options` apply to
 * every run.
 */
export function createBackupHandler(source: ConfigSource, options: Omit<BackupOptions, 'signal'> = {}): BackupHandler {
  return {
    jobType: JOB_TYPE,
    async handle(job, { signal } = {}) {
      if (job.type !== undefined && job.type !== JOB_TYPE) {
        throw new BackupError(ErrorCode.CONFIG, `the ${JOB_TYPE} handler was given a job of type "${job.type}"`);
      }
      const resolved = typeof source === 'function' ? await source() : source;
      const config = typeof resolved === 'string' ? await loadConfig(resolved) : resolved;
      if (config.entries) {
        const outcomes = await backupEntries(config, { ...options, signal });
        if (outcomes.some((o) => o.status === 'failed')) throw new EntriesError(outcomes);
        return outcomes;
      }
      return backup(config, { ...options, signal });
    },
  };
}
