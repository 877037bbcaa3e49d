/**
 * A consistent private copy of a database that other processes may be writing to.
 *
 * Node has no fcntl locks, so we cannot take SQLite's locks and native writers do not see us. Reading
 * the live files directly gives torn snapshots. Instead we copy the files and then prove, from what
 * the files looked like before and after the copy, that no commit could have torn it. If the proof
 * fails we throw the copy away, back off and try again, a bounded number of times.
 *
 * WHY THIS IS SOUND (the copy is accepted only in these three cases)
 *
 * WAL mode, `-wal` present (its 32-byte header H seen before the copy):
 *   Order: read H -> copy the db file -> copy the `-wal` -> read the header again, accept iff == H.
 *   Once in WAL mode, the db file is only written by checkpoints, and a checkpoint only writes pages
 *   it takes from frames of the current `-wal`. Frames are only ever appended; the file is rewritten
 *   from the start only after a "restart", which writes a new header (checkpoint sequence + 1, salt-1
 *   + 1, a fresh random salt-2), and a TRUNCATE checkpoint empties it. An unchanged header therefore
 *   means every frame that was in the `-wal` when we started copying the db is still in it, unchanged,
 *   when we copy the `-wal` after the db. Any db page a checkpoint changed under our db copy came from
 *   such a frame, so the copied `-wal` has that page at the same or a newer version, and SQLite reading
 *   our copy takes the page from the `-wal`. Pages no frame touched are the same in db and copy.
 *   Frames still being appended while we copy can be torn in the copy: SQLite's own recovery drops
 *   them (salts and the cumulative checksum chain), exactly as after a power cut, and the copy ends at
 *   the last complete commit. Nothing here depends on locks or on `-shm`, so it also holds for writers
 *   in `locking_mode=EXCLUSIVE`.
 *
 * WAL mode, no `-wal` (or shorter than a header) before:
 *   The db file then holds every commit. It can only change through a checkpoint, which needs a `-wal`
 *   that could be truncated or deleted again before we look. So we also require the db file's size,
 *   inode and mtime unchanged and no `-wal` header after the copy, and - because file times are kept
 *   at a coarse clock tick - a db mtime at least RACY_MARGIN_MS older than the moment we started (the
 *   "racily clean" rule of git's index): a write during the copy then necessarily moves the mtime.
 *
 * Rollback mode (DELETE, TRUNCATE, PERSIST journals):
 *   Order: read the db header (change counter C) -> check the journal -> copy -> check the journal ->
 *   read the header again (this order, on both sides, is what the argument needs). Accept iff no hot journal (magic d9d505f920a163d7) was seen either time and
 *   C, size, inode and mtime are unchanged. A writer writes db pages only while its journal holds the
 *   magic (it is synced before the first db write and cleared or deleted after the last), and every
 *   commit rewrites page 1 with C + 1. A commit overlapping the copy either was under way at the first
 *   journal check, or was still under way at the second, or wrote page 1 in between - then C moved.
 *
 * Limits (README): rollback-mode writers with `locking_mode=EXCLUSIVE` bump C once per lock, and
 * `journal_mode=OFF|MEMORY` writers leave no journal: only the size/mtime comparison can catch them.
 * A journal that stays hot across every attempt is a crashed writer's: ESOURCE_HOT_JOURNAL.
 *
 * The loop is synchronous and runs in the engine worker (WasmEngine.copyLive): the window between the
 * two observations is then a few plain syscalls long instead of dozens of thread-pool round trips,
 * which is what lets a copy fit between the commits of a busy writer, and the caller's event loop
 * stays free while a large file is copied.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { AbortError, BackupError, ErrorCode } from '../errors.js';
import { unlinkQuiet, writeAll } from '../fs/sync.js';
import { observeLiveState, sameIdentity, type LiveState } from './live-state.js';

export const DEFAULT_COPY_ATTEMPTS = 40;
export const DEFAULT_INITIAL_BACKOFF_MS = 5;
export const DEFAULT_MAX_BACKOFF_MS = 500;
/** Larger than any filesystem's timestamp tick (Linux: one jiffy, at most 10 ms). */
export const RACY_MARGIN_MS = 250;
const COPY_CHUNK = 1 << 20;

/** Why a copy of a database in use was rejected (and tried again). */
export type RejectReason =
  | 'hot-journal'
  | 'change-counter'
  | 'db-changed'
  | 'db-recently-written'
  | 'wal-restarted'
  | 'wal-appeared'
  | 'mode-changed';

export interface LiveCopyParams {
  /** Copies tried before giving up with ESNAPSHOT_BUSY. @default 40 */
  maxAttempts: number;
  /** First pause after a rejected copy; doubles each time (with jitter). @default 5 */
  initialBackoffMs: number;
  /** @default 500 */
  maxBackoffMs: number;
  /**
   * TEST ONLY: accept the first copy without validating it. Exists so the stress test can show that
   * it detects torn copies when the protection is off. Never set it for real backups.
   */
  unsafeSkipValidation: boolean;
}

/** The validated private copy of a database in use, and how it was obtained. */
export interface LiveCopyResult {
  /** The private copy (its `-wal`, in WAL mode, is next to it). */
  path: string;
  journalMode: 'wal' | 'rollback';
  attempts: number;
  /** Why earlier copies were thrown away, by reason. */
  rejected: Partial<Record<RejectReason, number>>;
  /** Bytes copied in the accepted attempt: db and `-wal`. */
  dbBytes: number;
  walBytes: number;
  durationMs: number;
}

/** How the copy loop waits and learns about cancellation (the engine worker's OperationHooks). */
export interface CopyHooks {
  aborted(): boolean;
  /** Sleeps, waking early on abort. */
  sleep(ms: number): void;
}

type Verdict = { ok: true } | { ok: false; reason: RejectReason };

/** The acceptance rule of the comment above, as a pure function of the two observations. */
export function judgeCopy(before: LiveState, after: LiveState, walCopied: boolean): Verdict {
  if (before.headerWal !== after.headerWal) return { ok: false, reason: 'mode-changed' };
  if (before.journalHot || after.journalHot) return { ok: false, reason: 'hot-journal' };
  if (walCopied) {
    if (!after.walHeader || !before.walHeader!.equals(after.walHeader)) return { ok: false, reason: 'wal-restarted' };
    return { ok: true };
  }
  if (after.walHeader) return { ok: false, reason: 'wal-appeared' };
  if (!sameIdentity(before.db, after.db)) return { ok: false, reason: 'db-changed' };
  if (before.headerWal) {
    if (before.db.mtimeNs > before.observedAtNs - BigInt(RACY_MARGIN_MS) * 1_000_000n) {
      return { ok: false, reason: 'db-recently-written' };
    }
    return { ok: true };
  }
  if (before.changeCounter !== after.changeCounter) return { ok: false, reason: 'change-counter' };
  return { ok: true };
}

/**
 * Copies the live database `source` to `dest` (which must not exist; created 0600, with `dest-wal` in
 * WAL mode) and validates the copy, retrying with backoff. The source is only ever opened read-only.
 * On failure or abort nothing is left at `dest`.
 */
export function copyLiveDatabase(source: string, dest: string, params: LiveCopyParams, hooks: CopyHooks): LiveCopyResult {
  const started = Date.now();
  const rejected: Partial<Record<RejectReason, number>> = {};
  const hotJournals: LiveState['journal'][] = [];
  const buffer = Buffer.allocUnsafe(COPY_CHUNK);
  // Only files this call created are ever removed: never a destination that was there before.
  const owned = new Set<string>();
  let backoff = params.initialBackoffMs;
  try {
    for (let attempt = 1; ; attempt++) {
      checkAbort(hooks, source);
      const before = observeLiveState(source, 'before');
      const walCopied = before.walHeader !== undefined;
      let verdict: Verdict;
      let dbBytes = 0;
      let walBytes = 0;
      if (before.journalHot && !params.unsafeSkipValidation) {
        verdict = { ok: false, reason: 'hot-journal' };
      } else {
        dbBytes = copyFile(source, dest, buffer, hooks, owned);
        if (walCopied) walBytes = copyFile(`${source}-wal`, `${dest}-wal`, buffer, hooks, owned, { mayVanish: true });
        if (walBytes < 0) verdict = { ok: false, reason: 'wal-restarted' }; // deleted since we read its header
        else verdict = params.unsafeSkipValidation ? { ok: true } : judgeCopy(before, observeLiveState(source, 'after'), walCopied);
      }
      if (verdict.ok) {
        return {
          path: dest,
          journalMode: before.headerWal || walCopied ? 'wal' : 'rollback',
          attempts: attempt,
          rejected,
          dbBytes,
          walBytes,
          durationMs: Date.now() - started,
        };
      }
      rejected[verdict.reason] = (rejected[verdict.reason] ?? 0) + 1;
      if (verdict.reason === 'hot-journal') hotJournals.push(before.journal);
      removeOwned(owned);
      if (attempt >= params.maxAttempts) throw giveUp(source, attempt, rejected, hotJournals, Date.now() - started);
      hooks.sleep(backoff * (0.5 + Math.random() / 2));
      backoff = Math.min(backoff * 2, params.maxBackoffMs);
    }
  } catch (e) {
    removeOwned(owned);
    throw e;
  }
}

function giveUp(
  source: string,
  attempts: number,
  rejected: Partial<Record<RejectReason, number>>,
  hotJournals: LiveState['journal'][],
  elapsedMs: number,
): BackupError {
  // The same hot journal, unchanged, on every attempt: no writer is finishing it.
  const stuck = hotJournals.length === attempts && hotJournals.every((j) => sameIdentity(j, hotJournals[0]));
  if (stuck) {
    return new BackupError(
      ErrorCode.SOURCE_HOT_JOURNAL,
      `"${source}-journal" held an unfinished transaction through ${attempts} attempts over ${elapsedMs} ms: ` +
        `a writer probably crashed. We never write to your database, so we cannot roll it back: if no process ` +
        `uses the database, open it once with sqlite3 (e.g. sqlite3 "${source}" "PRAGMA quick_check") to recover it.`,
      { path: source },
    );
  }
  const why = Object.entries(rejected)
    .map(([reason, n]) => `${reason} x${n}`)
    .join(', ');
  return new BackupError(
    ErrorCode.SNAPSHOT_BUSY,
    `"${source}" kept changing while it was copied: no consistent copy in ${attempts} attempts over ` +
      `${elapsedMs} ms (${why}). Retry when writes pause, or allow more attempts.`,
    { path: source },
  );
}

/** Copies `from` into a new file `to` (0600) until EOF, returning the bytes copied (-1: `from` is gone). */
function copyFile(
  from: string,
  to: string,
  buffer: Buffer,
  hooks: CopyHooks,
  owned: Set<string>,
  { mayVanish = false } = {},
): number {
  let input: number;
  try {
    input = openSync(from, 'r');
  } catch (e) {
    if (mayVanish && (e as NodeJS.ErrnoException).code === 'ENOENT') return -1;
    throw ioError(e, 'open', from);
  }
  let output: number | undefined;
  try {
    try {
      output = openSync(to, 'wx', 0o600);
      owned.add(to);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new BackupError(ErrorCode.DEST_EXISTS, `"${to}" already exists; refusing to overwrite it`, { path: to });
      }
      throw ioError(e, 'create', to);
    }
    let position = 0;
    for (;;) {
      checkAbort(hooks, from);
      let n: number;
      try {
        n = readSync(input, buffer, 0, buffer.length, position);
      } catch (e) {
        throw ioError(e, 'read', from);
      }
      if (n === 0) return position;
      try {
        writeAll(output, buffer.subarray(0, n), position);
      } catch (e) {
        throw ioError(e, 'write', to);
      }
      position += n;
    }
  } finally {
    closeSync(input);
    if (output !== undefined) closeSync(output);
  }
}

function removeOwned(owned: Set<string>): void {
  for (const path of owned) unlinkQuiet(path);
  owned.clear();
}

function ioError(e: unknown, op: string, path: string): BackupError {
  if (e instanceof BackupError) return e;
  const errno = (e as NodeJS.ErrnoException).code;
  if (errno === 'ENOENT' && op === 'open') {
    return new BackupError(ErrorCode.SOURCE_NOT_FOUND, `"${path}" disappeared while it was copied`, { path, errno, cause: e });
  }
  const why = errno === 'ENOSPC' ? 'disk full' : (errno ?? 'error');
  return new BackupError(ErrorCode.IO, `${op} "${path}" failed (${why}): ${(e as Error).message}`, {
    path,
    cause: e,
    errno,
  });
}

function checkAbort(hooks: CopyHooks, source: string): void {
  if (hooks.aborted()) throw new AbortError(`copy of "${source}" aborted`, { path: source });
}

/** A fresh name for a private copy next to `dest`: `<dest>.source.tmp-<hex>`. */
export function privateCopyPath(dest: string): string {
  return `${dest}.source.tmp-${randomBytes(6).toString('hex')}`;
}
