/**
 * Names of the files in a backup directory: ours, `<dbName>-<YYYYMMDDTHHMMSS.mmmZ>-<strategy>[-<n>].db.gz`,
 * and the two layouts of the Go original that we also read (see DESIGN.md "On-disk format").
 *
 * Parsing is strict (a name either matches one layout exactly or is not a backup) and goes from the
 * right: the suffix `-<timestamp>-<strategy>[-<counter>].db.gz` has a fixed shape and none of its parts
 * contains `-` (a strategy starts with a letter, a counter is all digits), so everything left of it
 * is the dbName, dashes and dots included: `my-app.v2-20261125T193012.345Z-vacuum-2.db.gz` is dbName
 * `my-app.v2`, counter 2. One name has exactly one reading.
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
export type BackupLayout = 'ours' | 'go-v1' | 'go-upstream';

export interface ParsedBackupName {
  name: string;
  /**
   * The database the backup belongs to. `undefined` for Go v1 names (`db-backup-<ts>.db.gz`): that
   * writer put one unnamed database in a directory; a `dbName` filter never matches them.
   */
  dbName: string | undefined;
  /** From the name; Go layouts have whole seconds. */
  time: Date;
  /** `vacuum`, `online`...; `undefined` for Go v1 names. */
  strategy: string | undefined;
  /** 1 without a counter suffix, else 2, 3... (two backups in the same millisecond). */
  counter: number;
  layout: BackupLayout;
}

const DB_CHARS = /[^A-Za-z0-9._-]/gu;
const DB_NAME = /^[A-Za-z0-9._-]+$/;
const STRATEGY = /^[a-z][a-z0-9]*$/;
const OURS = /^(?<db>[A-Za-z0-9._-]+)-(?<ts>\d{8}T\d{6}\.\d{3}Z)-(?<strategy>[a-z][a-z0-9]*)(?:-(?<counter>[1-9]\d*))?\.db\.gz$/;
const GO_TS = '(?<y>\\d{4})-(?<mo>\\d{2})-(?<d>\\d{2})T(?<h>\\d{2})-(?<mi>\\d{2})-(?<s>\\d{2})Z';
const GO_V1 = new RegExp(`^db-backup-${GO_TS}\\.db\\.gz$`);
const GO_UPSTREAM = new RegExp(`^(?<db>[A-Za-z0-9._-]+)-${GO_TS}-(?<strategy>[a-z][a-z0-9]*)\\.bck\\.gz$`);

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
    throw new BackupError(ErrorCode.CONFIG, `[api] cannot name a backup for the date ${String(date)}`);
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
export function backupFileName(dbName: string, date: Date, strategy: string, counter = 1): string {
  if (!isValidDbName(dbName)) {
    throw new BackupError(ErrorCode.CONFIG, `[api] invalid database name "${dbName}" for a backup file (use sanitizeDbName)`);
  }
  if (!STRATEGY.test(strategy) || strategy.length > MAX_STRATEGY_LENGTH) {
    throw new BackupError(ErrorCode.CONFIG, `[api] invalid strategy "${strategy}" for a backup file name`);
  }
  if (!Number.isSafeInteger(counter) || counter < 1) {
    throw new BackupError(ErrorCode.CONFIG, `[api] invalid backup counter ${counter} (an integer >= 1)`);
  }
  return `${dbName}-${formatTimestamp(date)}-${strategy}${counter >= 2 ? `-${counter}` : ''}.db.gz`;
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
  return { name, dbName: db!, time, strategy: strategy!, counter: n, layout: 'ours' };
}

function parseGo(name: string): ParsedBackupName | undefined {
  const v1 = GO_V1.exec(name)?.groups;
  const up = v1 ? undefined : GO_UPSTREAM.exec(name)?.groups;
  const g = (v1 ?? up) as Record<string, string> | undefined;
  if (!g) return undefined;
  const time = utcDate(+g.y!, +g.mo!, +g.d!, +g.h!, +g.mi!, +g.s!, 0);
  if (!time) return undefined;
  if (v1) return { name, dbName: undefined, time, strategy: undefined, counter: 1, layout: 'go-v1' };
  // Go upstream wrote the source file name without its extension, unsanitized: we read only the
  // names that are safe by our rules (a dbName we could have produced ourselves).
  if (!isValidDbName(g.db!) || g.strategy!.length > MAX_STRATEGY_LENGTH) return undefined;
  return { name, dbName: g.db!, time, strategy: g.strategy!, counter: 1, layout: 'go-upstream' };
}

/**
 * Reads a backup file name of any supported layout; undefined for everything else: temp files
 * (anything containing `.tmp-`), `.sha256` sidecars, latest.txt, lock files, unknown names.
 */
export function parseBackupName(name: string): ParsedBackupName | undefined {
  if (name.includes(TEMP_MARKER) || name.endsWith(SIDECAR_SUFFIX)) return undefined;
  return parseOurs(name) ?? parseGo(name);
}

/** Backup order, oldest first: by time in the name, then counter, then name (a stable tie-break). */
export function compareBackups(a: ParsedBackupName, b: ParsedBackupName): number {
  return a.time.getTime() - b.time.getTime() || a.counter - b.counter || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}
