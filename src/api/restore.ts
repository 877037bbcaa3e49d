/**
 * restore: puts a backup (`.db`, gzip, or age-encrypted gzip) in place as a live database, safely.
 *
 * The application using the database MUST be stopped during a restore: we move its files while it
 * would have them open, and SQLite offers no way to swap a database under a running connection.
 *
 * Order of work (nothing is touched at the target until the new file is known good):
 *  1. refuse an existing target without `force` (EDEST_EXISTS), before any work;
 *  2. check the `.sha256` sidecar when present (ECHECKSUM);
 *  3. decompress (decrypt first when encrypted: EDECRYPT for a key that does not fit or altered data)
 *     / copy to `<target>.tmp-<random>` (0600, fsynced), `integrity_check` it (EINTEGRITY);
 *  4. move the old database and its `-wal` / `-journal` aside to `<target>.before-restore-<UTC ts>`
 *     (+ `-wal` / `-journal`: its uncommitted-to-main-file commits live there, never destroyed), and
 *     delete `<target>-shm`. A stale `-wal` next to a restored file would be replayed into it by the
 *     next open (SQLite applies any `-wal` it finds), silently merging old pages into the restore;
 *  5. give the temp file the replaced database's owner, group and mode (so the application can still
 *     open it), rename it into place and fsync the directory; a restore to a new path stays 0600;
 *  6. remove the oldest `<target>.before-restore-*` copies beyond `keepBeforeRestore` (none by default).
 * The temp file is removed on every failure or abort. If the final rename fails, the moved files
 * are put back. A crash between the moves in step 4 can leave the old database and its `-wal` under
 * different names (db moved, `-wal` not yet): rerunning the restore moves the stray `-wal` aside too.
 */
import { chmod, chown, open, readdir, rename, rm, lstat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { WasmEngine, type Engine, type IntegrityMode } from '../engine/index.js';
import { fsyncDir } from '../fs/sync.js';
import { BackupError, ErrorCode, fsError, isBackupError, throwIfAborted } from '../errors.js';
import { releaseGarbage } from '../memory.js';
import { fsyncFile, tempPathFor } from '../fs/atomic.js';
import { resolveAgeIdentity, type AgeIdentityOption } from '../crypto/identity-option.js';
import { missingIdentity } from './decode.js';
import { requireFreeSpace, type FreeSpaceProbe } from '../fs/free-space.js';
import { decodedSizeAtLeast } from './restore-space.js';
import { resolveBackupPath, type ChosenBy } from './listing.js';
import { checkSidecar, compareSidecar, sha256File, sidecarOf } from '../format/sidecar.js';
import {
  armoredMessage,
  detectFormat,
  decodeInto,
  integrityProgress,
  isContentError,
  notGzipInsideMessage,
  type CheckProgress,
} from './verify.js';

/** Options of restore. */
export interface RestoreOptions {
  /** Replace an existing target (it is moved aside, not deleted). @default false */
  force?: boolean;
  /** When the backup path is a directory: restore the newest backup of this database (see VerifyOptions.dbName). */
  dbName?: string;
  /** Engine for the integrity check (not closed by us). @default a WasmEngine created and closed per call */
  engine?: Engine;
  signal?: AbortSignal;
  /** Integrity check of the restored file before it goes into place. @default 'full' */
  mode?: IntegrityMode;
  /** Called during the long steps: `gunzip` (or `decrypt`) and `integrity_check`. */
  onProgress?: (progress: CheckProgress) => void;
  /**
   * The age identity file (a path, as `--age-identity` takes; read only when the backup is
   * encrypted) or identities already loaded (loadAgeIdentities). An encrypted backup without it is
   * ECONFIG before anything is written.
   */
  ageIdentity?: AgeIdentityOption;
  /**
   * Where `compress-worker.js` is, when a bundler or an Electron package moved it away from this
   * module. Unused since decompression runs on Node's zlib (no worker of ours); kept so that
   * existing callers still type-check. @default next to the compress module
   */
  compressWorkerUrl?: URL | string;
  /**
   * How many `<target>.before-restore-<time>` copies (each with its -wal/-journal) to keep after a
   * restore that moved a database aside, the one just made included; older ones are deleted once the
   * restore is in place. A manual restore keeps them all by default: the oldest is often the only
   * copy of the database as it was before a series of trial restores. @default Infinity
   */
  keepBeforeRestore?: number;
  /** @internal Free bytes on the file system of a directory (tests inject a full disk). @default statfs */
  freeSpace?: FreeSpaceProbe;
}

/** What restore installed, and what it moved aside. */
export interface RestoreResult {
  /** Absolute path of the restored database. */
  target: string;
  /** Absolute path of the backup file restored (the one chosen, when a directory was given). */
  backup: string;
  /** When a backup directory was given: whether latest.txt chose the backup, or the newest name (no usable latest.txt). */
  chosenBy?: ChosenBy;
  /** Size of the restored database. */
  bytes: number;
  checksum: 'ok' | 'absent';
  /** The backup was age-encrypted (decrypted with the identity given). */
  encrypted: boolean;
  /** Files moved out of the way (the previous database and its -wal/-journal, or stale ones). */
  movedAside: string[];
  /**
   * Files deleted: a `-shm` (a cache SQLite rebuilds, holding no data), and older
   * `<target>.before-restore-*` copies beyond `keepBeforeRestore`.
   */
  removed: string[];
  /**
   * Things the operator must know, e.g. the restored file could not be given the replaced database's
   * owner (a non-root user cannot chown): the application may no longer be able to open it.
   */
  warnings: string[];
}

/** Infix of moved-aside files: `<target>.before-restore-<UTC ts>`. */
export const BEFORE_RESTORE_MARKER = '.before-restore-';
const COPY_CHUNK = 1024 * 1024;

/**
 * Restores `backupPath` to `targetPath`, checked before it is placed: the backup (`.db`, gzip, or
 * age-encrypted gzip) is decoded next to the target, must pass `integrity_check`, and only then
 * replaces the target (moved aside with `force`, else EDEST_EXISTS). `backupPath` may be a backup
 * directory: then the backup its latest.txt names, or its newest backup by name when there is no
 * latest.txt (`chosenBy: 'newest'` in the result); `dbName` picks the database when the directory
 * holds several. Encrypted backups need `ageIdentity`.
 */
export async function restore(backupPath: string, targetPath: string, options: RestoreOptions = {}): Promise<RestoreResult> {
  const { signal } = options;
  const target = resolve(targetPath);
  throwIfAborted(signal, `restore to "${target}"`);
  checkKeep(options.keepBeforeRestore);
  await checkTarget(target, options.force ?? false);
  const { file: backupFile, chosenBy } = await resolveBackupPath(resolve(backupPath), { dbName: options.dbName });

  const { format, size: backupSize } = await detectFormat(backupFile);
  if (format === 'age-armored') throw new BackupError(ErrorCode.DECRYPT, armoredMessage(backupFile), { path: backupFile });
  if (format !== 'gzip' && format !== 'sqlite' && format !== 'age') {
    throw new BackupError(ErrorCode.NOT_A_DATABASE, `"${backupFile}" is neither a gzip file, an age file nor a SQLite database`, {
      path: backupFile,
    });
  }
  // Before anything is written: an encrypted backup cannot be restored without its identity.
  const identities = format === 'age' ? await resolveAgeIdentity(options.ageIdentity) : undefined;
  if (format === 'age' && identities === undefined) throw missingIdentity(backupFile);
  const decoded = format !== 'sqlite';
  // A gzip or encrypted backup is hashed by its decoder on the way through: its sidecar is compared
  // with that hash (one read of the file, not two). A database file is hashed here.
  const sidecar = decoded ? await sidecarOf(backupFile) : undefined;
  const checksum = decoded ? (sidecar ? 'ok' : 'absent') : await checkSidecar(backupFile, { signal });
  // The decoded database goes next to the target before the old one is moved aside (a rename: no
  // room needed). Refused up front when even the least it can take does not fit (restore-space.ts).
  await requireFreeSpace(
    dirname(target),
    await decodedSizeAtLeast(backupFile, format, backupSize),
    `the database in "${backupFile}"`,
    options.freeSpace,
  );

  const tmp = tempPathFor(target);
  const engine = options.engine ?? new WasmEngine();
  let tmpExists = false;
  try {
    // Both writers remove their own partial output on failure; from then on tmp is ours to remove.
    if (decoded) {
      // The integrity check waits for the engine's worker and wasm: start them while decompressing.
      engine.warmUp?.().catch(() => {});
      let fileSha256: string;
      try {
        // An age key that does not fit fails before a byte is written; altered data fails at its
        // chunk, and the partial temp file is removed by decodeBackupFile.
        fileSha256 = (await decodeInto(backupFile, tmp, format === 'age', identities, backupSize, options)).sha256;
      } catch (e) {
        // A damaged file that does not match its sidecar is a checksum failure (the decoder stopped
        // early, so the whole file is hashed to tell).
        if (sidecar && isContentError(e)) compareSidecar(backupFile, sidecar, await sha256File(backupFile, { signal }));
        if (format === 'age' && isBackupError(e, ErrorCode.GZIP_NOT_GZIP)) {
          throw new BackupError(ErrorCode.GZIP_NOT_GZIP, notGzipInsideMessage(backupFile), { path: backupFile, cause: e });
        }
        throw e;
      }
      tmpExists = true;
      if (sidecar) compareSidecar(backupFile, sidecar, fileSha256);
    } else {
      await copyFile(backupFile, tmp, signal);
      tmpExists = true;
    }
    // The decompression's dead buffers must not stay while the check needs its memory (memory.ts).
    releaseGarbage();
    // The fsync (on the thread pool) and the integrity check (in the engine's worker) overlap; both
    // must succeed before the file goes into place.
    const syncing = fsyncOrFail(tmp);
    syncing.catch(() => {});
    const check = await engine.integrityCheck(tmp, {
      mode: options.mode ?? 'full',
      signal,
      onProgress: options.onProgress && integrityProgress(options.onProgress),
    });
    await syncing;
    if (!check.ok) {
      throw new BackupError(ErrorCode.INTEGRITY, `"${backupFile}" fails integrity_check: ${check.messages.slice(0, 10).join('; ')}`, {
        path: backupFile,
      });
    }
    throwIfAborted(signal, `restore to "${target}"`);
    const placed = await placeAtTarget(tmp, target, options.force ?? false, options.keepBeforeRestore);
    tmpExists = false;
    return { ...placed, backup: backupFile, chosenBy, checksum, encrypted: format === 'age' };
  } finally {
    if (tmpExists) await rm(tmp, { force: true }).catch(() => {});
    if (!options.engine) await engine.close().catch(() => {});
  }
}

/**
 * Puts a database that was already checked (by the caller: a pull decompressed and integrity-checked
 * it on the way) in place at `targetPath`, with exactly restore's guarantees: an existing target is
 * refused without `force`, else moved aside with its -wal/-journal; the file goes through a temp name
 * next to the target, fsynced. `checked` is consumed: renamed when it is on the target's file system,
 * otherwise copied and then removed. This saves a second gunzip and integrity_check of the same bytes.
 */
export async function installCheckedDatabase(
  checked: string,
  targetPath: string,
  options: { force?: boolean; signal?: AbortSignal; keepBeforeRestore?: number } = {},
): Promise<Omit<RestoreResult, 'checksum' | 'backup' | 'chosenBy' | 'encrypted'>> {
  const target = resolve(targetPath);
  checkKeep(options.keepBeforeRestore);
  await checkTarget(target, options.force ?? false);
  const tmp = tempPathFor(target);
  let tmpExists = false;
  try {
    try {
      await rename(checked, tmp);
      tmpExists = true;
      await fsyncOrFail(tmp);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw ioError(`move "${checked}" ->`, tmp, e);
      await copyFile(checked, tmp, options.signal);
      tmpExists = true;
      await rm(checked, { force: true });
    }
    throwIfAborted(options.signal, `restore to "${target}"`);
    const placed = await placeAtTarget(tmp, target, options.force ?? false, options.keepBeforeRestore);
    tmpExists = false;
    return placed;
  } finally {
    if (tmpExists) await rm(tmp, { force: true }).catch(() => {});
  }
}

/** Refuses a target that exists (without force) or is not a file, and a missing directory. */
async function checkTarget(target: string, force: boolean): Promise<void> {
  const existing = await lstatOrUndefined(target);
  if (existing?.isDirectory()) {
    throw new BackupError(
      ErrorCode.DEST_DIR,
      `"${target}" is a directory; give the path of the database file to create or replace, e.g. "${join(target, 'app.db')}"`,
      { path: target },
    );
  }
  if (existing && !force) {
    throw new BackupError(ErrorCode.DEST_EXISTS, `"${target}" already exists; pass --force (force: true) to move it aside and replace it`, {
      path: target,
    });
  }
  if (existing && !existing.isFile()) {
    throw new BackupError(ErrorCode.DEST_EXISTS, `"${target}" exists and is not a regular file; not replacing it`, { path: target });
  }
  const dir = dirname(target);
  const dirStat = await lstatOrUndefined(dir);
  if (!dirStat?.isDirectory()) {
    throw new BackupError(ErrorCode.DEST_DIR, `directory "${dir}" does not exist`, { path: dir });
  }
}

/**
 * Steps 4-5: moves the previous database aside and renames the checked temp file `tmp` (next to the
 * target, fsynced) into place. On success `tmp` is gone; on failure the moves are undone and `tmp`
 * is left for the caller to remove.
 */
async function placeAtTarget(
  tmp: string,
  target: string,
  force: boolean,
  keepBeforeRestore: number | undefined,
): Promise<Omit<RestoreResult, 'checksum' | 'backup' | 'chosenBy' | 'encrypted'>> {
  const bytes = (await lstat(tmp)).size;
  const replaced = await lstatOrUndefined(target);
  if (!force && replaced) {
    throw new BackupError(ErrorCode.DEST_EXISTS, `"${target}" appeared while restoring; pass --force (force: true) to replace it`, {
      path: target,
    });
  }
  // Before the rename, so that the file never shows under the target's name with other permissions.
  const warnings = replaced ? await takeOwnership(tmp, target, replaced) : [];
  // Past this point we do not stop half way: the remaining steps are a few renames.
  const moves = await moveAside(target);
  try {
    await rename(tmp, target);
  } catch (e) {
    await undoMoves(moves.moved);
    throw ioError(`rename "${tmp}" ->`, target, e);
  }
  // The restore is in place; a failure here only means it may not survive a power cut yet.
  const dir = dirname(target);
  try {
    fsyncDir(dir);
  } catch (e) {
    throw ioError('fsync directory', dir, e);
  }
  const removed = [...moves.removed];
  if (keepBeforeRestore !== undefined && keepBeforeRestore !== Infinity && moves.moved.length > 0) removed.push(...(await pruneBeforeRestore(target, keepBeforeRestore)));
  return { target, bytes, movedAside: moves.moved.map((m) => m.to), removed, warnings };
}

/**
 * Gives `tmp` the owner, group and permission bits of the database it replaces: a restore run as
 * root must not leave `root:root 0600` where the application's `app:app 0640` was. A user who may
 * not chown (EPERM: not root, or not a member of the group) keeps the mode and gets a warning.
 */
async function takeOwnership(tmp: string, target: string, replaced: { uid: number; gid: number; mode: number }): Promise<string[]> {
  const warnings: string[] = [];
  const mine = await lstat(tmp);
  if (mine.uid !== replaced.uid || mine.gid !== replaced.gid) {
    try {
      await chown(tmp, replaced.uid, replaced.gid);
    } catch (e) {
      const errno = (e as NodeJS.ErrnoException).code;
      if (errno !== 'EPERM' && errno !== 'EINVAL') throw ioError('chown', tmp, e);
      warnings.push(
        `"${target}" was owned by ${replaced.uid}:${replaced.gid}; the restored file is owned by ${mine.uid}:${mine.gid} ` +
          `(only root may give it back): run \`chown ${replaced.uid}:${replaced.gid} ${target}\` as root if the application cannot open it`,
      );
    }
  }
  try {
    // After chown: chown clears the set-id bits.
    await chmod(tmp, replaced.mode & 0o7777);
  } catch (e) {
    throw ioError('chmod', tmp, e);
  }
  return warnings;
}

/** `.before-restore-<UTC ts>[-n]` and an optional side-file suffix, as freeAsideBase names them. */
const ASIDE_PATTERN = /^\.before-restore-(\d{8}T\d{6}\.\d{3}Z(?:-\d+)?)(-wal|-journal|-shm)?$/;

/**
 * Deletes the `<target>.before-restore-*` copies (with their side files) beyond the newest `keep`.
 * Best effort: the restore is done; a copy we cannot delete only takes space.
 */
async function pruneBeforeRestore(target: string, keep: number): Promise<string[]> {
  const dir = dirname(target);
  const prefix = basename(target);
  const groups = new Map<string, string[]>();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith(prefix)) continue;
    const m = ASIDE_PATTERN.exec(name.slice(prefix.length));
    if (!m) continue;
    const files = groups.get(m[1]!) ?? [];
    files.push(join(dir, name));
    groups.set(m[1]!, files);
  }
  // Stamps are fixed-width UTC times, so they sort by time; a `-n` counter sorts after its stamp.
  const stale = [...groups.keys()].sort(compareStamps).slice(0, Math.max(0, groups.size - keep));
  const removed: string[] = [];
  for (const stamp of stale) {
    for (const path of groups.get(stamp)!) {
      try {
        await unlink(path);
        removed.push(path);
      } catch {
        // Left for the next restore to retry.
      }
    }
  }
  if (removed.length > 0) {
    try {
      fsyncDir(dir);
    } catch {
      // Only the deletions may not survive a power cut.
    }
  }
  return removed;
}

function compareStamps(a: string, b: string): number {
  const [, ta, na] = /^(.*Z)(?:-(\d+))?$/.exec(a)!;
  const [, tb, nb] = /^(.*Z)(?:-(\d+))?$/.exec(b)!;
  return ta! < tb! ? -1 : ta! > tb! ? 1 : Number(na ?? 1) - Number(nb ?? 1);
}

function checkKeep(keep: number | undefined): void {
  if (keep === undefined || keep === Infinity || (Number.isInteger(keep) && keep >= 0)) return;
  throw new RangeError(`keepBeforeRestore must be a whole number >= 0 or Infinity, got ${keep}`);
}

interface Move {
  from: string;
  to: string;
}

/**
 * Moves the database at `target` (if any) and its -wal/-journal to `<target>.before-restore-<ts>`,
 * deletes `<target>-shm`. A -wal/-journal without a database is moved under the same naming.
 */
async function moveAside(target: string): Promise<{ moved: Move[]; removed: string[] }> {
  const present: string[] = [];
  for (const suffix of ['', '-wal', '-journal']) {
    if (await lstatOrUndefined(target + suffix)) present.push(suffix);
  }
  const moved: Move[] = [];
  const removed: string[] = [];
  if (present.length > 0) {
    const base = await freeAsideBase(target);
    try {
      // The database first: if we crash after it, a stray -wal is left, which a rerun moves aside;
      // the other way round, the old database would stay in place without its newest commits.
      for (const suffix of present) {
        const move = { from: target + suffix, to: base + suffix };
        await rename(move.from, move.to);
        moved.push(move);
      }
    } catch (e) {
      await undoMoves(moved);
      throw ioError('move aside', target, e);
    }
  }
  const shm = `${target}-shm`;
  try {
    await unlink(shm);
    removed.push(shm);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      await undoMoves(moved);
      throw ioError('delete', shm, e);
    }
  }
  return { moved, removed };
}

/** `<target>.before-restore-<ts>`, with `-2`, `-3`... if a restore in the same millisecond took it. */
async function freeAsideBase(target: string): Promise<string> {
  const ts = new Date().toISOString().replace(/[-:]/g, '');
  for (let n = 1; ; n++) {
    const base = `${target}${BEFORE_RESTORE_MARKER}${ts}${n === 1 ? '' : `-${n}`}`;
    let taken = false;
    for (const suffix of ['', '-wal', '-journal', '-shm']) if (await lstatOrUndefined(base + suffix)) taken = true;
    if (!taken) return base;
  }
}

async function undoMoves(moved: Move[]): Promise<void> {
  for (const m of [...moved].reverse()) await rename(m.to, m.from).catch(() => {});
}

/** Streams `src` into a new file `dest` (0600, exclusive create), fsynced. */
async function copyFile(src: string, dest: string, signal: AbortSignal | undefined): Promise<void> {
  let input: FileHandle | undefined;
  let output: FileHandle | undefined;
  let created = false;
  try {
    input = await open(src, 'r');
    output = await open(dest, 'wx', 0o600);
    created = true;
    const buf = Buffer.allocUnsafe(COPY_CHUNK);
    for (;;) {
      throwIfAborted(signal, `restore copy of "${src}"`);
      const { bytesRead } = await input.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      let at = 0;
      while (at < bytesRead) at += (await output.write(buf, at, bytesRead - at)).bytesWritten;
    }
    await output.sync();
  } catch (e) {
    await output?.close().catch(() => {});
    output = undefined;
    if (created) await rm(dest, { force: true }).catch(() => {});
    throw ioError(`copy "${src}" ->`, dest, e);
  } finally {
    await input?.close().catch(() => {});
    await output?.close().catch(() => {});
  }
}

async function fsyncOrFail(path: string): Promise<void> {
  try {
    await fsyncFile(path);
  } catch (e) {
    throw ioError('fsync', path, e);
  }
}

async function lstatOrUndefined(path: string) {
  try {
    return await lstat(path);
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    if (errno === 'ENOENT' || errno === 'ENOTDIR') return undefined;
    throw ioError('stat', path, e);
  }
}

function ioError(what: string, path: string, e: unknown): BackupError {
  return fsError(what, path, e);
}

