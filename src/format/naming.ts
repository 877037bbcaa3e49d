/**
 * Names of the files in a backup directory: ours, `<dbName>-<YYYYMMDDTHHMMSS.mmmZ>-<strategy>[-<n>].db.gz`,
 * and the two layouts of the Go original that we also read (README, "The backup directory").
 *
 * Parsing is strict (a name either matches one layout exactly or is not a backup) and goes from the
 * right: the suffix `-<timestamp>-<strategy>[-<counter>].db.gz` has a fixed shape and none of its parts
 * contains `-` (a strategy starts with a letter, a counter is all digits), so everything left of it
 * is the dbName, dashes and dots included: `my-app.v2-20261125T193012.345Z-vacuum-2.db.gz` is dbName
 * `my-app.v2`, counter 2. One name has exactly one reading.
 *
 * The restinpieces-backup (2026) layout, `rib`: `<label>-<basename>-<YYYYMMDDTHHMMSSZ>.bck.gz`
 * (compressed) or `...-<YYYYMMDDTHHMMSSZ>.db` (plain), where `<basename>` is the source file name
 * with its extension (`app-app.db-20260101T000000Z.bck.gz`), and for plain snapshots a hard link
 * `latest-<label>-<basename>` to the newest. Also read from the right: the timestamp has whole
 * seconds and no dash, and ends in `Z.bck.gz` or `Z.db`, so it is neither ours (milliseconds,
 * then `-<strategy>`, `.db.gz`) nor Go upstream's (`YYYY-MM-DDTHH-MM-SSZ-<strategy>.bck.gz`) nor
 * Go v1's. Label and basename may both contain `-`, so the name does not say where one ends:
 * the dbName of these names is `<label>-<basename>`, everything left of `-<timestamp>`, and
 * listings group by it (`a-b` with `c.db` and `a` with `b-c.db` are one database to a listing;
 * the config refuses two such entries with the same dest_path). The name holds no strategy.
 */
import { BackupError, ErrorCode } from '../errors.js';
import { TEMP_MARKER } from '../fs/atomic.js';

/** Suffix of the checksum file next to each backup: `<backup>.sha256`, in `sha256sum` format. */
export const SIDECAR_SUFFIX = '.sha256';
/** The manifest: holds exactly the file name of the newest verified backup. */
export const LATEST_FILE = 'latest.txt';
/** Longest dbName we produce: keeps `<backup>.sha256.tmp-<12 hex>` well under 255 bytes. */
export const MAX_DB_NAME_LENGTH = 100;
/** Longest strategy name accepted in a file name. */
export const MAX_STRATEGY_LENGTH = 32;

/** Which writer produced a name. */
export type BackupLayout = 'ours' | 'go-v1' | 'go-upstream' | 'rib';

/** What a backup file name says: database, time, layout, whether it is encrypted. */
export interface ParsedBackupName {
  name: string;
  /**
   * The database the backup belongs to. `undefined` for Go v1 names (`db-backup-<ts>.db.gz`): that
   * writer put one unnamed database in a directory; a `dbName` filter never matches them.
   */
  dbName: string | undefined;
  /** From the name; Go layouts have whole seconds. */
  time: Date;
  /** `vacuum`, `online`...; `undefined` for Go v1 and rib names. */
  strategy: string | undefined;
  /** 1 without a counter suffix, else 2, 3... (two backups in the same millisecond). */
  counter: number;
  layout: BackupLayout;
  /**
   * The name ends in AGE_SUFFIX (`.db.gz.age`, `.bck.gz.age`): the gzip encrypted with age. Only our
   * layout and compressed rib names have encrypted forms.
   */
  encrypted: boolean;
}

const DB_CHARS = /[^A-Za-z0-9._-]/gu;
const DB_NAME = /^[A-Za-z0-9._-]+$/;
const STRATEGY = /^[a-z][a-z0-9]*$/;
const OURS = /^(?<db>[A-Za-z0-9._-]+)-(?<ts>\d{8}T\d{6}\.\d{3}Z)-(?<strategy>[a-z][a-z0-9]*)(?:-(?<counter>[1-9]\d*))?\.db\.gz$/;
const GO_TS = '(?<y>\\d{4})-(?<mo>\\d{2})-(?<d>\\d{2})T(?<h>\\d{2})-(?<mi>\\d{2})-(?<s>\\d{2})Z';
const GO_V1 = new RegExp(`^db-backup-${GO_TS}\\.db\\.gz$`);
const GO_UPSTREAM = new RegExp(`^(?<db>[A-Za-z0-9._-]+)-${GO_TS}-(?<strategy>[a-z][a-z0-9]*)\\.bck\\.gz$`);
const RIB = /^(?<db>[A-Za-z0-9._-]+)-(?<ts>\d{8}T\d{6}Z)(?<ext>\.bck\.gz|\.db)$/;
/** Prefix of the stable link to the newest plain rib snapshot: `latest-<label>-<basename>`. */
export const RIB_LATEST_PREFIX = 'latest-';
/** Suffix of a compressed rib snapshot. */
export const RIB_COMPRESSED_SUFFIX = '.bck.gz';
/** Suffix of a plain (uncompressed) rib snapshot. */
export const RIB_PLAIN_SUFFIX = '.db';
/** Appended to the name of a backup encrypted with age: `<name>.db.gz.age`, `<name>.bck.gz.age`. */
export const AGE_SUFFIX = '.age';

/**
 * The dbName for a source database path: its file name (after the last `/` or `\`, on every
 * platform, so one config gives one name everywhere) without its last extension, every character
 * outside `[A-Za-z0-9._-]` replaced by `_`. Also: leading dots and dashes are dropped (no hidden
 * backups, nothing that reads as a command-line option), `.tmp` before a dash or at the end becomes
 * `_tmp` (a backup name must never look like a temp file), at most MAX_DB_NAME_LENGTH characters,
 * and `db` when nothing is left.
 * `app.db` -> `app`, `my data.sqlite3` -> `my_data`, `/x/.hidden` -> `hidden`, `` -> `db`.
 */
export function sanitizeDbName(sourcePath: string): string {
  const base = sourcePath.split(/[/\\]/).pop() ?? '';
  // Like node's extname: a leading dot starts a hidden name, not an extension.
  const dot = base.lastIndexOf('.');
  const stem = dot > 0 && base.slice(0, dot).replace(/^\.+/, '') !== '' ? base.slice(0, dot) : base;
  const safe = stem
    .replace(DB_CHARS, '_')
    .replace(/^[.-]+/, '')
    .slice(0, MAX_DB_NAME_LENGTH)
    .replace(/\.tmp(?=-|$)/g, '_tmp');
  return safe === '' ? 'db' : safe;
}

/** Whether `dbName` is one sanitizeDbName can produce (and so safe inside a backup file name). */
export function isValidDbName(dbName: string): boolean {
  return (
    dbName.length <= MAX_DB_NAME_LENGTH &&
    DB_NAME.test(dbName) &&
    !/^[.-]/.test(dbName) &&
    !`${dbName}-`.includes(TEMP_MARKER)
  );
}

/** `YYYYMMDDTHHMMSS.mmmZ` in UTC. Throws for an invalid date or a year outside 0-9999. */
export function formatTimestamp(date: Date): string {
  const t = date.getTime();
  const y = date.getUTCFullYear();
  if (!Number.isFinite(t) || y < 0 || y > 9999) {
    throw new BackupError(ErrorCode.CONFIG, `cannot name a backup for the date ${String(date)}`);
  }
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${p(y, 4)}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}T` +
    `${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}.${p(date.getUTCMilliseconds(), 3)}Z`
  );
}

/**
 * `<dbName>-<timestamp>-<strategy>.db.gz`, or `...-<strategy>-<counter>.db.gz` for counter >= 2 (the
 * writer's answer to a clash: never overwrite). Throws ECONFIG for a dbName that sanitizeDbName would
 * not produce, a strategy outside `[a-z][a-z0-9]*`, or a counter that is not an integer >= 1.
 */
export function backupFileName(dbName: string, date: Date, strategy: string, counter = 1, options: { encrypted?: boolean } = {}): string {
  if (!isValidDbName(dbName)) {
    throw new BackupError(ErrorCode.CONFIG, `invalid database name "${dbName}" for a backup file (use sanitizeDbName)`);
  }
  if (!STRATEGY.test(strategy) || strategy.length > MAX_STRATEGY_LENGTH) {
    throw new BackupError(ErrorCode.CONFIG, `invalid strategy "${strategy}" for a backup file name`);
  }
  if (!Number.isSafeInteger(counter) || counter < 1) {
    throw new BackupError(ErrorCode.CONFIG, `invalid backup counter ${counter} (an integer >= 1)`);
  }
  return `${dbName}-${formatTimestamp(date)}-${strategy}${counter >= 2 ? `-${counter}` : ''}.db.gz${options.encrypted ? AGE_SUFFIX : ''}`;
}

/** A UTC date from its parts, or undefined when a part is out of range (no Feb 30, no hour 24). */
function utcDate(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): Date | undefined {
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC maps the years 0-99 to 1900-1999.
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, ms);
  const same =
    date.getUTCFullYear() === y &&
    date.getUTCMonth() === mo - 1 &&
    date.getUTCDate() === d &&
    date.getUTCHours() === h &&
    date.getUTCMinutes() === mi &&
    date.getUTCSeconds() === s;
  return same ? date : undefined;
}

function parseOurs(name: string): ParsedBackupName | undefined {
  const g = OURS.exec(name)?.groups;
  if (!g) return undefined;
  const { db, ts, strategy, counter } = g as Record<string, string>;
  // Strict: only what backupFileName writes (no `-1`, no leading zeros, no unsanitized dbName).
  if (!isValidDbName(db!) || strategy!.length > MAX_STRATEGY_LENGTH) return undefined;
  const n = counter === undefined ? 1 : Number(counter);
  if (counter !== undefined && (n < 2 || !Number.isSafeInteger(n))) return undefined;
  const num = (from: number, len: number) => Number(ts!.slice(from, from + len));
  const time = utcDate(num(0, 4), num(4, 2), num(6, 2), num(9, 2), num(11, 2), num(13, 2), num(16, 3));
  if (!time) return undefined;
  return { name, dbName: db!, time, strategy: strategy!, counter: n, layout: 'ours', encrypted: false };
}

/** `YYYYMMDDTHHMMSSZ` in UTC, whole seconds (the rib layout). Throws like formatTimestamp. */
export function formatRibTimestamp(date: Date): string {
  return formatTimestamp(date).replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The rib dbName of an entry, `<label>-<basename>` (basename: the source's file name, extension
 * kept). Throws ECONFIG when it is not safe in a file name by our rules (isValidDbName, with room
 * for the `-<timestamp>.bck.gz` suffix) or when its `latest-` link name would itself read as a
 * backup name (a basename ending in `-<timestamp>.db`).
 */
export function ribDbName(label: string, sourcePath: string): string {
  const basename = sourcePath.split(/[/\\]/).pop() ?? '';
  const db = `${label}-${basename}`;
  if (label === '' || basename === '' || !isValidDbName(db) || db.length > MAX_DB_NAME_LENGTH) {
    throw new BackupError(
      ErrorCode.CONFIG,
      `label "${label}" with source file "${basename}" gives the backup name "${db}": use letters, digits, '.', '_' and '-' only ` +
        `(not starting with '.' or '-', at most ${MAX_DB_NAME_LENGTH} characters together, no ".tmp-")`,
    );
  }
  if (parseBackupName(ribLatestLinkName(db)) !== undefined) {
    throw new BackupError(ErrorCode.CONFIG, `source file "${basename}" ends like a backup name: its latest- link would read as a backup`);
  }
  return db;
}

/** `<dbName>-<YYYYMMDDTHHMMSSZ>.bck.gz` (compressed) or `.db` (plain); dbName from ribDbName. */
export function ribBackupFileName(dbName: string, date: Date, compressed: boolean, options: { encrypted?: boolean } = {}): string {
  if (!isValidDbName(dbName)) {
    throw new BackupError(ErrorCode.CONFIG, `invalid database name "${dbName}" for a backup file (use ribDbName)`);
  }
  if (options.encrypted && !compressed) {
    throw new BackupError(ErrorCode.CONFIG, `a plain (uncompressed) snapshot cannot be encrypted: only .bck.gz backups have an encrypted form`);
  }
  return `${dbName}-${formatRibTimestamp(date)}${compressed ? RIB_COMPRESSED_SUFFIX : RIB_PLAIN_SUFFIX}${options.encrypted ? AGE_SUFFIX : ''}`;
}

/** `latest-<dbName>`: the hard link to the newest plain rib snapshot of dbName. */
export function ribLatestLinkName(dbName: string): string {
  return `${RIB_LATEST_PREFIX}${dbName}`;
}

/**
 * The dbName a `latest-<dbName>` link stands for, or undefined when `name` is not such a link (a
 * backup name, a temp file, a sidecar, or a dbName we would not write).
 */
export function parseRibLatestLink(name: string): string | undefined {
  if (!name.startsWith(RIB_LATEST_PREFIX) || name.includes(TEMP_MARKER) || name.endsWith(SIDECAR_SUFFIX)) return undefined;
  if (parseBackupName(name) !== undefined) return undefined;
  const db = name.slice(RIB_LATEST_PREFIX.length);
  return isValidDbName(db) ? db : undefined;
}

/** Whether a parsed backup is an uncompressed SQLite file (a plain rib snapshot) rather than gzip. */
export function isPlainBackup(p: Pick<ParsedBackupName, 'layout' | 'name'>): boolean {
  return p.layout === 'rib' && p.name.endsWith(RIB_PLAIN_SUFFIX);
}

function parseRib(name: string): ParsedBackupName | undefined {
  const g = RIB.exec(name)?.groups;
  if (!g) return undefined;
  const { db, ts } = g as Record<string, string>;
  if (!isValidDbName(db!)) return undefined;
  const num = (from: number, len: number) => Number(ts!.slice(from, from + len));
  const time = utcDate(num(0, 4), num(4, 2), num(6, 2), num(9, 2), num(11, 2), num(13, 2), 0);
  if (!time) return undefined;
  return { name, dbName: db!, time, strategy: undefined, counter: 1, layout: 'rib', encrypted: false };
}

function parseGo(name: string): ParsedBackupName | undefined {
  const v1 = GO_V1.exec(name)?.groups;
  const up = v1 ? undefined : GO_UPSTREAM.exec(name)?.groups;
  const g = (v1 ?? up) as Record<string, string> | undefined;
  if (!g) return undefined;
  const time = utcDate(+g.y!, +g.mo!, +g.d!, +g.h!, +g.mi!, +g.s!, 0);
  if (!time) return undefined;
  if (v1) return { name, dbName: undefined, time, strategy: undefined, counter: 1, layout: 'go-v1', encrypted: false };
  // Go upstream wrote the source file name without its extension, unsanitized: we read only the
  // names that are safe by our rules (a dbName we could have produced ourselves).
  if (!isValidDbName(g.db!) || g.strategy!.length > MAX_STRATEGY_LENGTH) return undefined;
  return { name, dbName: g.db!, time, strategy: g.strategy!, counter: 1, layout: 'go-upstream', encrypted: false };
}

/**
 * Reads a backup file name of any supported layout; undefined for everything else: temp files
 * (anything containing `.tmp-`), `.sha256` sidecars, latest.txt, lock files, unknown names.
 */
export function parseBackupName(name: string): ParsedBackupName | undefined {
  if (name.includes(TEMP_MARKER) || name.endsWith(SIDECAR_SUFFIX)) return undefined;
  if (name.endsWith(AGE_SUFFIX)) {
    // Only what we encrypt: our .db.gz and rib's .bck.gz, each + `.age`.
    const inner = name.slice(0, -AGE_SUFFIX.length);
    const parsed = parseOurs(inner) ?? (inner.endsWith(RIB_COMPRESSED_SUFFIX) ? parseRib(inner) : undefined);
    return parsed ? { ...parsed, name, encrypted: true } : undefined;
  }
  return parseOurs(name) ?? parseGo(name) ?? parseRib(name);
}

/** Backup order, oldest first: by time in the name, then counter, then name (a stable tie-break). */
export function compareBackups(a: ParsedBackupName, b: ParsedBackupName): number {
  return a.time.getTime() - b.time.getTime() || a.counter - b.counter || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}
