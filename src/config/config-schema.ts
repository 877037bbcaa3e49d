/**
 * What a config file may contain: the result types, every default (CONFIG_DEFAULTS), and one table
 * (CONFIG_KEYS) that drives parsing, the README key table and "did you mean" hints. Keys are the Go
 * version's snake_case TOML names; results are camelCase. Readers here check one value each and throw
 * an `Invalid` with a message; config.ts collects those into one ConfigError.
 */
import { TomlDate } from 'smol-toml';
import { recipientProblem } from '../crypto/age-recipients.js';
import { formatDuration, parseDuration } from './duration.js';
import type { StoreSpec } from '../store/open.js';
import { parseStoreUrl } from '../store/url.js';

import type { IntegrityMode, SnapshotStrategy } from '../engine/types.js';

/** How a snapshot is taken; the engine's union, named for the `strategy` key. */
export type Strategy = SnapshotStrategy;
/** How a backup is checked; the engine's union, named for the `verify` key. */
export type VerifyMode = IntegrityMode;

/** The [pull] table as parsed: types are checked, required keys are checked by requirePullConfig. */
export interface PullSettings {
  /** A store URL (`s3://bucket/prefix`, `sftp://user@host/path`) instead of host/user/remote_dir. */
  url?: string;
  /** S3: the service's URL, for S3-compatible services. */
  endpoint?: string;
  /** S3 region. */
  region?: string;
  /** S3 path-style addressing. */
  forcePathStyle?: boolean;
  host?: string;
  port: number;
  user?: string;
  /** Absolute (resolved against the config file's directory, `~` expanded). */
  privateKeyPath?: string;
  /** Absolute. Defaults to ~/.ssh/known_hosts unless hostKeySha256 pins the key. */
  knownHosts?: string;
  /** `SHA256:<43 base64 chars>`, as `ssh-keygen -lf` prints it. */
  hostKeySha256?: string;
  /** Path on the server, used exactly as written. */
  remoteDir?: string;
  /** Absolute. */
  localDir?: string;
  /**
   * Pull only this database's backups (`<label>-<basename>` for restinpieces-backup names, the
   * sanitized source name for ours): needed when remote_dir holds several databases.
   */
  db?: string;
  connectTimeoutMs: number;
  /** A download that receives nothing for this long is treated as a dropped connection (and resumed). */
  idleTimeoutMs: number;
  /** Absolute. After a pull, restore the verified backup to this database path. */
  restoreTo?: string;
  /** restore_to: how many `<restore_to>.before-restore-<time>` copies of replaced databases to keep. */
  keepBeforeRestore: number;
  /** Absolute. age identity file (age-keygen format) that decrypts encrypted backups to check them. */
  ageIdentity?: string;
}

/** A [pull] table that has everything a pull needs: `url`, or `host`, `user` and `remote_dir`; and `local_dir`. */
export interface PullConfig extends PullSettings {
  localDir: string;
}

/** The keep_* counts of a retention policy, every one resolved (0: that rule keeps nothing extra). */
export interface RetentionCounts {
  keepLast: number;
  keepHourly: number;
  keepDaily: number;
  keepWeekly: number;
  keepMonthly: number;
  keepYearly: number;
}

/**
 * One `[[push]]` entry: a store every new backup is also published to, and the retention there (each
 * key missing in the entry takes the top-level value: resolveRetention).
 */
export interface PushSettings extends StoreSpec, RetentionCounts {}

/** The `[encryption]` table: backups are encrypted with age to `recipients`. */
export interface EncryptionSettings {
  /** X25519 public keys, `age1...` (from age_recipients, or read from age_recipients_file). */
  recipients: string[];
  /** Absolute: the `-R` file they were read from, when the config named one. */
  recipientsFile?: string;
}

/** The retention counts are the top level's (backup_dir, and pull's local_dir). */
export interface Config extends RetentionCounts {
  /** Absolute path of the database to back up (required for a backup only). */
  sourcePath?: string;
  /** Absolute path of the backup directory (required for a backup only). */
  backupDir?: string;
  strategy: Strategy;
  pagesPerStep: number;
  sleepIntervalMs: number;
  /** Parsed for Go compatibility; the library reports progress through callbacks instead. */
  progressLogIntervalMs: number;
  compressionLevel: number;
  verify: VerifyMode;
  lockTimeoutMs: number;
  pull?: PullSettings;
  /** `[[push]]` destinations, in file order. */
  push?: PushSettings[];
  /** `[encryption]`: every backup is gzip then age, to these recipients. */
  encryption?: EncryptionSettings;
  /** Absolute path of the file this came from (loadConfig only). */
  configPath?: string;
  /**
   * The databases of a file in the restinpieces-backup shape (`[vacuum.<label>]`, `[online.<label>]`,
   * or the same under `[backup]`), in file order; then sourcePath/backupDir are unset.
   */
  entries?: BackupEntryConfig[];
}

/**
 * One `[vacuum.<label>]` / `[online.<label>]` table of the restinpieces-backup config shape. Its
 * retention counts: without keep_* keys, keep everything (resolveRetention scope 'restinpieces').
 */
export interface BackupEntryConfig extends RetentionCounts {
  /** The table's name: `app` in `[vacuum.app]`. */
  label: string;
  /** The table it sits in. */
  strategy: Strategy;
  /** Absolute. */
  sourcePath: string;
  /** Absolute: the directory receiving `<label>-<basename>-<time>.bck.gz|.db`. */
  destPath: string;
  /** `<label>-<basename>`: the name every file of this entry starts with (ribDbName). */
  dbName: string;
  /** Skip the entry while its newest backup in destPath is younger than this; undefined: always due. */
  frequencyMs?: number;
  /** true: gzip (`.bck.gz`); false (the default, as upstream): the checked snapshot itself (`.db`). */
  compression: boolean;
  pagesPerStep: number;
  sleepIntervalMs: number;
  compressionLevel: number;
  verify: VerifyMode;
  lockTimeoutMs: number;
}

/** Every default, in one place. Durations in milliseconds, like the parsed Config. */
export const CONFIG_DEFAULTS = {
  strategy: 'vacuum',
  pagesPerStep: 100,
  sleepIntervalMs: 10,
  progressLogIntervalMs: 15_000,
  compressionLevel: 6,
  verify: 'full',
  keepLast: 30,
  keepHourly: 0,
  keepDaily: 0,
  keepWeekly: 0,
  keepMonthly: 0,
  keepYearly: 0,
  lockTimeoutMs: 0,
  pull: {
    port: 22,
    /** Used only when host_key_sha256 is not given. */
    knownHosts: '~/.ssh/known_hosts',
    connectTimeoutMs: 30_000,
    idleTimeoutMs: 60_000,
    keepBeforeRestore: 2,
  },
} as const satisfies Omit<Config, 'pull'> & { pull: Partial<PullSettings> };

/** A value that does not fit its key; the message reads after "<key>: ". */
export class Invalid extends Error {}

type Value = unknown;

/** How a value reads in a message: strings quoted, tables and arrays named. */
export function show(v: Value): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof TomlDate) return `the date ${v.toISOString()}`;
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object' && v !== null) return 'a table';
  return String(v);
}

function text(v: Value): string {
  if (typeof v !== 'string') throw new Invalid(`expected a string, got ${show(v)}`);
  if (v.trim() === '') throw new Invalid('must not be empty');
  // No file name or host can hold one; left in, it would fail later as an fs error on a mangled path.
  if (v.includes('\0')) throw new Invalid(`must not contain a NUL character ("\\u0000"), got ${show(v)}`);
  return v;
}

/** Whole numbers in [min, max]. A max of 2^31-1 or more is a technical limit, shown only when hit. */
function integer(min: number, max: number, what = 'a whole number') {
  const range = max >= 2 ** 31 - 1 ? `>= ${min}` : `from ${min} to ${max}`;
  return (v: Value): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new Invalid(`expected ${what} ${range}, got ${show(v)}`);
    if (v > max) throw new Invalid(`expected ${what} ${max === 2 ** 31 - 1 ? `<= ${max}` : range}, got ${show(v)}`);
    return v;
  };
}

function bool(v: Value): boolean {
  if (typeof v !== 'boolean') throw new Invalid(`expected true or false, got ${show(v)}`);
  return v;
}

function oneOf<T extends string>(...choices: T[]) {
  const list = choices.map((c) => JSON.stringify(c)).join(' or ');
  return (v: Value): T => {
    if (typeof v !== 'string' || !(choices as string[]).includes(v)) throw new Invalid(`expected ${list}, got ${show(v)}`);
    return v as T;
  };
}

function duration(positive: boolean) {
  return (v: Value): number => {
    if (typeof v !== 'string') {
      throw new Invalid(`expected a duration string such as "10ms", "1.5s" or "1m30s", got ${show(v)}`);
    }
    let ms: number;
    try {
      ms = parseDuration(v);
    } catch (e) {
      throw new Invalid((e as Error).message);
    }
    if (ms < 0) throw new Invalid(`must not be negative, got ${show(v)}`);
    if (positive && ms === 0) throw new Invalid(`must be longer than 0, got ${show(v)}`);
    return ms;
  };
}

function storeUrl(v: Value): string {
  const s = text(v);
  if (!/^(s3|sftp):\/\/./i.test(s)) throw new Invalid(`expected "s3://bucket/prefix" or "sftp://user@host/path", got ${show(v)}`);
  try {
    parseStoreUrl(s);
  } catch (e) {
    throw new Invalid((e as Error).message);
  }
  return s;
}

function endpoint(v: Value): string {
  const s = text(v);
  let u: URL | undefined;
  try {
    u = new URL(s);
  } catch {
    // reported below
  }
  if (!u || !/^https?:$/.test(u.protocol)) throw new Invalid(`expected an http(s) URL such as "https://s3.example.org", got ${show(v)}`);
  if (u.username || u.password) throw new Invalid('must not carry credentials: they come from the AWS_* environment or ~/.aws');
  return s;
}

/**
 * "SHA256:" + unpadded base64 of 32 bytes (43 chars; the last one carries 2 zero bits), as
 * `ssh-keygen -lf` and ssh's "key fingerprint is" lines print it. A trailing "=" is tolerated.
 */
const SHA256_FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=?$/;

function fingerprint(v: Value): string {
  const s = text(v).trim();
  if (SHA256_FINGERPRINT.test(s)) return s.replace(/=$/, '');
  const pasted = /SHA256:\S+/.exec(s);
  if (pasted && pasted[0] !== s && SHA256_FINGERPRINT.test(pasted[0])) {
    throw new Invalid(`expected only the fingerprint, e.g. ${JSON.stringify(pasted[0])}, got ${show(v)}`);
  }
  const hint = /^MD5:/i.test(s) ? ' (that is an MD5 fingerprint: run `ssh-keygen -E sha256 -lf <host key>`)' : '';
  throw new Invalid(`expected "SHA256:" and 43 base64 characters, as \`ssh-keygen -lf\` prints, got ${show(v)}${hint}`);
}

/** One key of the file: its name, how it reads, and its row in the README table. */
export interface KeySpec {
  /** The TOML key, dotted for the [pull] table: "pull.port". */
  key: string;
  /** The camelCase property it sets (in Config, or in Config.pull for pull.* keys). */
  prop: string;
  /** Type and allowed range, for people. */
  type: string;
  /** The default as it would be written in the file, or what happens without it. */
  default: string;
  description: string;
  /** @internal Checks and converts the TOML value; the parser's, not part of the published type. */
  read: (v: Value) => unknown;
  /** Resolved against the config file's directory, with `~` expanded. */
  localPath?: boolean;
}

const dur = (ms: number) => JSON.stringify(formatDuration(ms));
const D = CONFIG_DEFAULTS;

/**
 * Every key a config file may contain, in the README's order: its TOML name, the Config property it
 * sets, its type, default and description. The README's key table is checked against it.
 */
export const CONFIG_KEYS: readonly KeySpec[] = [
  { key: 'source_path', prop: 'sourcePath', type: 'path', default: 'required for backup', description: 'The SQLite database to back up.', read: text, localPath: true },
  { key: 'backup_dir', prop: 'backupDir', type: 'path', default: 'required for backup', description: 'Directory that receives the backups, their .sha256 files and latest.txt.', read: text, localPath: true },
  { key: 'strategy', prop: 'strategy', type: '"vacuum" | "online"', default: JSON.stringify(D.strategy), description: 'VACUUM INTO (compact copy) or the SQLite online backup API.', read: oneOf<Strategy>('vacuum', 'online') },
  { key: 'pages_per_step', prop: 'pagesPerStep', type: 'integer >= 1', default: String(D.pagesPerStep), description: 'online: pages the online backup API copies per step from the private validated copy; progress is reported and cancellation checked between steps.', read: integer(1, 2 ** 31 - 1) },
  { key: 'sleep_interval', prop: 'sleepIntervalMs', type: 'duration', default: dur(D.sleepIntervalMs), description: 'Accepted for compatibility with the Go versions; no effect: the online steps copy a private validated copy that no writer waits for, so there is nothing to pause for.', read: duration(false) },
  { key: 'progress_log_interval', prop: 'progressLogIntervalMs', type: 'duration', default: dur(D.progressLogIntervalMs), description: 'The CLI prints a progress line at most this often (0s: none); the API reports to onProgress.', read: duration(false) },
  { key: 'compression_level', prop: 'compressionLevel', type: 'integer 0-9', default: String(D.compressionLevel), description: 'gzip level: 0 stores, 9 is smallest and slowest.', read: integer(0, 9) },
  { key: 'verify', prop: 'verify', type: '"full" | "quick"', default: JSON.stringify(D.verify), description: 'Check each backup with PRAGMA integrity_check (full) or quick_check (quick).', read: oneOf<VerifyMode>('full', 'quick') },
  { key: 'keep_last', prop: 'keepLast', type: 'integer >= 0', default: String(D.keepLast), description: 'Keep the newest N backups; 0 keeps all.', read: integer(0, Number.MAX_SAFE_INTEGER) },
  { key: 'keep_hourly', prop: 'keepHourly', type: 'integer >= 0', default: String(D.keepHourly), description: 'Also keep the newest backup of each of the last N hours (UTC) that have backups.', read: integer(0, Number.MAX_SAFE_INTEGER) },
  { key: 'keep_daily', prop: 'keepDaily', type: 'integer >= 0', default: String(D.keepDaily), description: 'Also keep the newest backup of each of the last N days (UTC) that have backups.', read: integer(0, Number.MAX_SAFE_INTEGER) },
  { key: 'keep_weekly', prop: 'keepWeekly', type: 'integer >= 0', default: String(D.keepWeekly), description: 'Also keep the newest backup of each of the last N ISO weeks that have backups.', read: integer(0, Number.MAX_SAFE_INTEGER) },
  { key: 'keep_monthly', prop: 'keepMonthly', type: 'integer >= 0', default: String(D.keepMonthly), description: 'Also keep the newest backup of each of the last N months (UTC) that have backups.', read: integer(0, Number.MAX_SAFE_INTEGER) },
  { key: 'keep_yearly', prop: 'keepYearly', type: 'integer >= 0', default: String(D.keepYearly), description: 'Also keep the newest backup of each of the last N years (UTC) that have backups.', read: integer(0, Number.MAX_SAFE_INTEGER) },
  { key: 'lock_timeout', prop: 'lockTimeoutMs', type: 'duration', default: dur(D.lockTimeoutMs), description: 'How long a second backup of the same database waits for the lock; "0s" fails at once.', read: duration(false) },
  { key: 'pull.url', prop: 'url', type: 'store URL', default: 'none', description: 'Pull from this store instead of host/user/remote_dir: "s3://bucket/prefix" or "sftp://user@host:port/path".', read: storeUrl },
  { key: 'pull.endpoint', prop: 'endpoint', type: 'URL', default: 'AWS', description: 'S3: the endpoint of an S3-compatible service (Ceph, MinIO, R2...).', read: endpoint },
  { key: 'pull.region', prop: 'region', type: 'string', default: '"us-east-1"', description: 'S3 region.', read: text },
  { key: 'pull.force_path_style', prop: 'forcePathStyle', type: 'boolean', default: 'true when endpoint is set', description: 'S3: bucket in the path, not the host name.', read: bool },
  { key: 'pull.host', prop: 'host', type: 'string', default: 'required for pull', description: 'SSH server to pull from.', read: text },
  { key: 'pull.port', prop: 'port', type: 'integer 1-65535', default: String(D.pull.port), description: 'SSH port.', read: integer(1, 65535, 'a port number') },
  { key: 'pull.user', prop: 'user', type: 'string', default: 'required for pull', description: 'SSH user name.', read: text },
  { key: 'pull.private_key_path', prop: 'privateKeyPath', type: 'path', default: 'none', description: 'Private key file for key authentication (no passphrases in this file).', read: text, localPath: true },
  { key: 'pull.known_hosts', prop: 'knownHosts', type: 'path', default: `${JSON.stringify(D.pull.knownHosts)} unless host_key_sha256 is set`, description: 'OpenSSH known_hosts file that must list the server key.', read: text, localPath: true },
  { key: 'pull.host_key_sha256', prop: 'hostKeySha256', type: '"SHA256:..."', default: 'none', description: 'Pin the server key by fingerprint (`ssh-keygen -lf <key>.pub`).', read: fingerprint },
  { key: 'pull.remote_dir', prop: 'remoteDir', type: 'remote path', default: 'required for pull', description: 'Backup directory on the server, used as written.', read: text },
  { key: 'pull.local_dir', prop: 'localDir', type: 'path', default: 'required for pull', description: 'Where pulled backups are stored and verified.', read: text, localPath: true },
  { key: 'pull.db', prop: 'db', type: 'string', default: 'none', description: 'Pull only the backups of this database: `<label>-<basename>` for restinpieces-backup names (`app-app.db`), the source name without extension for ours (`app`). Required when the remote directory holds several databases and no latest.txt.', read: text },
  { key: 'pull.restore_to', prop: 'restoreTo', type: 'path', default: 'none', description: 'Restore the pulled backup to this database path after a pull that brought a new one, or when the path does not exist yet (the previous database is kept aside).', read: text, localPath: true },
  { key: 'pull.keep_before_restore', prop: 'keepBeforeRestore', type: 'integer >= 0', default: String(D.pull.keepBeforeRestore), description: 'restore_to: keep the newest N `<restore_to>.before-restore-<time>` copies of replaced databases (the one just replaced included); 0 deletes it once the restore is in place.', read: integer(0, Number.MAX_SAFE_INTEGER) },
  { key: 'pull.age_identity', prop: 'ageIdentity', type: 'path', default: 'none ($SQLITE_BACKUP_AGE_IDENTITY)', description: 'age identity file (age-keygen format; every key in it is tried) that decrypts encrypted backups so they can be checked; required to pull an encrypted backup.', read: text, localPath: true },
  { key: 'pull.connect_timeout', prop: 'connectTimeoutMs', type: 'duration', default: dur(D.pull.connectTimeoutMs), description: 'Give up connecting after this long (S3 url: default "10s").', read: duration(true) },
  { key: 'pull.idle_timeout', prop: 'idleTimeoutMs', type: 'duration', default: dur(D.pull.idleTimeoutMs), description: 'A download that receives no data for this long counts as a dropped connection: it reconnects and resumes (S3 url: default "20s" per request, 2 attempts).', read: duration(true) },
];

/** The keys of one `[[push]]` entry (dotted `push.` for messages and the README table). */
export const PUSH_KEYS: readonly KeySpec[] = [
  { key: 'push.url', prop: 'url', type: 'store URL', default: 'required', description: '"s3://bucket/prefix" or "sftp://user@host:port/path" (a path starting "/~/" is relative to the login directory).', read: storeUrl },
  { key: 'push.endpoint', prop: 'endpoint', type: 'URL', default: 'AWS', description: 'S3: the endpoint of an S3-compatible service.', read: endpoint },
  { key: 'push.region', prop: 'region', type: 'string', default: '"us-east-1"', description: 'S3 region.', read: text },
  { key: 'push.force_path_style', prop: 'forcePathStyle', type: 'boolean', default: 'true when endpoint is set', description: 'S3: bucket in the path, not the host name.', read: bool },
  { key: 'push.keep_last', prop: 'keepLast', type: 'integer >= 0', default: 'the top-level keep_last', description: 'Retention at this destination; 0 keeps all.', read: integer(0, Number.MAX_SAFE_INTEGER) },
  { key: 'push.keep_hourly', prop: 'keepHourly', type: 'integer >= 0', default: 'the top-level keep_hourly', description: 'Retention at this destination.', read: integer(0, Number.MAX_SAFE_INTEGER) },
  { key: 'push.keep_daily', prop: 'keepDaily', type: 'integer >= 0', default: 'the top-level keep_daily', description: 'Retention at this destination.', read: integer(0, Number.MAX_SAFE_INTEGER) },
  { key: 'push.keep_weekly', prop: 'keepWeekly', type: 'integer >= 0', default: 'the top-level keep_weekly', description: 'Retention at this destination.', read: integer(0, Number.MAX_SAFE_INTEGER) },
  { key: 'push.keep_monthly', prop: 'keepMonthly', type: 'integer >= 0', default: 'the top-level keep_monthly', description: 'Retention at this destination.', read: integer(0, Number.MAX_SAFE_INTEGER) },
  { key: 'push.keep_yearly', prop: 'keepYearly', type: 'integer >= 0', default: 'the top-level keep_yearly', description: 'Retention at this destination.', read: integer(0, Number.MAX_SAFE_INTEGER) },
  { key: 'push.private_key_path', prop: 'privateKeyPath', type: 'path', default: 'none (ssh-agent)', description: 'SFTP: private key file.', read: text, localPath: true },
  { key: 'push.known_hosts', prop: 'knownHosts', type: 'path', default: `${JSON.stringify(D.pull.knownHosts)} unless host_key_sha256 is set`, description: 'SFTP: known_hosts file that must list the server key.', read: text, localPath: true },
  { key: 'push.host_key_sha256', prop: 'hostKeySha256', type: '"SHA256:..."', default: 'none', description: 'SFTP: pin the server key by fingerprint.', read: fingerprint },
  { key: 'push.connect_timeout', prop: 'connectTimeoutMs', type: 'duration', default: '"30s" (SFTP), "10s" (S3)', description: 'Give up connecting after this long.', read: duration(true) },
  { key: 'push.idle_timeout', prop: 'idleTimeoutMs', type: 'duration', default: '"1m0s" (SFTP), "20s" (S3)', description: 'A transfer that moves no data for this long fails (S3: per request, retried once).', read: duration(true) },
];

/** The keys of the `[encryption]` table (one of the two is required). */
export const ENCRYPTION_KEYS: readonly KeySpec[] = [
  { key: 'encryption.age_recipients', prop: 'recipients', type: 'array of "age1..."', default: 'none', description: 'Encrypt every backup with age (after gzip) to these X25519 public keys (`age-keygen -y key.txt` prints one). Published as `<name>.db.gz.age`.', read: recipientList },
  { key: 'encryption.age_recipients_file', prop: 'recipientsFile', type: 'path', default: 'none', description: 'Or: a file of recipients in age\'s `-R` format (one `age1...` per line, `#` comments).', read: text, localPath: true },
];

function recipientList(v: Value): string[] {
  if (!Array.isArray(v)) throw new Invalid(`expected an array of "age1..." public keys, got ${show(v)}`);
  if (v.length === 0) throw new Invalid('must name at least one recipient');
  const problems: string[] = [];
  const out: string[] = [];
  v.forEach((r, i) => {
    const problem = typeof r !== 'string' ? `expected a string, got ${show(r)}` : recipientProblem(r);
    if (problem === undefined) out.push((r as string).trim().toLowerCase());
    else problems.push(`item ${i + 1}: ${problem}`);
  });
  if (problems.length > 0) throw new Invalid(problems.join('; '));
  return out;
}

/**
 * The keys of one restinpieces-backup entry (`[vacuum.<label>]` / `[online.<label>]`): upstream's
 * (source_path, dest_path, frequency, compression, pages_per_step, sleep_interval) and ours that
 * make sense per database. Retention keys: none at all keeps everything, as upstream
 * (resolveRetention scope 'restinpieces').
 */
export const ENTRY_KEYS: readonly KeySpec[] = [
  ...CONFIG_KEYS.filter((s) => s.key === 'source_path'),
  { key: 'dest_path', prop: 'destPath', type: 'path', default: 'required', description: 'Directory receiving `<label>-<basename>-<time>.bck.gz` or `.db`, their .sha256 files and `latest-<label>-<basename>`.', read: text, localPath: true },
  { key: 'frequency', prop: 'frequencyMs', type: 'duration', default: 'none (always due)', description: 'Skip the entry while its newest backup is younger than this.', read: duration(true) },
  { key: 'compression', prop: 'compression', type: 'boolean', default: 'false', description: 'true: gzip (`.bck.gz`); false: a plain `.db` copy and the `latest-` hard link.', read: bool },
  ...CONFIG_KEYS.filter((s) => ['pages_per_step', 'sleep_interval', 'compression_level', 'verify', 'lock_timeout'].includes(s.key) || s.key.startsWith('keep_')),
];

/** Keys that would hold a secret. Rejected with an explanation instead of "unknown key". */
export const SECRET_KEYS = [
  'password',
  'passphrase',
  'private_key_passphrase',
  'key_passphrase',
  'access_key_id',
  'secret_access_key',
  'session_token',
  'aws_access_key_id',
  'aws_secret_access_key',
  'aws_session_token',
];

export const SECRET_MESSAGE =
  'not allowed: secrets do not belong in a config file; authenticate with a key file (private_key_path) or an ssh-agent for SFTP, and for S3 with the AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY environment, AWS_PROFILE or ~/.aws/credentials';
