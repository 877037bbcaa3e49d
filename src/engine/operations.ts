/**
 * The engine operations, run synchronously inside the engine worker against sqlite-wasm and our VFS.
 * The worker (worker.ts) owns the module; the main thread talks to it through wasm-engine.ts.
 */
import { fstatSync, openSync, closeSync, fsyncSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { AbortError, asBackupError, BackupError, ErrorCode } from '../errors.js';
import type { NodeFsVfs } from './node-fs-vfs.js';
import type { Sqlite3 } from './sqlite-types.js';
import type {
  EngineProgress,
  IntegrityMode,
  IntegrityResult,
  SnapshotResult,
  SnapshotStrategy,
} from './types.js';
import {
  checkNewDestination,
  fileSizeOrZero,
  hasHotJournalCandidate,
  readDatabaseHeader,
} from './database-file.js';
import { fsyncDir, readFully, removeDatabaseFiles, writeAll } from '../fs/sync.js';

/**
 * Page cache for every connection we open. What costs time is the reads crossing from wasm to the
 * file system, which read-ahead (block-cache.ts) cuts, not cache misses; and wasm memory never shrinks.
 */
export const DEFAULT_CACHE_SIZE_KIB = 16 * 1024;
export const MAX_CACHE_SIZE_KIB = 64 * 1024;
/**
 * Page cache of the source (and, for VACUUM INTO, of the destination, which inherits it) while taking
 * a snapshot: every page is read once, so a big cache only costs memory, not time. integrity_check
 * re-visits pages and keeps cacheSizeKiB.
 */
export const SNAPSHOT_CACHE_SIZE_KIB = 2048;
/** VM instructions between two progress-handler calls (each is a wasm->JS crossing). */
const PROGRESS_OPS = 20_000;
const PROGRESS_INTERVAL_MS = 100;

export interface EngineContext {
  sqlite3: Sqlite3;
  vfs: NodeFsVfs;
  cacheSizeKiB: number;
}

/** How an operation talks back to its caller: cancellation, pauses and progress. */
export interface OperationHooks {
  aborted(): boolean;
  /** Sleeps, waking early on abort. */
  sleep(ms: number): void;
  progress(p: EngineProgress): void;
}

type DB = InstanceType<Sqlite3['oo1']['DB']>;

interface OpenedSource {
  db: DB;
  path: string;
  walMode: boolean;
  totalBytes: number;
  close(): void;
}

/**
 * Opens a database strictly read-only: the VFS refuses any write to it or its side files, the
 * connection never checkpoints on close, and a WAL database is read with an exclusive, heap-memory
 * wal-index (no -shm is created or read).
 */
function openReadOnly(ctx: EngineContext, path: string, cacheSizeKiB = ctx.cacheSizeKiB): OpenedSource {
  const header = readDatabaseHeader(path);
  if (hasHotJournalCandidate(path)) {
    throw new BackupError(
      ErrorCode.SOURCE_HOT_JOURNAL,
      `"${path}-journal" holds an unfinished transaction (a write is in progress, or a writer ` +
        `crashed). We never write to your database, so we cannot roll it back: retry when writes are done, ` +
        `or if no process uses the database, open it once with sqlite3 to recover it.`,
      { path },
    );
  }
  const { sqlite3, vfs } = ctx;
  const { capi } = sqlite3;
  const unprotect = vfs.protect(path);
  let db: DB | undefined;
  try {
    // Opened READWRITE (never CREATE) on purpose: attached databases inherit the main connection's
    // flags, and VACUUM INTO writes through one. The VFS still opens the source O_RDONLY and reports
    // it read-only to SQLite, which is what makes the pager treat it as such.
    db = new sqlite3.oo1.DB({ filename: path, flags: 'w', vfs: vfs.name });
    capi.sqlite3_db_config(db.pointer!, capi.SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, 0);
    // Must precede the first read: that is when SQLite picks a wal-index implementation.
    if (header.walMode) db.exec('PRAGMA locking_mode=EXCLUSIVE');
    db.exec(`PRAGMA cache_size=-${cacheSizeKiB}`);
  } catch (e) {
    db?.close();
    unprotect();
    throw e;
  }
  const opened = db;
  return {
    db: opened,
    path,
    walMode: header.walMode,
    totalBytes: header.size + fileSizeOrZero(`${path}-wal`),
    close() {
      try {
        opened.close();
      } finally {
        unprotect();
      }
    },
  };
}

/** Installs a progress handler that checks for abort and reports bytes read through the VFS. */
function watchProgress(
  ctx: EngineContext,
  db: DB,
  hooks: OperationHooks,
  base: Omit<EngineProgress, 'bytesRead'>,
  extra?: () => Partial<EngineProgress>,
): () => void {
  const { capi } = ctx.sqlite3;
  const startRead = ctx.vfs.stats.bytesRead;
  let last = 0;
  const report = (): void => {
    hooks.progress({ ...base, bytesRead: ctx.vfs.stats.bytesRead - startRead, ...extra?.() });
  };
  capi.sqlite3_progress_handler(
    db.pointer!,
    PROGRESS_OPS,
    () => {
      if (hooks.aborted()) return 1; // SQLite stops the statement with SQLITE_INTERRUPT
      const now = Date.now();
      if (now - last >= PROGRESS_INTERVAL_MS) {
        last = now;
        report();
      }
      return 0;
    },
    0,
  );
  return report;
}

/** Turns whatever SQLite or the VFS threw into a typed BackupError naming the file. */
export function toEngineError(ctx: EngineContext, e: unknown, path: string, what: string, hooks?: OperationHooks): Error {
  if (e instanceof BackupError) return e;
  if (hooks?.aborted()) return new AbortError(`${what} of "${path}" aborted`, { path });
  const io = ctx.vfs.takeLastError();
  const rc = (e as { resultCode?: number }).resultCode;
  const { capi } = ctx.sqlite3;
  const msg = (e as Error)?.message ?? String(e);
  if (io?.errno) {
    const code = io.errno === 'ENOSPC' ? 'disk full' : io.errno;
    return new BackupError(ErrorCode.IO, `${what}: ${io.op} "${io.path}" failed (${code}): ${io.message}`, {
      path: io.path,
      errno: io.errno,
      sqliteCode: rc,
      cause: e,
    });
  }
  // An fs call of ours outside the VFS (fsync of the finished file, say): EIO, not an SQLite error.
  const fs = asBackupError(e, `${what}:`);
  if (fs instanceof BackupError) return fs;
  const primary = rc === undefined ? undefined : rc & 0xff;
  if (primary === capi.SQLITE_NOTADB) {
    return new BackupError(ErrorCode.NOT_A_DATABASE, `${what}: "${path}" is not a SQLite database: ${msg}`, {
      path,
      sqliteCode: rc!,
      cause: e,
    });
  }
  return new BackupError(ErrorCode.SQLITE, `${what} of "${path}" failed: ${msg}`, {
    path,
    sqliteCode: rc,
    cause: e,
  });
}

/**
 * fsync a finished snapshot (its directory is the caller's), after marking it WAL when its source is:
 * VACUUM INTO always writes a rollback-journal header, so a WAL database would come back from a
 * restore in journal_mode=delete, and an application that never sets WAL itself would silently
 * change behaviour. Header bytes 18 and 19 (file format write/read version) = 2 is exactly what
 * `PRAGMA journal_mode=WAL` persists; a WAL database without a -wal file is a valid, checkpointed one.
 * Done on our private new file, before its integrity check and compression.
 */
function syncFile(path: string, wal: boolean): number {
  const fd = openSync(path, 'r+');
  try {
    if (wal) {
      const versions = Buffer.alloc(2);
      if (readFully(fd, versions, 18) === 2 && versions[0] === 1 && versions[1] === 1) writeAll(fd, WAL_VERSIONS, 18);
    }
    fsyncSync(fd);
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}

const WAL_VERSIONS = Buffer.from([2, 2]);

function pragmaNumber(db: DB, pragma: string): number {
  return Number(db.selectValue(`PRAGMA ${pragma}`));
}

function snapshot(
  ctx: EngineContext,
  strategy: SnapshotStrategy,
  sourceArg: string,
  destArg: string,
  hooks: OperationHooks,
  copy: (src: OpenedSource, dest: string) => { restarts?: number },
): SnapshotResult {
  const started = Date.now();
  const source = resolve(sourceArg);
  const dest = resolve(destArg);
  if (hooks.aborted()) throw new AbortError(`${strategy} snapshot of "${source}" aborted`, { path: source });
  let src: OpenedSource;
  try {
    src = openReadOnly(ctx, source, Math.min(ctx.cacheSizeKiB, SNAPSHOT_CACHE_SIZE_KIB));
  } catch (e) {
    throw toEngineError(ctx, e, source, `${strategy} snapshot`, hooks);
  }
  try {
    checkNewDestination(dest);
    if (ctx.vfs.isProtected(dest)) {
      throw new BackupError(ErrorCode.DEST_EXISTS, `destination "${dest}" is the source itself`, { path: dest });
    }
    try {
      const { restarts } = copy(src, dest);
      // The VFS buffers writes; a flush that failed when SQLite closed the file is only reported here.
      const lost = ctx.vfs.takeCloseWriteError();
      if (lost) {
        const why = lost.errno === 'ENOSPC' ? 'disk full' : (lost.errno ?? 'error');
        throw new BackupError(ErrorCode.IO, `${strategy} snapshot: write "${lost.path}" failed (${why}): ${lost.message}`, {
          path: lost.path,
          errno: lost.errno,
        });
      }
      const bytes = syncFile(dest, src.walMode);
      fsyncDir(dirname(dest));
      const pageSize = pragmaNumber(src.db, 'page_size');
      return {
        dest,
        bytes,
        pageSize,
        pageCount: Math.ceil(bytes / pageSize),
        sourceJournalMode: src.walMode ? 'wal' : 'rollback',
        durationMs: Date.now() - started,
        restarts,
      };
    } catch (e) {
      // checkNewDestination proved dest did not exist: whatever is there now is ours.
      removeDatabaseFiles(dest);
      throw toEngineError(ctx, e, source, `${strategy} snapshot`, hooks);
    }
  } finally {
    src.close();
  }
}

export function vacuumInto(ctx: EngineContext, source: string, dest: string, hooks: OperationHooks): SnapshotResult {
  return snapshot(ctx, 'vacuum', source, dest, hooks, (src, destPath) => {
    const report = watchProgress(ctx, src.db, hooks, { op: 'vacuum', totalBytes: src.totalBytes });
    try {
      // The destination is bound as a parameter: never formatted into SQL (the Go original's bug).
      src.db.exec({ sql: 'VACUUM INTO ?', bind: [destPath] });
      report();
    } finally {
      ctx.sqlite3.capi.sqlite3_progress_handler(src.db.pointer!, 0, 0, 0);
    }
    return {};
  });
}

export interface OnlineParams {
  pagesPerStep: number;
  sleepMs: number;
  maxRestarts: number;
}

export function onlineBackup(
  ctx: EngineContext,
  source: string,
  dest: string,
  params: OnlineParams,
  hooks: OperationHooks,
): SnapshotResult {
  const { sqlite3, vfs } = ctx;
  const { capi } = sqlite3;
  return snapshot(ctx, 'online', source, dest, hooks, (src, destPath) => {
    const out = new sqlite3.oo1.DB({ filename: destPath, flags: 'c', vfs: vfs.name });
    let restarts = 0;
    try {
      // A private new file: no journal needed (a failed copy is deleted), one fsync at the end.
      out.exec(`PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-${SNAPSHOT_CACHE_SIZE_KIB}`);
      const backup = capi.sqlite3_backup_init(out.pointer!, 'main', src.db.pointer!, 'main');
      if (!backup) throw new Error(capi.sqlite3_errmsg(out.pointer!));
      let finished = false;
      try {
        const startRead = vfs.stats.bytesRead;
        let prevDone = -1;
        for (;;) {
          if (hooks.aborted()) throw new AbortError(`online snapshot of "${src.path}" aborted`, { path: src.path });
          const rc = capi.sqlite3_backup_step(backup, params.pagesPerStep);
          const pageCount = capi.sqlite3_backup_pagecount(backup);
          const done = pageCount - capi.sqlite3_backup_remaining(backup);
          if (done < prevDone) {
            restarts++;
            if (restarts > params.maxRestarts) {
              throw new BackupError(
                ErrorCode.BACKUP_RESTARTS,
                `online snapshot of "${src.path}" restarted ${restarts} times because the database kept ` +
                  `changing; giving up (maxRestarts=${params.maxRestarts}). Use the vacuum strategy or back up at a quieter time.`,
                { path: src.path },
              );
            }
          }
          prevDone = done;
          hooks.progress({
            op: 'online',
            bytesRead: vfs.stats.bytesRead - startRead,
            totalBytes: src.totalBytes,
            pagesDone: done,
            pageCount,
          });
          if (rc === capi.SQLITE_DONE) break;
          if (rc !== capi.SQLITE_OK && rc !== capi.SQLITE_BUSY && rc !== capi.SQLITE_LOCKED) {
            throw Object.assign(new Error(capi.sqlite3_errstr(rc)), { resultCode: rc });
          }
          if (params.sleepMs > 0) hooks.sleep(params.sleepMs);
        }
      } finally {
        const rc = capi.sqlite3_backup_finish(backup);
        finished = rc === 0;
      }
      if (!finished) throw new Error(capi.sqlite3_errmsg(out.pointer!));
    } finally {
      out.close();
    }
    return { restarts };
  });
}

export function integrityCheck(
  ctx: EngineContext,
  pathArg: string,
  mode: IntegrityMode,
  maxErrors: number,
  hooks: OperationHooks,
): IntegrityResult {
  const started = Date.now();
  const path = resolve(pathArg);
  if (!Number.isInteger(maxErrors) || maxErrors < 1 || maxErrors > 1_000_000) {
    throw new RangeError(`maxErrors must be an integer from 1 to 1000000, got ${maxErrors}`);
  }
  if (hooks.aborted()) throw new AbortError(`integrity check of "${path}" aborted`, { path });
  const { capi } = ctx.sqlite3;
  let src: OpenedSource | undefined;
  try {
    let pageSize = 0;
    let pageCount = 0;
    let messages: string[];
    try {
      src = openReadOnly(ctx, path);
      const report = watchProgress(ctx, src.db, hooks, { op: 'integrity', totalBytes: src.totalBytes });
      pageSize = pragmaNumber(src.db, 'page_size');
      pageCount = pragmaNumber(src.db, 'page_count');
      // maxErrors is a checked integer: pragma arguments cannot be bound.
      const pragma = mode === 'quick' ? 'quick_check' : 'integrity_check';
      messages = src.db
        .exec({ sql: `PRAGMA ${pragma}(${maxErrors})`, returnValue: 'resultRows', rowMode: 'array' })
        .map((row) => String((row as unknown[])[0]));
      report();
    } catch (e) {
      if (e instanceof BackupError) throw e;
      if (hooks.aborted()) throw new AbortError(`integrity check of "${path}" aborted`, { path });
      const rc = (e as { resultCode?: number }).resultCode;
      const primary = rc === undefined ? -1 : rc & 0xff;
      // Damage bad enough that the check itself cannot run is a verdict, not an engine failure.
      if (primary !== capi.SQLITE_CORRUPT && primary !== capi.SQLITE_NOTADB) throw e;
      ctx.vfs.takeLastError();
      messages = [(e as Error).message.replace(/^SQLITE_\w+: sqlite3 result code \d+: /, '')];
    }
    const ok = messages.length === 1 && messages[0] === 'ok';
    return { ok, messages, pageSize, pageCount, durationMs: Date.now() - started };
  } catch (e) {
    throw toEngineError(ctx, e, path, 'integrity check', hooks);
  } finally {
    if (src) {
      capi.sqlite3_progress_handler(src.db.pointer!, 0, 0, 0);
      src.close();
    }
  }
}

/** Rows of the warm-up database: enough for V8 to optimize the b-tree and check code (~0.3 s). */
const WARM_UP_ROWS = 5000;

/**
 * Runs the code an integrity check spends its time in (b-tree pages, records, index lookups, the
 * check itself) on a small in-memory database, so that V8 compiles it to optimized machine code now.
 * wasm starts on V8's baseline compiler and optimizes the functions that turn out hot while they
 * run: in a fresh worker that happened during the first check, which it slowed down, and whose
 * compiler memory came on top of the check's page cache.
 */
export function warmUp(ctx: EngineContext): void {
  const db = new ctx.sqlite3.oo1.DB(':memory:');
  try {
    db.exec(
      'CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b BLOB); CREATE INDEX t_a ON t(a); ' +
        `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT ${WARM_UP_ROWS}) ` +
        'INSERT INTO t SELECT x, hex(randomblob(16)), randomblob(64) FROM c;',
    );
    db.exec('PRAGMA integrity_check');
  } finally {
    db.close();
  }
}

/** An SQL value as a query returns it: blobs as bytes, integers beyond 2^53 as bigint. */
export type SqlValue = string | number | bigint | Uint8Array | null;

/**
 * Runs one read-only statement on a database opened strictly read-only and returns its rows (arrays
 * of column values). Values are bound as parameters, never formatted into the SQL; `query_only`
 * makes SQLite itself refuse a statement that would write, on top of the VFS's refusal.
 */
export function selectRows(
  ctx: EngineContext,
  pathArg: string,
  sql: string,
  bind: readonly (string | number)[],
  hooks: OperationHooks,
): SqlValue[][] {
  const path = resolve(pathArg);
  if (hooks.aborted()) throw new AbortError(`query of "${path}" aborted`, { path });
  let src: OpenedSource | undefined;
  try {
    src = openReadOnly(ctx, path);
    src.db.exec('PRAGMA query_only=1');
    return src.db
      .exec({ sql, bind: [...bind], returnValue: 'resultRows', rowMode: 'array' })
      .map((row) => [...(row as SqlValue[])]);
  } catch (e) {
    throw toEngineError(ctx, e, path, 'query', hooks);
  } finally {
    src?.close();
  }
}
