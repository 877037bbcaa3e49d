/**
 * What a backup store holds, and which backup is "the latest" - one listing per call, over any
 * Transport.
 *
 * The Go original picked "latest" by sorting all names, so it could pick a half-written `.tmp` file
 * or another database's backup. Here only names that parse as backups count (parseBackupName), only
 * regular files (the transports skip symlinks and deeper entries), and order comes from the
 * timestamp in the name.
 */
import { BackupError, ErrorCode, isBackupError } from '../errors.js';
import type { RemoteFile, Transport } from '../transport/types.js';
import { compareBackups, parseBackupName, parseRibLatestLink, SIDECAR_SUFFIX, type ParsedBackupName } from '../format/naming.js';
import { readLatest } from './manifest.js';
import { whereIn } from './where.js';

/** A backup in a store, as listStore lists it. */
export interface StoreEntry extends ParsedBackupName {
  /** Bytes of the backup file. */
  size: number;
  mtimeMs: number;
  /** A `<name>.sha256` sidecar is present (its content is not checked here). */
  hasChecksum: boolean;
  /** latest.txt names this file. */
  isLatest: boolean;
}

/** A store listed once by listStore: its backups and what its latest.txt names. */
export interface StoreListing {
  /** Backups, oldest first (by time in the name, then counter, then name). */
  backups: StoreEntry[];
  /** Every regular file of the store by name (temp files, sidecars and unknown files included). */
  files: Map<string, RemoteFile>;
  /** What latest.txt names; undefined when it is missing or malformed (see `latestProblem`). */
  latest: string | undefined;
  /** Why latest.txt was not usable, when it exists but is malformed. */
  latestProblem?: Error;
  /**
   * restinpieces-backup `latest-<dbName>` links (hard links to the newest plain snapshot, regular
   * files to a listing), by dbName; with `dbName`, only that one. Never listed as backups.
   */
  latestLinks: Map<string, string>;
}

/** Options of listStore. */
export interface ListStoreOptions {
  /**
   * Only backups of this database (a sanitized name, see sanitizeDbName). Go v1 backups have no
   * dbName and are listed only without this filter.
   */
  dbName?: string;
  signal?: AbortSignal;
}

/**
 * Lists the store once. Ignores temp files, sidecars, latest.txt, `latest-*` links, lock files, anything
 * unrecognised and, with `dbName`, other databases' backups. A missing directory gives no backups.
 * A malformed latest.txt does not make the store unlistable: it is reported in `latestProblem`.
 */
export async function listStore(transport: Transport, options: ListStoreOptions = {}): Promise<StoreListing> {
  const { signal } = options;
  // latest.txt is read alongside the listing rather than after it: on a remote store that saves the
  // round trips of one read. Its answer counts only when the listing holds it as a regular file.
  const latestRead = readLatest(transport, { signal });
  latestRead.catch(() => {}); // awaited below, or not needed
  const all = await transport.list({ signal });
  const files = new Map(all.map((f) => [f.name, f]));
  let latest: string | undefined;
  let latestProblem: Error | undefined;
  if (files.has('latest.txt')) {
    try {
      latest = await latestRead;
      if (latest !== undefined && parseBackupName(latest) === undefined) {
        const path = whereIn(transport, 'latest.txt');
        throw new BackupError(ErrorCode.BACKUP_NOT_FOUND, `"${path}" names ${JSON.stringify(latest)}, which is not a backup file name`, { path });
      }
    } catch (e) {
      if (!isBackupError(e, ErrorCode.BACKUP_NOT_FOUND)) throw e;
      latest = undefined;
      latestProblem = e;
    }
  }
  const backups: StoreEntry[] = [];
  const latestLinks = new Map<string, string>();
  for (const f of all) {
    const linked = parseRibLatestLink(f.name);
    if (linked !== undefined && (options.dbName === undefined || linked === options.dbName)) latestLinks.set(linked, f.name);
    const parsed = parseBackupName(f.name);
    if (!parsed || (options.dbName !== undefined && parsed.dbName !== options.dbName)) continue;
    backups.push({ ...parsed, size: f.size, mtimeMs: f.mtimeMs, hasChecksum: files.has(f.name + SIDECAR_SUFFIX), isLatest: f.name === latest });
  }
  backups.sort(compareBackups);
  return { backups, files, latest, latestLinks, latestProblem };
}

/**
 * The one judgement of a malformed latest.txt, for every command that reports it: `list` warns with
 * it and lists anyway, `prune` refuses with it (it cannot tell which backup to protect). Same code,
 * path and message in both. Undefined when latest.txt is missing or usable.
 */
export function latestProblemOf(listing: StoreListing): BackupError | undefined {
  const problem = listing.latestProblem;
  if (problem === undefined) return undefined;
  const path = isBackupError(problem) ? problem.path : undefined;
  return new BackupError(
    ErrorCode.BACKUP_NOT_FOUND,
    `${problem.message}; until it is fixed or removed, no backup counts as the latest and prune removes nothing ` +
      '(the next backup or pull writes it again)',
    { path, cause: problem },
  );
}

/**
 * The backup to use from a listing: the one latest.txt names when it is an existing, recognised
 * backup (of `dbName` when the listing was filtered), flagged `isLatest: true`; otherwise
 * (latest.txt missing, malformed, or naming a missing, unrecognised or other database's file) the
 * newest by name, flagged `isLatest: false`, so callers can tell which rule chose it. Undefined
 * when there is none.
 */
export function latestOf(listing: StoreListing): StoreEntry | undefined {
  return listing.backups.find((e) => e.isLatest) ?? listing.backups.at(-1);
}

/** listStore + latestOf. */
export async function findLatest(transport: Transport, options: ListStoreOptions = {}): Promise<StoreEntry | undefined> {
  return latestOf(await listStore(transport, options));
}
