/**
 * `status`: is there a recent, intact backup? The question a monitor asks after every night, and the
 * one that catches a cron job that silently stopped running. It reads the directory (the same
 * listing and "latest" rule as `list`, `restore` and `pull`), hashes the newest backup against its
 * `.sha256` sidecar, and compares the time in its name with `maxAgeMs`. It writes nothing.
 *
 * An encrypted backup (age) is reported as such. Given an identity, status also checks that it opens
 * the newest encrypted backup: only the age header is read (a key rotated on the backup side without
 * the restore side hearing of it shows here, the night it happens, not on the day of a restore); the
 * content is verify's job.
 */
import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { decryptChunks } from '../crypto/age-stream.js';
import { resolveAgeIdentity, type AgeIdentityOption } from '../crypto/identity-option.js';
import type { AgeIdentities } from '../crypto/age-identity.js';
import { BackupError, ErrorCode, fsError, isBackupError } from '../errors.js';
import { LocalTransport } from '../transport/local/local.js';
import type { Config } from '../config/config.js';
import { humanDuration } from '../config/duration.js';
import { sanitizeDbName, type BackupLayout } from '../format/naming.js';
import { checkSidecar } from '../format/sidecar.js';
import { latestOf, listStore } from '../store/listing.js';
import { detectFormat } from './verify.js';

/** Options of status. */
export interface StatusOptions {
  /** The newest backup must be younger than this (milliseconds), or the status is not ok. */
  maxAgeMs?: number;
  /**
   * Only this database's backups (a sanitized name). With a config, the default is the dbName of its
   * source_path; with a directory, every backup there counts.
   */
  dbName?: string;
  signal?: AbortSignal;
  /** The time ages are counted from, in ms since the epoch (tests, replayed checks). @default Date.now() */
  now?: number;
  /**
   * An age identity file (path) or loaded identities: when the newest backup is encrypted, check that
   * one of its keys opens it (its header only). Not read for an unencrypted backup.
   */
  ageIdentity?: AgeIdentityOption;
}

/** The backup status looked at: the newest. */
export interface StatusBackup {
  name: string;
  path: string;
  /** When the backup was taken: the timestamp in its name. */
  time: Date;
  /** `now - time`, in milliseconds (negative when the name is in the future: a clock problem). */
  ageMs: number;
  /** `ageMs` for people: "3h 5m". */
  age: string;
  size: number;
  layout: BackupLayout;
  /** `latest.txt` named it, or (no usable latest.txt) it is the newest name in the listing. */
  chosenBy: 'latest.txt' | 'listing';
  /**
   * The file against its `.sha256` sidecar: `absent` when there is none (normal for the Go layouts,
   * which never wrote one), `mismatch` when the hash differs or the sidecar is malformed.
   */
  checksum: 'ok' | 'absent' | 'mismatch';
  /** The backup is age-encrypted (its name, `.age`, or its header). */
  encrypted: boolean;
  /**
   * Only for an encrypted backup when an identity was given: whether one of its keys opens the
   * backup's age header (a `decrypt` problem when not). The content is not read: verify checks it.
   */
  decryptable?: boolean;
}

/** Why a status is not ok. */
export interface StatusProblem {
  kind: 'no-backup' | 'too-old' | 'checksum' | 'decrypt';
  message: string;
}

/** What status found. */
export interface StatusResult {
  /** No problems: a backup exists, its sidecar (if any) matches, and it is within maxAgeMs. */
  ok: boolean;
  /** The directory looked at (absolute). */
  dir: string;
  dbName?: string;
  /** Backups in the directory (of dbName, when set). */
  count: number;
  /** The newest backup (the one latest.txt names, else the newest by name); undefined when none. */
  newest?: StatusBackup;
  maxAgeMs?: number;
  problems: StatusProblem[];
  /** Worth knowing, not a failure: a malformed latest.txt, a missing sidecar, a time in the future. */
  warnings: string[];
}

/**
 * The status of a backup directory: `dir`, or a config's `backup_dir` (else its `[pull] local_dir`,
 * for a machine that only pulls). Never throws for what it is asked to report (no backup, too old, a
 * checksum mismatch: `ok: false` with `problems`); throws ECONFIG for a config with neither directory,
 * and the listing's error (EIO) when the directory cannot be read.
 */
export async function status(target: string | Config, options: StatusOptions = {}): Promise<StatusResult> {
  const { dir, dbName } = where(target, options);
  const listing = await listStore(new LocalTransport(dir), { dbName, signal: options.signal });
  const problems: StatusProblem[] = [];
  const warnings: string[] = [];
  if (listing.latestProblem) warnings.push(listing.latestProblem.message);
  const result = (newest?: StatusBackup): StatusResult => ({
    ok: problems.length === 0,
    dir,
    dbName,
    count: listing.backups.length,
    newest,
    maxAgeMs: options.maxAgeMs,
    problems,
    warnings,
  });

  const entry = latestOf(listing);
  if (!entry) {
    const of = dbName !== undefined ? ` of "${dbName}"` : '';
    problems.push({ kind: 'no-backup', message: `no backup${of} in "${dir}"` });
    return result();
  }
  const path = join(dir, entry.name);
  if (listing.latest !== undefined && !entry.isLatest) {
    warnings.push(`latest.txt names "${listing.latest}", which is not a backup here${dbName !== undefined ? ` of "${dbName}"` : ''}: the newest by name is reported`);
  }
  let checksum: StatusBackup['checksum'];
  try {
    checksum = await checkSidecar(path, { signal: options.signal });
  } catch (e) {
    if (!(e instanceof BackupError) || e.code !== ErrorCode.CHECKSUM) throw e;
    checksum = 'mismatch';
    problems.push({ kind: 'checksum', message: e.message });
  }
  if (checksum === 'absent' && entry.layout === 'ours') warnings.push(`"${path}" has no .sha256 sidecar: its content cannot be checked`);
  const encrypted = entry.encrypted || (await detectFormat(path)).format === 'age';
  let decryptable: boolean | undefined;
  const identities = encrypted ? await resolveAgeIdentity(options.ageIdentity) : undefined;
  if (identities) {
    const problem = await headerProblem(path, identities);
    decryptable = problem === undefined;
    if (problem !== undefined) problems.push({ kind: 'decrypt', message: problem });
  }
  const ageMs = (options.now ?? Date.now()) - entry.time.getTime();
  if (ageMs < 0) warnings.push(`"${entry.name}" is dated ${humanDuration(-ageMs)} in the future: check this machine's clock`);
  if (options.maxAgeMs !== undefined && ageMs > options.maxAgeMs) {
    problems.push({
      kind: 'too-old',
      message: `no backup newer than ${humanDuration(options.maxAgeMs)} in "${dir}": the newest, ${entry.name}, is ${humanDuration(ageMs)} old (the backup job may have stopped running)`,
    });
  }
  return result({
    name: entry.name,
    path,
    time: entry.time,
    ageMs,
    age: humanDuration(Math.max(0, ageMs)),
    size: entry.size,
    layout: entry.layout,
    chosenBy: entry.isLatest ? 'latest.txt' : 'listing',
    checksum,
    encrypted,
    // Only for an encrypted backup: a plain one has no `decryptable` at all, not `undefined`.
    ...(decryptable !== undefined ? { decryptable } : {}),
  });
}

/** The age header of a backup fits in this many bytes, for any sensible number of recipients. */
const HEADER_READ = 64 * 1024;

/**
 * Why `identities` cannot open the encrypted backup at `path` (EDECRYPT's message), or undefined
 * when one of its keys unwraps the file key (age checks the header's MAC with it too). Reads the
 * first HEADER_READ bytes only.
 */
async function headerProblem(path: string, identities: AgeIdentities): Promise<string | undefined> {
  let head: Uint8Array;
  try {
    const fh = await open(path, 'r');
    try {
      const buf = new Uint8Array(HEADER_READ);
      const { bytesRead } = await fh.read(buf, 0, HEADER_READ, 0);
      head = buf.subarray(0, bytesRead);
    } finally {
      await fh.close().catch(() => {});
    }
  } catch (e) {
    throw fsError('read', path, e);
  }
  try {
    // Resolves once the header is read and a key fits; the payload is never pulled.
    await decryptChunks(
      (async function* () {
        yield head;
      })(),
      identities,
      path,
    );
    return undefined;
  } catch (e) {
    if (isBackupError(e, ErrorCode.DECRYPT)) return e.message;
    throw e;
  }
}

function where(target: string | Config, options: StatusOptions): { dir: string; dbName?: string } {
  const dbOption = options.dbName !== undefined ? { dbName: options.dbName } : {};
  if (typeof target === 'string') return { dir: resolve(target), ...dbOption };
  if (target.backupDir !== undefined) {
    const fromSource = target.sourcePath !== undefined ? { dbName: sanitizeDbName(target.sourcePath) } : {};
    return { dir: target.backupDir, ...fromSource, ...dbOption };
  }
  if (target.pull?.localDir !== undefined) return { dir: target.pull.localDir, ...dbOption };
  const file = target.configPath;
  throw new BackupError(ErrorCode.CONFIG, `the config${file ? ` "${file}"` : ''} has neither backup_dir nor [pull] local_dir`, {
    path: file || undefined,
  });
}
