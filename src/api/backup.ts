/**
 * backup(config): the job. Snapshot the live source (copy-and-validate, then VACUUM INTO or the
 * online backup API), integrity_check the snapshot, gzip it under its final timestamped name, write
 * its .sha256 sidecar, and only then point latest.txt at it: latest.txt is the manifest, and a backup
 * is published when latest.txt names it. Then settle backups a killed run left without sidecar
 * (adopt.ts) and prune per retention.
 *
 * Every file goes through `<name>.tmp-<random>` -> fsync -> rename -> fsync dir, so a crash at any
 * point leaves the previous state or the new one. One backup per database at a time (lock file); a
 * crashed run's temp files are removed by the next run of the same database, and every exit path of
 * this one removes its own.
 *
 * With `layout` (backup-entries.ts, the restinpieces-backup shape) the same pipeline writes upstream's
 * names: the .gz as `<label>-<basename>-<time>.bck.gz`, or, uncompressed, the checked snapshot itself
 * as `...Z.db` with a `latest-<label>-<basename>` hard link; a sidecar as always, no latest.txt.
 *
 * With encryption ([encryption], or the `encryption` option), the backup is gzip then age
 * (encode.ts), published as `<name>.db.gz.age` (`.bck.gz.age`); its sidecar hashes the encrypted
 * file. Nothing plaintext ever stands in backup_dir: the live copy and the snapshot are made in a
 * private 0700 work directory outside it (workdir.ts), removed on every exit path, and a killed
 * run's is removed by the next run of the same database.
 */
import { randomBytes } from 'node:crypto';
import { link, readdir, rename, rm, stat } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { CHUNK_SIZE, gzipFile, type Level } from '../compress/index.js';
import { snapshotLive, WasmEngine, type Engine, type LiveCopyOptions } from '../engine/index.js';
import { fsyncDir, removeDatabaseFiles, pathExists } from '../fs/sync.js';
import { fileSizeOrZero, readDatabaseHeader } from '../engine/database-file.js';
import { requireFreeSpace, withSlack, type FreeSpaceProbe } from '../fs/free-space.js';
import { AbortError, asBackupError, BackupError, ErrorCode, fsError, throwIfAborted } from '../errors.js';
import { releaseGarbage } from '../memory.js';
import { ensurePrivateDir, fsyncFile, TEMP_MARKER } from '../fs/atomic.js';
import { requireBackupConfig, type Config, type Strategy, type VerifyMode } from '../config/config.js';
import { acquireLock, LOCK_SUFFIX } from '../format/lock.js';
import { describeFailure, pushBackup, PushError, type PushOutcome } from './push.js';
import { publishBackup } from '../store/publish.js';
import { sweepTemps } from '../store/sweep.js';
import { LocalTransport } from '../transport/local/local.js';
import { backupFileName, parseBackupName, ribBackupFileName, ribLatestLinkName, sanitizeDbName, SIDECAR_SUFFIX } from '../format/naming.js';
import { sha256File } from '../format/sidecar.js';
import { gzipEncryptFile } from './encode.js';
import { makeWorkDir, removeStaleWorkDirs, removeWorkDir, workDirPrefix } from './workdir.js';
import { recipientProblem } from '../crypto/age-recipients.js';
import { writeStoreSidecar } from '../store/sidecar.js';
import { adoptUnverified } from './adopt.js';
import { prune, retentionOf } from './retention.js';

/** The steps of a backup, in order, as BackupProgress reports them. */
export type BackupPhase =
  | 'lock'
  | 'snapshot'
  | 'verify'
  /** gzip (then age, when encrypted) of the snapshot into the backup file. */
  | 'compress'
  /** The .gz (.gz.age) is complete under its final name (not yet published). */
  | 'compressed'
  | 'sidecar'
  /** latest.txt names the new backup. */
  | 'published'
  | 'prune'
  /** Publishing at a [[push]] destination (`url`); bytes are the .gz sent there. */
  | 'push'
  | 'done';

/** What backup reports through `onProgress`. */
export interface BackupProgress {
  phase: BackupPhase;
  /** Bytes processed in this phase so far, and the phase's total when known. */
  bytesDone?: number;
  bytesTotal?: number;
  /** push: the destination. */
  url?: string;
}

/** Options of backup. */
export interface BackupOptions {
  signal?: AbortSignal;
  /** Called at the start of every phase and repeatedly during long ones. */
  onProgress?: (progress: BackupProgress) => void;
  /** Engine to use (not closed by us). @default a WasmEngine created and closed per call */
  engine?: Engine;
  /** Tuning of the live copy (attempts, backoff). */
  liveCopy?: Omit<LiveCopyOptions, 'signal' | 'unsafeSkipValidation'>;
  /** @internal Clock, for tests. @default () => new Date() */
  now?: () => Date;
  /**
   * Where `compress-worker.js` is, when a bundler or an Electron package moved it away from this
   * module. @default next to the compress module
   */
  compressWorkerUrl?: URL | string;
  /**
   * @internal
   * Write restinpieces-backup names instead of ours (backup-entries.ts sets it per entry):
   * `<dbName>-<YYYYMMDDTHHMMSSZ>.bck.gz`, or with `compressed: false` the checked snapshot itself as
   * `...Z.db` plus the hard link `latest-<dbName>`; .sha256 sidecars as always, no latest.txt
   * (several databases share such a directory). `dbName` is ribDbName's `<label>-<basename>`.
   */
  layout?: RibLayout;
  /**
   * Encrypt the backup with age to these recipients (X25519 public keys, `age1...`), replacing the
   * config's [encryption]. @default the config's [encryption], if any
   */
  encryption?: { recipients: string[] };
  /** @internal Free bytes on the file system of a directory (tests inject a full disk). @default statfs */
  freeSpace?: FreeSpaceProbe;
}

export interface RibLayout {
  kind: 'rib';
  dbName: string;
  compressed: boolean;
}

/** The backup that backup published. */
export interface BackupResult {
  /** File name of the published backup, e.g. `app-20261125T193012.345Z-vacuum.db.gz`. */
  name: string;
  path: string;
  sidecarPath: string;
  dbName: string;
  strategy: Strategy;
  /** Size of the snapshot (uncompressed database) and of the published file (the .gz, or the .db when not compressed). */
  dbBytes: number;
  gzBytes: number;
  /** false for a plain `.db` snapshot (restinpieces-backup layout with compression = false). */
  compressed: boolean;
  /** gzip then age (`.db.gz.age`); `gzBytes` and `sha256` are then those of the encrypted file. */
  encrypted: boolean;
  /** Encrypted: to how many recipients (any one of their identities decrypts it). */
  recipients?: number;
  /** Plain snapshots: the `latest-<label>-<basename>` hard link now naming this one. */
  latestLink?: string;
  /** sha256 of the published file, as written to the sidecar. */
  sha256: string;
  integrity: VerifyMode;
  /** Live-copy attempts it took to get a consistent copy of the source. */
  copyAttempts: number;
  /** Backups removed by retention. */
  pruned: string[];
  /** One outcome per `[[push]]` destination, in config order (empty without any). */
  push: PushOutcome[];
  startedAt: Date;
  timings: { snapshotMs: number; verifyMs: number; compressMs: number; publishMs: number; pruneMs: number; pushMs: number; totalMs: number };
}

/**
 * Runs one backup as configured. Rejects with a typed BackupError; nothing partial is left behind.
 * With `[[push]]` destinations, the backup is published locally first, then at each destination;
 * if any destination fails, it rejects with a PushError (code EPUSH) carrying every destination's
 * outcome and the local result - the local backup stays published.
 */
export async function backup(configArg: Config, options: BackupOptions = {}): Promise<BackupResult> {
  try {
    return await runBackup(configArg, options);
  } catch (e) {
    throw asBackupError(e);
  }
}

async function runBackup(configArg: Config, options: BackupOptions): Promise<BackupResult> {
  const config = requireBackupConfig(configArg);
  const { signal } = options;
  const progress = (p: BackupProgress): void => options.onProgress?.(p);
  const now = options.now ?? (() => new Date());
  const t0 = Date.now();
  const startedAt = now();
  const dir = config.backupDir;
  const layout = options.layout;
  const dbName = layout ? layout.dbName : sanitizeDbName(config.sourcePath);
  const compressed = layout?.compressed ?? true;
  const recipients = encryptionRecipients(config, options, compressed);
  throwIfAborted(signal, `backup of "${config.sourcePath}"`);
  // Before anything is created: a missing source must not leave an empty backup directory behind.
  const sourceBytes = readDatabaseHeader(config.sourcePath).size + fileSizeOrZero(`${config.sourcePath}-wal`);
  // At the peak backup_dir holds two copies of the database (the validated private copy and the
  // snapshot made from it; then the snapshot and the .gz, at most its size): refuse up front, not
  // after minutes of work. A new directory is checked before it is created. Encrypted, the two
  // plaintext copies go to the private work directory under $TMPDIR and only the .age (at most the
  // database's size) to backup_dir; both on one file system need all three.
  const checkSpace = async (): Promise<void> => {
    const what = `a backup of "${config.sourcePath}"`;
    if (!recipients) {
      await requireFreeSpace(dir, withSlack(2 * sourceBytes), `${what} (twice its size with the -wal)`, options.freeSpace);
      return;
    }
    const shared = sameFileSystem(dir, tmpdir());
    await requireFreeSpace(
      dir,
      withSlack((shared ? 3 : 1) * sourceBytes),
      shared ? `${what}, encrypted (three times its size with the -wal: its work directory in $TMPDIR is on this file system)` : `${what}, encrypted (its size with the -wal)`,
      options.freeSpace,
    );
    if (!shared) {
      await requireFreeSpace(
        tmpdir(),
        withSlack(2 * sourceBytes),
        `the private work directory of ${what}, encrypted (twice its size with the -wal; set TMPDIR to a larger file system)`,
        options.freeSpace,
      );
    }
  };
  const dirExisted = pathExists(dir);
  if (!dirExisted) await checkSpace();

  await ensurePrivateDir(dir, 'backup directory');
  progress({ phase: 'lock' });
  const lock = await acquireLock(dir, dbName, { waitMs: config.lockTimeoutMs, signal });
  const engine = options.engine ?? new WasmEngine();
  let workDir: string | undefined;
  let snapshotPath = join(dir, `${dbName}.snapshot${TEMP_MARKER}${randomBytes(6).toString('hex')}`);
  try {
    await sweepTemps(new LocalTransport(dir), dbName, {
      alsoBases: [`${dbName}.snapshot`, `${dbName}${LOCK_SUFFIX}`, ...(layout ? [ribLatestLinkName(dbName)] : [])],
    });
    if (recipients) {
      // Under the lock: every work directory of this database is a dead run's.
      const prefix = await workDirPrefix(dir, dbName);
      await removeStaleWorkDirs(prefix);
      workDir = await makeWorkDir(prefix);
      snapshotPath = join(workDir, `${dbName}.snapshot.db`);
    }
    // After the sweep: a killed run's leftovers no longer take the space.
    if (dirExisted) await checkSpace();

    progress({ phase: 'snapshot' });
    const ts = Date.now();
    const snap = await snapshotLive(engine, config.sourcePath, snapshotPath, {
      ...options.liveCopy,
      strategy: config.strategy,
      pagesPerStep: config.pagesPerStep,
      // sleep_interval let writers in between steps over the live file; the steps now copy our
      // private validated copy, which no writer waits for: a pause would only slow the backup.
      sleepMs: 0,
      signal,
      onProgress: (p) => progress({ phase: 'snapshot', bytesDone: p.bytesRead, bytesTotal: p.totalBytes }),
    });
    const snapshotMs = Date.now() - ts;

    progress({ phase: 'verify' });
    const tv = Date.now();
    const check = await engine.integrityCheck(snapshotPath, {
      mode: config.verify,
      signal,
      onProgress: (p) => progress({ phase: 'verify', bytesDone: p.bytesRead, bytesTotal: p.totalBytes }),
    });
    if (!check.ok) {
      throw new BackupError(
        ErrorCode.INTEGRITY,
        `the snapshot of "${config.sourcePath}" failed ${config.verify === 'quick' ? 'quick_check' : 'integrity_check'}; ` +
          `nothing was published. The source database itself may be damaged: ${check.messages.slice(0, 5).join('; ')}`,
        { path: config.sourcePath },
      );
    }
    const verifyMs = Date.now() - tv;
    // Our own engine is done: stopping its worker now returns its wasm memory before the gzip
    // workers start (peak RSS is the larger of the two phases, not their sum).
    if (!options.engine) await engine.close();

    throwIfAborted(signal, `backup of "${config.sourcePath}"`);
    progress({ phase: 'compress' });
    const tc = Date.now();
    const gzipOptions: Parameters<typeof gzipFile>[2] = {
      level: config.compressionLevel as Level, // validated 0-9 by the config loader
      // Below one chunk there is nothing to parallelise: worker start-up would cost more than gzip.
      workers: snap.bytes <= CHUNK_SIZE ? 0 : undefined,
      workerUrl: options.compressWorkerUrl,
      signal,
      onProgress: (p) => progress({ phase: 'compress', bytesDone: p.bytesIn, bytesTotal: snap.bytes }),
    };
    const { name, summary } = !layout
      ? await compressToFreeName(snapshotPath, dir, dbName, startedAt, config.strategy, gzipOptions, recipients)
      : compressed
        ? await gzipToRibName(snapshotPath, dir, dbName, startedAt, gzipOptions, recipients)
        : await placePlainSnapshot(snapshotPath, dir, dbName, startedAt, signal);
    const path = join(dir, name);
    progress({ phase: 'compressed' });
    const compressMs = Date.now() - tc;
    await rm(snapshotPath, { force: true }).catch((e: unknown) => {
      throw fsError('remove', snapshotPath, e);
    });

    const tp = Date.now();
    let published = false;
    try {
      throwIfAborted(signal, `backup of "${config.sourcePath}"`);
      // The .gz is in place (gzipFile wrote it atomically); the store checks its size, then writes
      // the sidecar and latest.txt, exactly as at a push destination. The restinpieces-backup layout
      // has no latest.txt: a sidecar, then (plain snapshots) the latest- link.
      let latestLink: string | undefined;
      if (layout) {
        await writeStoreSidecar(new LocalTransport(dir), name, summary.compressedSha256, { signal });
        progress({ phase: 'sidecar' });
        if (!compressed) latestLink = await replaceLatestLink(dir, name, dbName);
      } else await publishBackup(
        new LocalTransport(dir),
        { name, sha256: summary.compressedSha256, size: summary.compressedBytes },
        {
          signal,
          onStep: (step) => {
            if (step === 'sidecar') progress({ phase: 'sidecar' });
          },
        },
      );
      const sidecarPath = `${path}${SIDECAR_SUFFIX}`;
      published = true;
      progress({ phase: 'published' });
      const publishMs = Date.now() - tp;

      // Published: from here on a failure or an abort no longer undoes the backup.
      progress({ phase: 'prune' });
      const tr = Date.now();
      // A killed run's backup without sidecar must not take a slot from a published one: verify
      // and adopt it, or remove it (we hold this database's lock).
      if (!signal?.aborted) await adoptUnverified(dir, { dbName, latestName: name, takeLocks: false, mode: config.verify, signal });
      const pruned = signal?.aborted
        ? []
        : (
            await prune(
              dir,
              retentionOf(config),
              { dbName, latestName: name, now: startedAt },
            )
          ).removed;
      const pruneMs = Date.now() - tr;
      const tpush = Date.now();
      const push: PushOutcome[] = [];
      // The gzip's dead buffers must not stay resident under the uploads' own (memory.ts).
      if (config.push?.length) releaseGarbage();
      for (const dest of config.push ?? []) {
        if (signal?.aborted) {
          push.push({ url: dest.url, ok: false, name, bytes: summary.compressedBytes, pruned: [], durationMs: 0, error: describeFailure(dest.url, new AbortError('aborted before this destination')) });
          continue;
        }
        progress({ phase: 'push', url: dest.url, bytesDone: 0, bytesTotal: summary.compressedBytes });
        push.push(
          await pushBackup(
            dest,
            { dir, name, dbName, sha256: summary.compressedSha256, size: summary.compressedBytes },
            {
              signal,
              now: startedAt,
              onProgress: (_url, done, total) => progress({ phase: 'push', url: dest.url, bytesDone: done, bytesTotal: total }),
            },
          ),
        );
      }
      const result: BackupResult = {
        name,
        path,
        sidecarPath,
        dbName,
        strategy: config.strategy,
        dbBytes: snap.bytes,
        gzBytes: summary.compressedBytes,
        compressed,
        encrypted: recipients !== undefined,
        recipients: recipients?.length,
        latestLink,
        sha256: summary.compressedSha256,
        integrity: config.verify,
        copyAttempts: snap.copy.attempts,
        pruned,
        push,
        startedAt,
        timings: { snapshotMs, verifyMs, compressMs, publishMs, pruneMs, pushMs: Date.now() - tpush, totalMs: Date.now() - t0 },
      };
      if (push.some((o) => !o.ok)) throw new PushError(push, result);
      progress({ phase: 'done' });
      return result;
    } catch (e) {
      // Not published yet: the .gz must not stay (an unpublished, unsidecarred file would be picked by
      // a listing fallback); once published, a failing prune is reported but the backup stands.
      if (!published) {
        await rm(path, { force: true });
        await rm(`${path}${SIDECAR_SUFFIX}`, { force: true });
      }
      throw e;
    }
  } finally {
    removeDatabaseFiles(snapshotPath);
    try {
      if (!options.engine) await engine.close();
    } finally {
      // After the engine stopped (nothing creates files in it any more). Never masks the run's own
      // error or keeps the lock: what stays is removed by the next run.
      if (workDir !== undefined) await removeWorkDir(workDir).catch(() => {});
      await lock.release();
    }
  }
}

/**
 * The recipients to encrypt to (the option's, else the config's), or undefined for a plain backup.
 * Refused before anything is written: a recipient that is not an X25519 `age1...` key, and a plain
 * (uncompressed) snapshot, which has no encrypted form.
 */
function encryptionRecipients(config: Config, options: BackupOptions, compressed: boolean): string[] | undefined {
  const recipients = (options.encryption ?? config.encryption)?.recipients;
  if (recipients === undefined) return undefined;
  if (recipients.length === 0) throw new BackupError(ErrorCode.CONFIG, 'encryption needs at least one recipient ("age1...", from "age-keygen -y key.txt")');
  recipients.forEach((r, i) => {
    const problem = typeof r === 'string' ? recipientProblem(r) : 'not a string';
    // The value itself is never echoed: a pasted secret key must not reach a log.
    if (problem !== undefined) throw new BackupError(ErrorCode.CONFIG, `encryption recipient ${i + 1}: ${problem}`);
  });
  if (!compressed) {
    throw new BackupError(
      ErrorCode.CONFIG,
      'a plain (compression = false) snapshot cannot be encrypted: nothing plaintext may be published; use compression with encryption',
    );
  }
  return recipients.map((r) => r.trim().toLowerCase());
}

/**
 * gzip the snapshot to a new name `<db>-<ts>-<strategy>[-n].db.gz`. Two runs in the same millisecond
 * (or after the clock went back) get counters above every existing one of that timestamp, so names
 * never repeat and (time, counter) order stays the order of the runs, even after retention removed
 * some of them. We hold this database's lock: nobody else creates its names meanwhile.
 */
async function compressToFreeName(
  snapshot: string,
  dir: string,
  dbName: string,
  at: Date,
  strategy: string,
  gzipOptions: Parameters<typeof gzipFile>[2],
  recipients: string[] | undefined,
): Promise<{ name: string; summary: { compressedBytes: number; compressedSha256: string } }> {
  let counter = 1;
  const files = await readdir(dir).catch((e: unknown) => {
    throw fsError('list', dir, e);
  });
  for (const file of files) {
    const base = file.endsWith(SIDECAR_SUFFIX) ? file.slice(0, -SIDECAR_SUFFIX.length) : file;
    const parsed = parseBackupName(base);
    if (parsed?.dbName === dbName && parsed.time.getTime() === at.getTime()) counter = Math.max(counter, parsed.counter + 1);
  }
  for (;; counter++) {
    const name = backupFileName(dbName, at, strategy, counter, { encrypted: recipients !== undefined });
    const path = join(dir, name);
    if (pathExists(path) || pathExists(`${path}${SIDECAR_SUFFIX}`)) continue;
    try {
      return { name, summary: await compressFile(snapshot, path, gzipOptions, recipients) };
    } catch (e) {
      if (e instanceof BackupError && e.code === ErrorCode.DEST_EXISTS && counter < 10_000) continue;
      throw e;
    }
  }
}

/** gzip the snapshot to `<dbName>-<YYYYMMDDTHHMMSSZ>.bck.gz`; a second run in the same second is refused, never overwrites. */
async function gzipToRibName(
  snapshot: string,
  dir: string,
  dbName: string,
  at: Date,
  gzipOptions: Parameters<typeof gzipFile>[2],
  recipients: string[] | undefined,
): Promise<{ name: string; summary: { compressedBytes: number; compressedSha256: string } }> {
  const name = ribBackupFileName(dbName, at, true, { encrypted: recipients !== undefined });
  refuseTaken(dir, name);
  return { name, summary: await compressFile(snapshot, join(dir, name), gzipOptions, recipients) };
}

/**
 * The snapshot as the backup file `dest`: gzip (gzipFile, unchanged), or with recipients gzip then
 * age (encode.ts). Size and hash are of the file as written.
 */
async function compressFile(
  snapshot: string,
  dest: string,
  gzipOptions: Parameters<typeof gzipFile>[2],
  recipients: string[] | undefined,
): Promise<{ compressedBytes: number; compressedSha256: string }> {
  if (recipients === undefined) return gzipFile(snapshot, dest, gzipOptions);
  const { fileBytes, fileSha256 } = await gzipEncryptFile(snapshot, dest, recipients, gzipOptions);
  return { compressedBytes: fileBytes, compressedSha256: fileSha256 };
}

/**
 * The checked snapshot itself becomes `<dbName>-<YYYYMMDDTHHMMSSZ>.db`: hashed, fsynced, then hard-linked
 * to its final name (link, unlike rename, never replaces an existing file) and the directory fsynced.
 * The snapshot was created 0600 by our VFS; the caller removes the temp name.
 */
async function placePlainSnapshot(
  snapshot: string,
  dir: string,
  dbName: string,
  at: Date,
  signal: AbortSignal | undefined,
): Promise<{ name: string; summary: { compressedBytes: number; compressedSha256: string } }> {
  const name = ribBackupFileName(dbName, at, false);
  const path = join(dir, name);
  refuseTaken(dir, name);
  const sha256 = await sha256File(snapshot, { signal });
  let size: number;
  try {
    await fsyncFile(snapshot);
    size = (await stat(snapshot)).size;
    await link(snapshot, path);
    fsyncDir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') refuseTaken(dir, name);
    throw fsError('publish', path, e);
  }
  return { name, summary: { compressedBytes: size, compressedSha256: sha256 } };
}

/** Whether two paths (or their nearest existing ancestors) are on one file system. */
function sameFileSystem(a: string, b: string): boolean {
  const device = (p: string): number | undefined => {
    for (let d = resolve(p); ; d = dirname(d)) {
      try {
        return statSync(d).dev;
      } catch {
        if (dirname(d) === d) return undefined;
      }
    }
  };
  const da = device(a);
  return da !== undefined && da === device(b);
}

/** Upstream names have whole seconds and no counter: a name already there is another run's, never replaced. */
function refuseTaken(dir: string, name: string): void {
  const path = join(dir, name);
  if (pathExists(path) || pathExists(`${path}${SIDECAR_SUFFIX}`)) {
    throw new BackupError(ErrorCode.DEST_EXISTS, `"${path}" already exists (a backup of this database in the same second): not replaced`, { path });
  }
}

/** Points `latest-<dbName>` at `name`: a hard link made under a temp name, renamed over the old link. */
async function replaceLatestLink(dir: string, name: string, dbName: string): Promise<string> {
  const linkName = ribLatestLinkName(dbName);
  const linkPath = join(dir, linkName);
  const temp = join(dir, `${linkName}${TEMP_MARKER}${randomBytes(6).toString('hex')}`);
  try {
    await link(join(dir, name), temp);
    await rename(temp, linkPath);
    fsyncDir(dir);
  } catch (e) {
    await rm(temp, { force: true });
    throw fsError('link', linkPath, e);
  }
  return linkPath;
}
