/**
 * The engine contract: what the backup job needs from "a SQLite". One implementation today
 * (`WasmEngine`: sqlite-wasm in a worker thread over our node:fs VFS); the interface leaves room for
 * another (e.g. `node:sqlite` on Node 22+), which must pass the same shared test suite.
 */

import type { LiveCopyResult } from './live-copy.js';
import type { SqlValue } from './operations.js';

/**
 * How a snapshot is taken: `vacuum` (VACUUM INTO, compact) or `online` (SQLite's online backup
 * API).
 */
export type SnapshotStrategy = 'vacuum' | 'online';
/** How a database is checked: `full` (PRAGMA integrity_check) or `quick` (PRAGMA quick_check). */
export type IntegrityMode = 'full' | 'quick';

/** Progress of a long engine operation. Totals are estimates; `done <= total` is not guaranteed. */
export interface EngineProgress {
  op: SnapshotStrategy | 'integrity';
  /** Bytes read from the database file(s) so far. */
  bytesRead: number;
  /** Size of the database (plus -wal) being read. */
  totalBytes: number;
  /** Online backup only: pages copied and pages in the source. */
  pagesDone?: number;
  pageCount?: number;
}

/** Options every engine call takes. */
export interface EngineCallOptions {
  /** Cancels the operation; any destination file is removed. */
  signal?: AbortSignal;
  onProgress?: (progress: EngineProgress) => void;
}

/** Options of `Engine.onlineBackup` (SQLite's online backup API). */
export interface OnlineBackupOptions extends EngineCallOptions {
  /** Pages copied per sqlite3_backup_step. @default 100 */
  pagesPerStep?: number;
  /** Pause between steps, letting writers in. @default 10 */
  sleepMs?: number;
  /**
   * How often the backup may start over because the source changed, before it fails with
   * EBACKUP_RESTARTS (the Go original and node:sqlite retry forever under constant writes). @default 10
   */
  maxRestarts?: number;
}

/** Options of `Engine.integrityCheck`. */
export interface IntegrityCheckOptions extends EngineCallOptions {
  /** `full` = PRAGMA integrity_check, `quick` = PRAGMA quick_check (skips index cross-checks). @default 'full' */
  mode?: IntegrityMode;
  /** Stop after this many problems. @default 100 */
  maxErrors?: number;
}

/** How hard the validated copy of a database in use is tried (`Engine.copyLive`, snapshotLive). */
export interface LiveCopyOptions {
  signal?: AbortSignal;
  /** Copies tried before giving up with ESNAPSHOT_BUSY. @default 40 */
  maxAttempts?: number;
  /** First pause after a rejected copy; doubles after each (with jitter). @default 5 */
  initialBackoffMs?: number;
  /** Longest pause between two attempts. @default 500 */
  maxBackoffMs?: number;
  /**
   * @internal TEST ONLY: accept the first copy without validating it, so the stress test can show that it
   * detects torn copies when the protection is off. Never set it for real backups.
   */
  unsafeSkipValidation?: boolean;
}

/** The snapshot file an engine wrote. */
export interface SnapshotResult {
  /** The file written. */
  dest: string;
  /** Size of the written file in bytes. */
  bytes: number;
  pageSize: number;
  /** Pages in the written snapshot (VACUUM INTO leaves out free pages, so it can be fewer than the source's). */
  pageCount: number;
  /** 'wal' or 'delete'/'rollback' journal mode of the source when it was read. */
  sourceJournalMode: 'wal' | 'rollback';
  durationMs: number;
  /** Online backup only: how often it started over. */
  restarts?: number;
}

/** The result of `Engine.integrityCheck`. */
export interface IntegrityResult {
  /** True only when SQLite returned exactly one row, `ok`. */
  ok: boolean;
  /** The rows SQLite returned (`['ok']` when healthy), or the error that stopped the check. */
  messages: string[];
  pageSize: number;
  pageCount: number;
  durationMs: number;
}

/**
 * What the operations need from SQLite: snapshots, checks and queries of database files. WasmEngine
 * is the implementation.
 */
export interface Engine {
  /** A name for logs and test titles. */
  readonly name: string;
  /**
   * `VACUUM INTO dest` from a source opened strictly read-only. `dest` must not exist; its directory
   * must. The path is bound as an SQL parameter. On any failure or abort, `dest` is removed.
   */
  vacuumInto(source: string, dest: string, options?: EngineCallOptions): Promise<SnapshotResult>;
  /** Copies the source page by page with SQLite's online backup API into a new file `dest`. */
  onlineBackup(source: string, dest: string, options?: OnlineBackupOptions): Promise<SnapshotResult>;
  /**
   * Copies a database that other processes may be writing to into the new file `dest` (plus
   * `dest-wal` in WAL mode) and proves the copy consistent (live-copy.ts), retrying with backoff.
   * Fails with ESNAPSHOT_BUSY when writers never pause long enough, ESOURCE_HOT_JOURNAL when a crashed
   * writer left an unfinished transaction. The source is only read.
   */
  copyLive(source: string, dest: string, options?: LiveCopyOptions): Promise<LiveCopyResult>;
  /**
   * Runs one read-only statement (values bound as parameters) on a database opened strictly
   * read-only, and returns its rows as arrays of column values (blobs as Uint8Array). Give it a
   * private copy (copyLive) of a database in use: reading live files directly can see torn pages.
   */
  selectRows(path: string, sql: string, bind?: readonly (string | number)[], options?: EngineCallOptions): Promise<SqlValue[][]>;
  /** Runs PRAGMA integrity_check / quick_check on a database, opened strictly read-only. */
  integrityCheck(path: string, options?: IntegrityCheckOptions): Promise<IntegrityResult>;
  /**
   * Starts the engine now (a worker thread, SQLite's wasm) rather than on the first call, so that a
   * caller who will need it after other work (a download, a gunzip) does not wait for it then. A
   * start-up failure is reported by the next call, so the result may be ignored. Optional.
   */
  warmUp?(): Promise<void>;
  /** Stops the engine (its worker). Idempotent; pending calls fail with EABORTED. */
  close(): Promise<void>;
}
