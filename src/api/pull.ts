/**
 * pull(config): fetch the newest backup from a backup directory elsewhere (SFTP, or any Transport),
 * prove it good, and only then publish it locally the way the backup job publishes: the .gz, its
 * .sha256, and latest.txt last. The previously pulled copy is untouched until the new one passed
 * every check; partial downloads live in `<name>.part` (resumable while the remote file is unchanged).
 *
 * Checks, in order: the name (a plain backup file name - a hostile server's latest.txt must not make
 * us write outside local_dir), the size, the sha256 against the remote .sha256 when there is one (never
 * trust a transfer: ssh2-sftp-client users report corrupted fastGet downloads), the gzip CRC-32 and
 * length of every member, and PRAGMA integrity_check.
 *
 * An age-encrypted backup (`<name>.db.gz.age`, `.bck.gz.age`) is published exactly as the server has it
 * (encrypted, under its remote name, with the server's sidecar hash of the encrypted bytes): it is
 * decrypted only to check it, on the way into the private scratch database, and a restore promotes
 * that checked scratch database (never a second decryption). Pulling one needs an identity
 * (`ageIdentity`, else `[pull] age_identity`): without it, ECONFIG before anything is downloaded. A key
 * that does not fit is EDECRYPT as soon as the header is read: nothing is published or restored, the
 * download stops there and its `.part` is removed (see the catch below); altered ciphertext is
 * EDECRYPT from age's authentication, after the sha256 check (a damaged transfer is ECHECKSUM).
 *
 * restinpieces-backup (2026) directories hold several databases, `.bck.gz` and plain `.db` snapshots,
 * and a `latest-<label>-<basename>` hard link, but no latest.txt: the newest snapshot by the name's
 * timestamp wins, of the database `[pull] db` names when there are several. A plain `.db` is
 * downloaded as it is (no gunzip) and integrity-checked the same way. The `latest-*` link is not
 * read: it is only ever a plain snapshot that also has its timestamped name, and with compression
 * on (or after a switch) it is older than the newest snapshot. Such backups are published locally
 * with their sidecar but without latest.txt, as upstream keeps its directories: several pulls (one
 * per `db`) may share one local_dir.
 */
import { open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { AGE_MAGIC, isAgeHeader } from '../crypto/age-stream.js';
import { join } from 'node:path';
import { WasmEngine, type Engine } from '../engine/index.js';
import { fsyncDir } from '../fs/sync.js';
import { BackupError, ErrorCode, fsError, isBackupError, throwIfAborted } from '../errors.js';
import { releaseGarbage } from '../memory.js';
import type { RemoteFile, Transport } from '../transport/types.js';
import { requirePullConfig, type Config } from '../config/config.js';
import { ensurePrivateDir } from '../fs/atomic.js';
import { acquireLock, type Lock } from '../format/lock.js';
import { readLatest } from '../format/manifest.js';
import { isPlainBackup, LATEST_FILE, parseBackupName, RIB_LATEST_PREFIX, SIDECAR_SUFFIX } from '../format/naming.js';
import { latestOf, listStore } from '../store/listing.js';
import type { AgeIdentities } from '../crypto/age-identity.js';
import { resolveAgeIdentity, type AgeIdentityOption } from '../crypto/identity-option.js';
import { publishBackup } from '../store/publish.js';
import { readStoreSidecar, writeStoreSidecar } from '../store/sidecar.js';
import { LocalTransport } from '../transport/local/local.js';
import { downloadToPart, PART_SUFFIX, removePart } from './pull-download.js';
import { openPullTransport, type PullTransportOptions } from './pull-transport.js';
import { namedDatabases } from './listing.js';
import { installCheckedDatabase, restore } from './restore.js';
import { prune, retentionOf } from './retention.js';
import { readSidecar } from '../format/sidecar.js';
import { isWrongIdentity, SCRATCH_SUFFIX, unpackTo, type UnpackOutcome } from './pull-unpack.js';
import { isContentError } from './verify.js';
import { requireFreeSpace, type FreeSpaceProbe } from '../fs/free-space.js';
import { compressedLowerBound } from './restore-space.js';

/** The steps of a pull, as PullProgress reports them. */
export type PullPhase = 'connect' | 'find' | 'download' | 'reconnect' | 'verify' | 'publish' | 'prune' | 'restore' | 'done';

/** What pull reports through `onProgress`. */
export interface PullProgress {
  phase: PullPhase;
  bytesDone?: number;
  bytesTotal?: number;
  /** reconnect: why the previous connection was given up. */
  reason?: string;
}

/** Options of pull. */
export interface PullOptions {
  signal?: AbortSignal;
  onProgress?: (progress: PullProgress) => void;
  /** Engine for the integrity check (not closed by us). @default a WasmEngine per call */
  engine?: Engine;
  /** Where to pull from instead of the [pull] SFTP server (a mounted share, tests). Not closed by us. */
  transport?: Transport;
  /**
   * Restore the pulled backup here (overrides `pull.restore_to`): after a pull that brought a new
   * backup (the previous database is moved aside as `<target>.before-restore-<time>`), or when the
   * target does not exist yet.
   */
  restoreTo?: string;
  /**
   * With a restore: how many `<target>.before-restore-<time>` copies of replaced databases to keep
   * (the one just replaced included); older ones are deleted (overrides `pull.keep_before_restore`).
   * @default 2
   */
  keepBeforeRestore?: number;
  /** Download attempts when the connection drops; each resumes where the last stopped. @default 3 */
  attempts?: number;
  /**
   * Accept whatever host key the server presents. Only to take a first look at a server whose
   * fingerprint you will then pin; every run warns loudly (through `warn`). @default false
   */
  insecureSkipHostKeyCheck?: boolean;
  /** Where warnings go. @default process.emitWarning */
  warn?: (message: string) => void;
  /**
   * Where `compress-worker.js` is, when a bundler or an Electron package moved it away from this
   * module. Unused since decompression runs on Node's zlib (no worker of ours); kept so that
   * existing callers still type-check. @default next to the compress module
   */
  compressWorkerUrl?: URL | string;
  /**
   * What decrypts an age-encrypted backup so that it can be checked (and restored): the path of an
   * identity file (age-keygen format; every key in it is tried), or identities already loaded with
   * loadAgeIdentities. Overrides `pull.age_identity`. Without either, pulling an encrypted backup is
   * ECONFIG (nothing is downloaded). The environment variable SQLITE_BACKUP_AGE_IDENTITY is the
   * CLI's: the library does not read it. A path is read (and checked) before connecting.
   */
  ageIdentity?: AgeIdentityOption;
  /** @internal Free bytes on the file system of a directory (tests inject a full disk). @default statfs */
  freeSpace?: FreeSpaceProbe;
}

/** What pull did. */
export interface PullResult {
  /** `pulled`: a new backup is verified and published locally; `up-to-date`: we already had it. */
  status: 'pulled' | 'up-to-date';
  name: string;
  /** The local copy. */
  path: string;
  /** Bytes of the backup file (the `.gz`, or a plain `.db` snapshot). */
  bytes: number;
  /** The backup is a plain SQLite snapshot (a restinpieces-backup `.db`), not gzip. */
  plain?: boolean;
  /**
   * The backup is age-encrypted: `path` holds it encrypted, as published on the server; it was
   * decrypted (with the identity file `identity`) only to check it, and to restore it.
   */
  encrypted?: { identity: string };
  sha256: string;
  /** Whether the remote side had a .sha256 sidecar that the download was checked against. */
  remoteChecksum: 'ok' | 'absent';
  /** Bytes reused from an earlier interrupted download (0 when it started from scratch). */
  resumedFrom: number;
  /** Where the backup was restored, when asked. */
  restoredTo?: string;
  /** With a restore: what it moved aside, deleted (older before-restore copies, a -shm) and must warn about. */
  restore?: { movedAside: string[]; removed: string[]; warnings: string[] };
  /** Local backups removed by retention. */
  pruned: string[];
  durationMs: number;
}

/**
 * Pulls the newest backup of the `[pull]` source (an SFTP server or a store URL) into `local_dir`
 * when it is not there yet: downloaded (resumably) under a temp name, checked against its sidecar,
 * the gzip CRC and `PRAGMA integrity_check`, then published like a local backup, pruned, and
 * restored to `restore_to` when set.
 */
export async function pull(configArg: Config, options: PullOptions = {}): Promise<PullResult> {
  const config = requirePullConfig(configArg);
  const { signal } = options;
  const started = Date.now();
  const progress = (p: PullProgress): void => options.onProgress?.(p);
  const localDir = config.pull.localDir;
  const engine = options.engine ?? new WasmEngine();
  let transport = options.transport;
  let lock: Lock | undefined;
  try {
    throwIfAborted(signal, 'pull');
    // Before connecting: an identity file that cannot be used is a config error whatever is pulled.
    const identities = await pullIdentities(config.pull.ageIdentity, options);
    progress({ phase: 'connect' });
    transport ??= await openPullTransport(config.pull, signal, transportOptions(options));
    progress({ phase: 'find' });
    const remote = await findLatest(transport, config.pull.db, signal);
    const plain = isPlain(remote.name);
    const location = transport.location;
    const missingIdentity = (name: string): BackupError => missingIdentityError(name, location);
    // Before local_dir is made and before a byte is downloaded: this pull could not check it.
    if (parseBackupName(remote.name)?.encrypted && !identities) throw missingIdentity(remote.name);
    // The remote sidecar is on its way while local_dir is made and locked (neither needs the other);
    // it is looked at only once the lock is ours, so a held lock is still the error reported.
    const sidecarRead = readStoreSidecar(transport, remote.name, { signal });
    sidecarRead.catch(() => {}); // its failure is thrown by the await below (not when the lock fails first)
    // Only now, connected to a server whose host key was accepted: a refused first contact leaves
    // no local_dir behind (a fresh service user fixes known_hosts and runs again).
    await ensurePrivateDir(localDir, 'pull.local_dir');
    lock = await acquireLock(localDir, 'pull', { waitMs: config.lockTimeoutMs, signal });
    const remoteSidecar = await sidecarRead;
    const path = join(localDir, remote.name);
    await removeLeftovers(localDir, remote.name);
    let part = join(localDir, `${remote.name}${PART_SUFFIX}`);
    let sha256 = '';
    let resumedFrom = 0;

    const restoreTo = options.restoreTo ?? config.pull.restoreTo;
    let restored: PullResult['restore'];
    const have = await alreadyHave(localDir, remote, remoteSidecar?.hex, writesLatestTxt(remote.name));
    if (have) {
      // Nothing new. A restore target that does not exist yet still gets the database.
      const restoredTo = restoreTo && !(await stat(restoreTo).catch(() => undefined)) ? restoreTo : undefined;
      const encrypted = parseBackupName(remote.name)?.encrypted || (await startsWithAgeHeader(path));
      if (restoredTo) {
        progress({ phase: 'restore' });
        // restore() decrypts an encrypted copy once, compares it with its sidecar and checks it.
        const r = await restore(path, restoredTo, {
          engine,
          mode: config.verify,
          signal,
          ...compressOption(options),
          ageIdentity: encrypted ? (identities ?? raise(missingIdentity(remote.name))) : undefined,
        });
        restored = { movedAside: r.movedAside, removed: r.removed, warnings: r.warnings };
      }
      progress({ phase: 'done' });
      return {
        restoredTo,
        restore: restored,
        status: 'up-to-date',
        name: remote.name,
        path,
        bytes: remote.size,
        plain,
        ...(encrypted && identities ? { encrypted: { identity: identities.path } } : {}),
        sha256: have,
        remoteChecksum: remoteSidecar ? 'ok' : 'absent',
        resumedFrom: 0,
        pruned: [],
        durationMs: Date.now() - started,
      };
    }

    // local_dir takes the rest of the download and, beside it, the database decoded from it: refused
    // up front when even the least that can take does not fit (restore-space.ts).
    const partBytes = (await stat(part).catch(() => undefined))?.size ?? 0;
    await requireFreeSpace(
      localDir,
      Math.max(0, remote.size - partBytes) + (plain ? remote.size : compressedLowerBound(remote.size)),
      `"${remote.name}" with the database in it`,
      options.freeSpace,
    );
    // The integrity check needs the engine's worker, wasm and SQLite's code compiled (warmUp): all
    // of that overlaps the download.
    engine.warmUp?.().catch(() => {});
    progress({ phase: 'download', bytesDone: 0, bytesTotal: remote.size });
    const scratch = join(localDir, `${remote.name}${SCRATCH_SUFFIX}`);
    let unpacked: UnpackOutcome | undefined;
    /** The part's fsync, which runs while the download is checked (pull-download.ts). */
    let durable: Promise<void> | undefined;
    try {
      const download = await downloadToPart(transport, remote, localDir, {
        attempts: options.attempts ?? 3,
        signal,
        onBytes: (done) => progress({ phase: 'download', bytesDone: done, bytesTotal: remote.size }),
        reconnect: options.transport ? undefined : async (reason) => {
          progress({ phase: 'reconnect', reason });
          await transport!.close();
          transport = await openPullTransport(config.pull, signal, transportOptions(options));
          return transport;
        },
        // Decompressed (or, for a plain snapshot, copied) on the way, so the integrity check can start
        // when the last byte arrives.
        consume: async (bytes) => {
          unpacked = await unpackTo(bytes, scratch, remote.name, {
            signal,
            plain,
            encrypted: parseBackupName(remote.name)?.encrypted ?? false,
            identities,
            missingIdentity,
          });
        },
      });
      part = download.partPath;
      sha256 = download.sha256;
      resumedFrom = download.resumedFrom;
      durable = download.durable;
      // Nothing more is needed from the server: its connection's buffers (~10 MB) must not stay
      // resident while the integrity check needs its memory.
      if (!options.transport) await transport.close();

      progress({ phase: 'verify' });
      // The transfer first: a damaged download must not be reported as a damaged backup.
      if (remoteSidecar && remoteSidecar.hex !== sha256) {
        throw new BackupError(
          ErrorCode.CHECKSUM,
          `"${remote.name}" from ${transport.location} has sha256 ${sha256}, but its .sha256 says ` +
            `${remoteSidecar.hex}: the transfer or the remote file is damaged; nothing was published`,
          { path: part },
        );
      }
      if (!unpacked!.ok) {
        const { error } = unpacked!;
        if (error.code === ErrorCode.DECRYPT) throw decryptFailure(error, remote.name, location, part);
        throw failedVerification(remote.name, transport.location, [error.message], part);
      }
      // The decompression's dead buffers must not stay while the check needs its memory (memory.ts).
      releaseGarbage();
      const check = await engine
        .integrityCheck(scratch, {
          mode: config.verify,
          signal,
          onProgress: (p) => progress({ phase: 'verify', bytesDone: p.bytesRead, bytesTotal: p.totalBytes }),
        })
        .catch((e: unknown) => {
          if (!isContentError(e)) throw e;
          return { ok: false, messages: [plain ? 'it is not a SQLite database' : 'it decompresses to something that is not a SQLite database'] };
        });
      if (!check.ok) throw failedVerification(remote.name, transport.location, check.messages, part);
    } catch (e) {
      await rm(scratch, { force: true });
      // A download that fails a check is never kept or resumed; an interrupted one is resumed.
      // A key that does not fit (EDECRYPT) or an encrypted file without an identity (ECONFIG, from
      // its bytes when its name did not say age) stops the download at the age header, so its part
      // holds only the first chunks: removed too, as nothing worth resuming. Never under a final
      // name either way: `.part` is no backup name and only a fully checked part is renamed.
      await durable?.catch(() => {});
      if (REJECTED_DOWNLOAD.some((code) => isBackupError(e, code))) await removePart(part);
      if (isWrongIdentity(e)) throw decryptFailure(e as BackupError, remote.name, location, part);
      throw e;
    }

    let pruned: string[];
    try {
      progress({ phase: 'publish' });
      await durable;
      await replaceLocalCopy(part, path, localDir);
      await removePart(part); // its resume metadata
      if (writesLatestTxt(remote.name)) {
        await publishBackup(new LocalTransport(localDir), { name: remote.name, sha256, size: remote.size }, { signal });
      } else {
        await writeStoreSidecar(new LocalTransport(localDir), remote.name, sha256, { signal });
      }

      progress({ phase: 'prune' });
      pruned = (
        await prune(localDir, retentionOf(config), { latestName: remote.name })
      ).removed;

      if (restoreTo) {
        // The scratch database is the published backup, decompressed and integrity-checked above:
        // it goes into place as it is (no second gunzip and check of the same bytes).
        progress({ phase: 'restore' });
        const r = await installCheckedDatabase(scratch, restoreTo, {
          force: true,
          keepBeforeRestore: options.keepBeforeRestore ?? config.pull.keepBeforeRestore,
          signal,
        });
        restored = { movedAside: r.movedAside, removed: r.removed, warnings: r.warnings };
      }
    } finally {
      await rm(scratch, { force: true });
    }
    progress({ phase: 'done' });
    return {
      status: 'pulled',
      name: remote.name,
      path,
      bytes: remote.size,
      plain,
      ...(unpacked?.encrypted && identities ? { encrypted: { identity: identities.path } } : {}),
      sha256,
      remoteChecksum: remoteSidecar ? 'ok' : 'absent',
      resumedFrom,
      restoredTo: restoreTo,
      restore: restored,
      pruned,
      durationMs: Date.now() - started,
    };
  } finally {
    if (!options.transport) await transport?.close();
    if (!options.engine) await engine.close();
    await lock?.release();
  }
}

/** Errors after which a `.part` is removed, not kept for the next pull to resume. */
const REJECTED_DOWNLOAD = [ErrorCode.CHECKSUM, ErrorCode.INTEGRITY, ErrorCode.DECRYPT, ErrorCode.CONFIG];

/** The identities the options or `[pull] age_identity` give, loaded; undefined when neither does. */
async function pullIdentities(configPath: string | undefined, options: PullOptions): Promise<AgeIdentities | undefined> {
  return resolveAgeIdentity(options.ageIdentity ?? configPath, { warn: options.warn });
}

function missingIdentityError(name: string, location: string): BackupError {
  return new BackupError(
    ErrorCode.CONFIG,
    `"${name}" on ${location} is encrypted (age) and no identity was given to check it: give the ` +
      'identity file that decrypts it (age-keygen format) with --age-identity <file>, ' +
      '$SQLITE_BACKUP_AGE_IDENTITY, or age_identity = "<file>" in [pull] (library: the ageIdentity option); nothing was published',
    { path: name },
  );
}

/**
 * EDECRYPT in pull's words. `e` is the crypto layer's (it names the identity file, never a key):
 * its reason is kept, after where the backup came from.
 */
function decryptFailure(e: BackupError, name: string, location: string, part: string): BackupError {
  const reason = e.message.replace(/^\[crypto\] [^:]*: /, '');
  return new BackupError(ErrorCode.DECRYPT, `"${name}" from ${location}: ${reason}; nothing was published`, { path: part, cause: e });
}

/** Whether the file at `path` starts with an age header (a published backup whose name does not say so). */
async function startsWithAgeHeader(path: string): Promise<boolean> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'r');
    const head = Buffer.alloc(AGE_MAGIC.length);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    return isAgeHeader(head.subarray(0, bytesRead));
  } catch {
    return false; // the restore that follows reports a file it cannot read
  } finally {
    await fh?.close().catch(() => {});
  }
}

function raise(e: Error): never {
  throw e;
}

function failedVerification(name: string, location: string, messages: string[], part: string): BackupError {
  return new BackupError(
    ErrorCode.INTEGRITY,
    `"${name}" from ${location} failed verification (${messages.slice(0, 3).join('; ')}); nothing was published`,
    { path: part },
  );
}

function compressOption(options: PullOptions): { compressWorkerUrl?: URL | string } {
  return { compressWorkerUrl: options.compressWorkerUrl };
}

function transportOptions(options: PullOptions): PullTransportOptions {
  return {
    insecureSkipHostKeyCheck: options.insecureSkipHostKeyCheck,
    warn: options.warn,
  };
}

/** A plain SQLite snapshot (restinpieces-backup's `.db`), as opposed to every gzip layout. */
function isPlain(name: string): boolean {
  const parsed = parseBackupName(name);
  return parsed !== undefined && isPlainBackup(parsed);
}

/**
 * Whether a pulled backup is published locally with latest.txt, as its own layout does: ours and the
 * Go layouts yes; restinpieces-backup's (several databases per directory) no.
 */
function writesLatestTxt(name: string): boolean {
  return parseBackupName(name)?.layout !== 'rib';
}

/**
 * The remote backup to pull: the store's latest (latest.txt when it names an existing backup, else
 * the newest by name), of database `db` when given. A latest.txt that is not a plain file name is
 * refused outright: a hostile or broken server must not steer us by it. Without `db` and without a
 * latest.txt that chooses, backups of several databases are a config error: which one is wanted is
 * the user's to say. `db` may also be given as the `latest-<db>` link name an rsync client would pull.
 */
async function findLatest(transport: Transport, dbArg: string | undefined, signal: AbortSignal | undefined): Promise<RemoteFile> {
  const all = await listStore(transport, { signal });
  let db = dbArg;
  if (db !== undefined && db.startsWith(RIB_LATEST_PREFIX) && !all.backups.some((e) => e.dbName === db)) {
    db = db.slice(RIB_LATEST_PREFIX.length);
  }
  const listing = db === undefined ? all : { ...all, backups: all.backups.filter((e) => e.dbName === db) };
  const databases = namedDatabases(all.backups);
  if (listing.latestProblem) {
    throw new BackupError(ErrorCode.BACKUP_NOT_FOUND, `${listing.latestProblem.message}: refused`, {
      path: LATEST_FILE,
      cause: listing.latestProblem,
    });
  }
  const newest = latestOf(listing);
  if (newest && !newest.isLatest && db === undefined && databases.length > 1) {
    throw new BackupError(
      ErrorCode.CONFIG,
      `${transport.location} holds backups of several databases (${databases.join(', ')}) and no latest.txt says which: ` +
        'set db = "<name>" in [pull] to choose one',
      { path: transport.location },
    );
  }
  if (!newest) {
    if ((await transport.dirExists?.({ signal })) === false) {
      throw new BackupError(ErrorCode.BACKUP_NOT_FOUND, `the remote directory ${transport.location} does not exist`, {
        path: transport.location,
        errno: 'ENOENT',
      });
    }
    const of = db !== undefined ? ` of database "${db}"` : '';
    const others = db !== undefined && databases.length > 0 ? ` (it holds ${databases.join(', ')})` : '';
    throw new BackupError(ErrorCode.BACKUP_NOT_FOUND, `no backup${of} in ${transport.location}${others}`, { path: transport.location });
  }
  return listing.files.get(newest.name)!;
}

/**
 * The sha256 of our verified copy of `remote`, when local_dir already publishes it; else undefined.
 * Published means: latest.txt names it (for layouts that have one), and its sidecar is there (the
 * last step of a publish without latest.txt).
 */
async function alreadyHave(localDir: string, remote: RemoteFile, remoteHex: string | undefined, withLatestTxt: boolean): Promise<string | undefined> {
  let latest: string | undefined;
  try {
    latest = await readLatest(localDir);
  } catch {
    return undefined;
  }
  if (withLatestTxt && latest !== remote.name) return undefined;
  const st = await stat(join(localDir, remote.name)).catch(() => undefined);
  const sidecar = await readSidecar(join(localDir, remote.name)).catch(() => undefined);
  if (!st || st.size !== remote.size || !sidecar) return undefined;
  if (remoteHex !== undefined && remoteHex !== sidecar.hex) return undefined;
  return sidecar.hex;
}

/**
 * Puts the verified download `part` under its final name `path`, which may already hold an older
 * file of the same name (the server re-published that name with other bytes). latest.txt may name
 * `path` all along, so every state a crash can leave must have a `.sha256` that matches its file,
 * or none. The order that ensures it, each step made durable before the next:
 *   1. delete the old sidecar: the old file stays, unverified by sidecar but whole;
 *   2. rename `part` over `path` (atomic): the new file, still without a sidecar;
 *   3. (publishBackup) write the new sidecar atomically, then latest.txt.
 * A sidecar under the final name is only ever absent or the hash of the file beside it: removed
 * before the file changes, written after it. The reverse order (rename first) would leave the new
 * file beside the old hash, which verify reports as damage. A file without a sidecar is not taken
 * as ours by the next pull (alreadyHave wants a sidecar): it downloads the backup again.
 */
async function replaceLocalCopy(part: string, path: string, localDir: string): Promise<void> {
  const sidecar = `${path}${SIDECAR_SUFFIX}`;
  try {
    await unlink(sidecar);
    fsyncDir(localDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError('delete the old sidecar', sidecar, e);
  }
  try {
    await rename(part, path);
  } catch (e) {
    throw fsError(`rename "${part}" ->`, path, e);
  }
  fsyncDir(localDir);
}

/**
 * Leftovers of earlier runs: `.part` files of other backups (their backup is no longer the newest)
 * and scratch databases. Only a pull holding the lock creates either.
 */
async function removeLeftovers(localDir: string, keep: string): Promise<void> {
  for (const f of await readdir(localDir)) {
    const base = f.endsWith('.json') ? f.slice(0, -'.json'.length) : f;
    const otherPart = base.endsWith(PART_SUFFIX) && base !== `${keep}${PART_SUFFIX}`;
    // Scratch databases are never resumed: any one found is left by a run that was killed.
    if (otherPart || f.endsWith(SCRATCH_SUFFIX)) await rm(join(localDir, f), { force: true });
  }
}
