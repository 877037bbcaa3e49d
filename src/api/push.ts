/**
 * Push: every new backup also goes to each configured destination (`[[push]]`: S3-compatible
 * storage, SFTP, a mounted directory), published there exactly as locally: the .gz streamed from
 * the local copy (multipart on S3, so any size works), a check of what the destination holds, its
 * `.sha256`, latest.txt last, then that destination's retention and the sweep of temp files a
 * killed push left. A destination that fails is reported with the cause classified; it does not
 * undo the local backup, and the other destinations still run.
 */
import { BackupError, ErrorCode, isBackupError } from '../errors.js';
import { LocalTransport } from '../transport/local/local.js';
import type { Transport } from '../transport/types.js';
import type { PushSettings } from '../config/config.js';
import { retentionOf, type RetentionPolicy } from './retention.js';
import { openStore, type StoreSpec } from '../store/open.js';
import { pruneStore } from '../store/prune.js';
import { publishBackup } from '../store/publish.js';
import { sweepTemps } from '../store/sweep.js';
import { parseStoreUrl } from '../store/url.js';

/** A remote temp file older than this is a dead push's (no lock spans machines; no upload takes this long). */
export const REMOTE_TEMP_MAX_AGE_MS = 6 * 60 * 60 * 1000;

/** Why a destination failed, for people and programs: what the user must look at. */
export type PushFailureKind = 'auth' | 'host-key' | 'network' | 'not-found' | 'config' | 'storage' | 'aborted';

/** Why a push to one destination failed. */
export interface PushFailure {
  kind: PushFailureKind;
  code: string;
  message: string;
  host?: string;
}

/** What happened at one `[[push]]` destination. */
export interface PushOutcome {
  /** The destination's URL, as configured. */
  url: string;
  ok: boolean;
  /** The backup's file name there. */
  name: string;
  /** Bytes uploaded (the .gz). */
  bytes: number;
  /** Backups removed there by retention. */
  pruned: string[];
  durationMs: number;
  /** Why it failed (only when `ok` is false). */
  error?: PushFailure;
}

/** The published local backup a push sends. */
export interface PushedBackup {
  /** Local directory holding it. */
  dir: string;
  name: string;
  dbName: string;
  sha256: string;
  size: number;
}

/** Options of pushBackup. */
export interface PushOptions {
  signal?: AbortSignal;
  /** Bytes of the .gz sent so far to `url`. */
  onProgress?: (url: string, bytesSent: number, bytesTotal: number) => void;
  now?: Date;
}

/** Publishes `backup` in the store `transport` and applies `policy` there; returns what retention removed. */
export async function pushToStore(transport: Transport, backup: PushedBackup, policy: RetentionPolicy, options: PushOptions = {}): Promise<string[]> {
  const { signal } = options;
  const local = new LocalTransport(backup.dir);
  await publishBackup(
    transport,
    { name: backup.name, sha256: backup.sha256, size: backup.size, data: local.read(backup.name, { signal }) },
    { signal, onProgress: (n) => options.onProgress?.(transport.location, n, backup.size) },
  );
  // Published there: from here on a failure is reported, but the pushed backup stands.
  await sweepTemps(transport, backup.dbName, { olderThanMs: REMOTE_TEMP_MAX_AGE_MS, signal });
  const pruned = await pruneStore(transport, policy, {
    dbName: backup.dbName,
    latestName: backup.name,
    now: options.now,
    signal,
  });
  return pruned.removed;
}

/** How a [[push]] entry is reached. */
export function storeSpecOf(dest: PushSettings): StoreSpec {
  const { keepLast: _l, keepHourly: _h, keepDaily: _d, keepWeekly: _w, keepMonthly: _m, keepYearly: _y, ...spec } = dest;
  return spec;
}

/** Opens the destination, pushes, closes; never throws: the outcome says what happened. */
export async function pushBackup(dest: PushSettings, backup: PushedBackup, options: PushOptions = {}): Promise<PushOutcome> {
  const started = Date.now();
  let transport: Transport | undefined;
  try {
    transport = await openStore(storeSpecOf(dest), { label: 'push' });
    const pruned = await pushToStore(transport, backup, retentionOf(dest), options);
    return { url: dest.url, ok: true, name: backup.name, bytes: backup.size, pruned, durationMs: Date.now() - started };
  } catch (e) {
    return { url: dest.url, ok: false, name: backup.name, bytes: backup.size, pruned: [], durationMs: Date.now() - started, error: describeFailure(dest.url, e) };
  } finally {
    await transport?.close().catch(() => {});
  }
}

/** What each error code means for a destination; every other code is a storage failure. */
const FAILURE_KINDS: Partial<Record<string, PushFailureKind>> = {
  [ErrorCode.AUTH]: 'auth',
  [ErrorCode.HOST_KEY]: 'host-key',
  [ErrorCode.CONNECT]: 'network',
  [ErrorCode.BACKUP_NOT_FOUND]: 'not-found',
  [ErrorCode.CONFIG]: 'config',
  [ErrorCode.ABORTED]: 'aborted',
};

export function describeFailure(url: string, e: unknown): PushFailure {
  const code = isBackupError(e) ? e.code : ErrorCode.IO;
  const kind = FAILURE_KINDS[code] ?? 'storage';
  const message = e instanceof Error ? e.message : String(e);
  let host: string | undefined = isBackupError(e) ? e.host : undefined;
  if (host === undefined) {
    try {
      const where = parseStoreUrl(url);
      host = where.kind === 'sftp' ? where.host : undefined;
    } catch {
      // a URL the config loader accepted always parses
    }
  }
  return { kind, code, message, host };
}

/** A backup that was published locally but failed to reach at least one destination. */
export class PushError extends BackupError {
  constructor(
    readonly outcomes: PushOutcome[],
    /** The backup's result (published locally), for callers that report it anyway. */
    readonly result: unknown,
  ) {
    const failed = outcomes.filter((o) => !o.ok);
    super(
      ErrorCode.PUSH,
      `the backup was published locally, but ${failed.length} of ${outcomes.length} destination(s) failed: ` +
        failed.map((o) => `${o.url}: ${o.error!.kind} (${o.error!.message})`).join('; '),
      failed.length === 1 && failed[0]!.error!.host !== undefined ? { host: failed[0]!.error!.host } : {},
    );
    this.name = 'PushError';
  }
}
