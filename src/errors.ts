/**
 * Typed errors shared by every layer. Each error has a stable `code` (for programs), a message (for
 * people), the `path` or `host` it concerns, and the original error as `cause`.
 *
 * Messages carry no prefix naming a layer or module (no `[api]`, `[sftp]`): the `code` says what kind
 * of failure it is, and `path`/`host` which file or server, so the message says what failed in words
 * a user acts on and names that file or server. A message that wraps another failure in a context the
 * inner error cannot know (which entry of a many-database config) starts with that context and `: `.
 * The CLI prints `sqlite-backup: <message> [<code>]`.
 */

/**
 * The stable values of `BackupError.code`, by name: test `e.code === ErrorCode.CONFIG`, or
 * `isBackupError(e, ErrorCode.CONFIG)`. The values (`'ECONFIG'`) are what the CLI's `--json` prints.
 */
export const ErrorCode = {
  // engine
  SOURCE_NOT_FOUND: 'ESOURCE_NOT_FOUND',
  SOURCE_HOT_JOURNAL: 'ESOURCE_HOT_JOURNAL',
  NOT_A_DATABASE: 'ENOTADB',
  DEST_EXISTS: 'EDEST_EXISTS',
  DEST_DIR: 'EDEST_DIR',
  SQLITE: 'ESQLITE',
  /**
   * A file system call failed: `errno` names why (EACCES/EPERM "permission denied", ENOSPC "disk
   * full", EROFS, EIO...) and `path` the file.
   */
  IO: 'EIO',
  BACKUP_RESTARTS: 'EBACKUP_RESTARTS',
  ABORTED: 'EABORTED',
  ENGINE_CRASHED: 'EENGINE_CRASHED',
  /** SQLite's WebAssembly could not be loaded (a bundler or package moved sqlite3.wasm: pass wasmPath). */
  ENGINE_LOAD: 'EENGINE_LOAD',
  // compress
  GZIP_NOT_GZIP: 'EGZIP_NOT_GZIP',
  GZIP_TRUNCATED: 'EGZIP_TRUNCATED',
  GZIP_CRC: 'EGZIP_CRC',
  GZIP_SIZE: 'EGZIP_SIZE',
  GZIP_TRAILING: 'EGZIP_TRAILING',
  GZIP_CORRUPT: 'EGZIP_CORRUPT',
  /** A compression worker thread died or could not start. */
  COMPRESS_WORKER: 'ECOMPRESS_WORKER',
  // live snapshots
  /** Writers kept changing the source: no copy could be validated within the retry budget. */
  SNAPSHOT_BUSY: 'ESNAPSHOT_BUSY',
  // api
  /** The config file is missing, unparsable, or has unknown / missing / wrongly typed keys. */
  CONFIG: 'ECONFIG',
  /** Another backup of the same database holds the lock. */
  LOCKED: 'ELOCKED',
  /** A file does not match its .sha256 sidecar (or the sidecar is malformed). */
  CHECKSUM: 'ECHECKSUM',
  /** PRAGMA integrity_check did not return exactly `ok`. */
  INTEGRITY: 'EINTEGRITY',
  /** No backup file where one was expected (missing file, empty directory, latest.txt names nothing). */
  BACKUP_NOT_FOUND: 'EBACKUP_NOT_FOUND',
  // transport
  /** The server's host key is unknown, changed, revoked, or does not match the pinned fingerprint. */
  HOST_KEY: 'EHOST_KEY',
  /** Could not connect, the connection timed out, or it dropped during a transfer. */
  CONNECT: 'ECONNECT',
  /** The server refused every authentication method we offered (key, agent), or S3 refused the credentials. */
  AUTH: 'EAUTH',
  /** The backup was published locally but at least one [[push]] destination failed (see the error's `outcomes`). */
  PUSH: 'EPUSH',
  /**
   * An age-encrypted backup could not be decrypted: no identity matches its recipients, or its
   * content fails age's authentication (damaged or tampered with).
   */
  DECRYPT: 'EDECRYPT',
  /** A run of a many-entry config finished with at least one entry failed (see the error's `outcomes`). */
  ENTRIES: 'EENTRIES',
} as const;

/** One of the values of ErrorCode: the type of `BackupError.code`. */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** What a BackupError concerns, besides its code and message. */
export interface BackupErrorDetails {
  /** File the error concerns, if any. */
  path?: string;
  /** Remote host the error concerns, if any. */
  host?: string;
  /** OS errno name (ENOENT, ENOSPC...) when an fs call failed. */
  errno?: string;
  /** SQLite (extended) result code when SQLite reported the failure. */
  sqliteCode?: number;
  /** ELOCKED: the process holding the lock (on `host`). */
  pid?: number;
  cause?: unknown;
}

/**
 * The error every operation rejects with: a stable `code` (one of ErrorCode) for programs, a message
 * that names the layer and the file or host for people, the `path` / `host` / `errno` / `sqliteCode`
 * it concerns, and the original error as `cause`.
 */
export class BackupError extends Error {
  readonly code: ErrorCodeValue;
  readonly path?: string;
  readonly host?: string;
  readonly errno?: string;
  readonly sqliteCode?: number;
  readonly pid?: number;

  constructor(code: ErrorCodeValue, message: string, details: BackupErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'BackupError';
    this.code = code;
    if (details.path !== undefined) this.path = details.path;
    if (details.host !== undefined) this.host = details.host;
    if (details.errno !== undefined) this.errno = details.errno;
    if (details.sqliteCode !== undefined) this.sqliteCode = details.sqliteCode;
    if (details.pid !== undefined) this.pid = details.pid;
  }
}

/** An operation was cancelled through its AbortSignal. */
export class AbortError extends BackupError {
  constructor(message = 'operation aborted', details: BackupErrorDetails = {}) {
    super(ErrorCode.ABORTED, message, details);
    this.name = 'AbortError';
  }
}

/** Whether `e` is a BackupError (with `code`: one with that code); narrows its type. */
export function isBackupError(e: unknown, code?: ErrorCodeValue): e is BackupError {
  return e instanceof BackupError && (code === undefined || e.code === code);
}

/**
 * The EIO for a failed fs call, worded the same everywhere: `<what> "<path>" failed (<why>)`, where
 * why is "disk full" for ENOSPC (what a user must do something about), else the errno name or the
 * message. A BackupError passes through unchanged.
 */
export function fsError(what: string, path: string, e: unknown): BackupError {
  if (e instanceof BackupError) return e;
  const errno = errnoOf(e);
  const why = errno ? fsReason(errno) : ((e as Error)?.message ?? String(e));
  return new BackupError(ErrorCode.IO, `${what} "${path}" failed (${why})`, { path, cause: e, errno });
}

/** `disk full (ENOSPC)`, `permission denied (EACCES)`, else the errno name: what a person acts on. */
export function fsReason(errno: string): string {
  if (errno === 'ENOSPC') return 'disk full';
  if (errno === 'EACCES' || errno === 'EPERM') return `permission denied (${errno})`;
  if (errno === 'EROFS') return `read-only file system (${errno})`;
  return errno;
}

/** The errno name (`EACCES`) of a failed fs call; never Node's negative number. */
export function errnoOf(e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

/**
 * A raw error of a Node fs call (it has an errno name and a syscall) as the EIO every layer throws,
 * named by its syscall and path, after `context` when given (`backup of [vacuum.app]:`); anything
 * else is returned unchanged. The net under the public functions: a call nobody wrapped still
 * reaches the caller typed.
 */
export function asBackupError(e: unknown, context?: string): unknown {
  if (e instanceof BackupError) return e;
  const err = e as NodeJS.ErrnoException | undefined;
  const errno = errnoOf(e);
  if (!errno || typeof err?.syscall !== 'string') return e;
  const what = context ? `${context} ${err.syscall}` : err.syscall;
  if (typeof err.path === 'string') return fsError(what, err.path, e);
  return new BackupError(ErrorCode.IO, `${what} failed (${fsReason(errno)})`, { errno, cause: e });
}

/** Throws an AbortError if the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what = 'operation'): void {
  if (signal?.aborted) throw new AbortError(`${what} aborted`, { cause: signal.reason });
}
