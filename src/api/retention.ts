/**
 * Retention: which backups to keep (restic's `forget` policy: the newest N, plus the newest of each
 * of the last N hours, days, weeks, months and years that have backups) and removing the rest. The
 * Go original had none, so its directory grew forever.
 *
 * resolveRetention (config/retention-policy.ts) is the one rule for where a policy comes from; planPrune
 * (store/retention-plan.ts) decides without a file system; prune applies
 * it to a directory.
 */
import { LocalTransport } from '../transport/local/local.js';
import { adoptUnverified } from './adopt.js';
import { validatePolicy, type RetentionPolicy } from '../config/retention-policy.js';
import { pruneStore, type PruneOptions, type PruneResult } from '../store/prune.js';

export {
  DEFAULT_RETENTION,
  describeRetention,
  KEEP_ALL,
  resolveRetention,
  RETENTION_FIELDS,
  retentionOf,
  validatePolicy,
  type FullRetentionPolicy,
  type RetentionField,
  type RetentionPolicy,
  type RetentionScope,
  type WrittenRetention,
} from '../config/retention-policy.js';

export * from '../store/retention-plan.js';

export type { PruneOptions, PruneResult } from '../store/prune.js';

/**
 * Applies the policy to the local backup directory `dir` (see pruneStore, which does the same for
 * any store). First, unless it is a dry run or `keepLast` is 0, each unverified backup (a `.gz`
 * without sidecar that latest.txt does not name: a killed run's) is verified under its database's
 * lock: adopted (sidecar written, then counted) or removed when it fails (adopt.ts); a database
 * whose backup is running is left for that backup to settle. Throws EBACKUP_NOT_FOUND when
 * latest.txt is malformed (it cannot tell what to protect), EIO when a removal fails.
 */
export async function prune(dir: string, policy: RetentionPolicy, options: PruneOptions = {}): Promise<PruneResult> {
  validatePolicy(policy);
  const settled =
    options.dryRun || policy.keepLast === 0
      ? { adopted: [], discarded: [] }
      : await adoptUnverified(dir, {
          dbName: options.dbName,
          latestName: options.latestName,
          signal: options.signal,
        });
  const result = await pruneStore(new LocalTransport(dir), policy, options);
  return { ...result, adopted: settled.adopted, discarded: settled.discarded };
}
