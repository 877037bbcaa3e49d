/**
 * verify: is this backup file restorable? Checks the `.sha256` sidecar (when there is one), the gzip
 * stream (CRC-32 and length of every member, into a private temp file that is never fsynced: it is
 * thrown away), and `PRAGMA integrity_check` on the database. A gzip file is read once: the gunzip
 * hashes what it reads, and the sidecar is compared with that. A file that fails any of them gets `ok: false` and a
 * reason; only operational problems (missing file, I/O error, abort) throw.
 *
 * An age-encrypted backup (found by its header, whatever its name) is decrypted then gunzipped in
 * the same single pass when an identity is given (the sidecar holds the hash of the encrypted
 * bytes). Without one only the sidecar can be checked: `ok` then means "the file is the one that
 * was published", and `contentChecked: false` says the database inside was not looked at. With
 * neither an identity nor a sidecar nothing can be checked, and that is `ok: false`: a monitor
 * must not take "could not look" for "healthy".
 */
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgeIdentities } from '../crypto/age-identity.js';
import { AGE_MAGIC, isAgeHeader } from '../crypto/age-stream.js';
import { resolveAgeIdentity, type AgeIdentityOption } from '../crypto/identity-option.js';
import { WasmEngine, type Engine, type IntegrityMode } from '../engine/index.js';
import { BackupError, ErrorCode, isBackupError, throwIfAborted } from '../errors.js';
import { releaseGarbage } from '../memory.js';
import { decodeBackupFile } from './decode.js';
import { resolveBackupPath, type ChosenBy } from './listing.js';
import { checkSidecar, compareSidecar, sha256File, sidecarOf, type Sidecar } from '../format/sidecar.js';

/** `age`: a binary age file (gzip inside); `age-armored`: one written by `age -a`, which is not read. */
export type BackupFormat = 'gzip' | 'sqlite' | 'age' | 'age-armored' | 'empty' | 'unknown';

/** Options of verify and verifyInStore. */
export interface VerifyOptions {
  /** `full` = PRAGMA integrity_check, `quick` = PRAGMA quick_check. @default 'full' */
  mode?: IntegrityMode;
  /**
   * When `path` is a backup directory: the backups of this database only (`<label>-<basename>` for
   * restinpieces-backup names; for ours, the name in the backup file names: the database file's
   * name without its extension, e.g. `app`). Needed when the directory holds several
   * databases' backups and no latest.txt.
   */
  dbName?: string;
  /** Engine to run the check on (not closed by us). @default a WasmEngine created and closed per call */
  engine?: Engine;
  signal?: AbortSignal;
  /** Parent of the private directory the gzip file is decompressed into. @default os.tmpdir() */
  tempDir?: string;
  /** Called during the long steps: `gunzip` or `decrypt` (backup bytes read) and `integrity_check` (database bytes read). */
  onProgress?: (progress: CheckProgress) => void;
  /**
   * The age identity file (a path, as `--age-identity` takes; read only when the backup is
   * encrypted) or identities already loaded (loadAgeIdentities). Without it an encrypted backup is
   * checked against its sidecar only (`contentChecked: false`).
   */
  ageIdentity?: AgeIdentityOption;
  /**
   * Where `compress-worker.js` is, when a bundler or an Electron package moved it away from this
   * module. Unused since decompression runs on Node's zlib (no worker of ours); kept so that
   * existing callers still type-check. @default next to the compress module
   */
  compressWorkerUrl?: URL | string;
}

/** Progress of verify and restore. */
export interface CheckProgress {
  /** `decrypt`: an encrypted backup being decrypted and gunzipped (backup bytes read). */
  phase: 'gunzip' | 'decrypt' | 'integrity_check';
  bytesDone: number;
  bytesTotal?: number;
}

/** What verify found. */
export interface VerifyResult {
  ok: boolean;
  /** `['ok']` when healthy; otherwise the reasons (integrity_check rows, gzip or checksum error). */
  messages: string[];
  path: string;
  /** The file is gzip, or age-encrypted gzip (detected by its magic bytes, not its name). */
  compressed: boolean;
  /** The file is age-encrypted (its header, not its name). */
  encrypted: boolean;
  /**
   * Whether the database inside was checked (decompressed, integrity_check). Always true except for
   * an encrypted backup verified without an identity: then only the sidecar was checked.
   */
  contentChecked: boolean;
  checksum: 'ok' | 'absent' | 'mismatch';
  /** When a backup directory was given: whether latest.txt chose the backup, or the newest name (no usable latest.txt). */
  chosenBy?: ChosenBy;
  /** Size of the database (decompressed), 0 when it could not be obtained. */
  bytes: number;
  pageSize: number;
  pageCount: number;
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
/** The start of `-----BEGIN AGE ENCRYPTED FILE-----` (age -a), as far as detectFormat reads. */
const AGE_ARMOR_START = '-----BEGIN AGE ENC';
const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/** Codes that mean "this file is damaged or is not a backup", as opposed to "we could not look". */
const CONTENT_CODES: ReadonlySet<string> = new Set([
  ErrorCode.CHECKSUM,
  ErrorCode.GZIP_NOT_GZIP,
  ErrorCode.GZIP_TRUNCATED,
  ErrorCode.GZIP_CRC,
  ErrorCode.GZIP_SIZE,
  ErrorCode.GZIP_TRAILING,
  ErrorCode.GZIP_CORRUPT,
  ErrorCode.NOT_A_DATABASE,
  // A key that does not fit, or ciphertext that fails authentication (altered, truncated): the
  // backup cannot be restored with what was given.
  ErrorCode.DECRYPT,
]);

/** Whether a BackupError says the file's content is bad (verify reports it) rather than an operational failure. */
export function isContentError(e: unknown): e is BackupError {
  return isBackupError(e) && CONTENT_CODES.has(e.code);
}

/**
 * Tells a gzip file, an age file and a SQLite database apart by their first bytes. A missing path is
 * EBACKUP_NOT_FOUND, a directory too; other fs failures are EIO.
 */
export async function detectFormat(path: string): Promise<{ format: BackupFormat; size: number }> {
  let fh;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new BackupError(ErrorCode.BACKUP_NOT_FOUND, `"${path}" is not a regular file`, { path });
    fh = await open(path, 'r');
  } catch (e) {
    throw notFoundOrIo(path, e);
  }
  try {
    const head = Buffer.alloc(Math.max(SQLITE_MAGIC.length, AGE_MAGIC.length));
    let got: number;
    try {
      ({ bytesRead: got } = await fh.read(head, 0, head.length, 0));
    } catch (e) {
      throw notFoundOrIo(path, e);
    }
    const size = (await fh.stat()).size;
    if (got === 0) return { format: 'empty', size };
    if (got >= 2 && head.subarray(0, 2).equals(GZIP_MAGIC)) return { format: 'gzip', size };
    if (got >= SQLITE_MAGIC.length && head.subarray(0, SQLITE_MAGIC.length).equals(SQLITE_MAGIC)) return { format: 'sqlite', size };
    if (isAgeHeader(head.subarray(0, got))) return { format: 'age', size };
    if (head.subarray(0, got).toString('latin1').startsWith(AGE_ARMOR_START)) return { format: 'age-armored', size };
    return { format: 'unknown', size };
  } finally {
    await fh.close().catch(() => {});
  }
}

/**
 * Verifies a backup (`.db`, gzip, or age-encrypted gzip): its `.sha256` sidecar when there is one,
 * the gzip stream (CRC, length, no trailing data), and `integrity_check` of the database inside.
 * `pathArg` may be a backup directory: then the backup its latest.txt names, or its newest backup by
 * name when there is no latest.txt (`path` and `chosenBy` in the result say which). A backup that
 * fails a check gives `ok: false` with the reasons in `messages` (an encrypted backup checked without
 * its identity: the sidecar only, `contentChecked: false`); a missing or unreadable file throws a
 * BackupError.
 */
export async function verify(pathArg: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  const { signal } = options;
  throwIfAborted(signal, `verify "${pathArg}"`);
  const { file: path, chosenBy } = await resolveBackupPath(pathArg, { dbName: options.dbName });
  const { format, size } = await detectFormat(path);
  const result: VerifyResult = {
    ok: false,
    messages: [],
    path,
    chosenBy,
    compressed: format === 'gzip' || format === 'age',
    encrypted: format === 'age' || format === 'age-armored',
    contentChecked: true,
    checksum: 'absent',
    bytes: format === 'sqlite' ? size : 0,
    pageSize: 0,
    pageCount: 0,
  };
  const fail = (message: string): VerifyResult => ({ ...result, ok: false, messages: [message] });
  // Read only for an encrypted backup: a bad identity file must not fail the check of a plain one.
  const identities = format === 'age' ? await resolveAgeIdentity(options.ageIdentity) : undefined;
  const decoded = format === 'gzip' || (format === 'age' && identities !== undefined);

  // A gzip or encrypted backup is hashed by its decoder on the way through: the sidecar is compared
  // with that hash afterwards (one read of the file, not two). A database file is hashed here.
  let sidecar: Sidecar | undefined;
  try {
    if (decoded || format === 'age') {
      sidecar = await sidecarOf(path);
      result.checksum = sidecar ? 'ok' : 'absent';
    } else {
      result.checksum = await checkSidecar(path, { signal });
    }
    // Without an identity the sidecar is all there is to check: hash the whole file for it.
    if (format === 'age' && !decoded && sidecar) compareSidecar(path, sidecar, await sha256File(path, { signal }));
  } catch (e) {
    if (!isBackupError(e, ErrorCode.CHECKSUM)) throw e;
    result.checksum = 'mismatch';
    if (format === 'age' && !decoded) result.contentChecked = false;
    return fail(e.message);
  }
  if (format === 'empty') return fail(`"${path}" is empty (0 bytes): not a backup`);
  if (format === 'unknown') return fail(`"${path}" is neither a gzip file, an age file nor a SQLite database`);
  if (format === 'age-armored') {
    result.contentChecked = false;
    return fail(armoredMessage(path));
  }
  if (format === 'age' && !decoded) {
    result.contentChecked = false;
    if (!sidecar) {
      return fail(
        `"${path}" is encrypted (age) and has no .sha256 sidecar: nothing could be checked; ` +
          `give the identity that decrypts it (--age-identity <file>, $SQLITE_BACKUP_AGE_IDENTITY, or the ageIdentity option) to check its content`,
      );
    }
    return {
      ...result,
      ok: true,
      messages: [`sha256 matches the sidecar; the content was not checked: "${path}" is encrypted (age) and no identity was given to decrypt it`],
    };
  }

  let privateDir: string | undefined;
  const engine = options.engine ?? new WasmEngine();
  try {
    let dbPath = path;
    if (decoded) {
      // The integrity check waits for the engine's worker and wasm: start them while decompressing.
      engine.warmUp?.().catch(() => {});
      privateDir = await mkdtemp(join(options.tempDir ?? tmpdir(), 'sqlite-backup-verify-'));
      dbPath = join(privateDir, 'backup.db');
      try {
        const { bytes, sha256 } = await decodeInto(path, dbPath, format === 'age', identities, size, options);
        result.bytes = bytes;
        if (sidecar) compareSidecar(path, sidecar, sha256);
      } catch (e) {
        // A damaged file that does not match its sidecar is a checksum failure, as it always was:
        // the decoder stopped early, so the whole file is hashed to tell.
        if (sidecar && isContentError(e) && !isBackupError(e, ErrorCode.CHECKSUM)) {
          try {
            compareSidecar(path, sidecar, await sha256File(path, { signal }));
          } catch (mismatch) {
            if (isBackupError(mismatch, ErrorCode.CHECKSUM)) e = mismatch;
            else throw mismatch;
          }
        }
        if (isBackupError(e, ErrorCode.CHECKSUM)) {
          result.checksum = 'mismatch';
          return fail((e as Error).message);
        }
        if (format === 'age' && isBackupError(e, ErrorCode.GZIP_NOT_GZIP)) return fail(notGzipInsideMessage(path));
        if (isContentError(e)) return fail(e.message);
        throw e;
      }
    }
    // The decompression's dead buffers must not stay while the check needs its memory (memory.ts).
    releaseGarbage();
    try {
      const check = await engine.integrityCheck(dbPath, {
        mode: options.mode ?? 'full',
        signal,
        onProgress: options.onProgress && integrityProgress(options.onProgress),
      });
      result.pageSize = check.pageSize;
      result.pageCount = check.pageCount;
      if (!check.ok) {
        const what = options.mode === 'quick' ? 'quick_check' : 'integrity_check';
        return { ...result, ok: false, messages: [`${what} of "${path}" did not return ok:`, ...check.messages] };
      }
      return { ...result, ok: true, messages: check.messages };
    } catch (e) {
      if (!isContentError(e)) throw e;
      // The engine names our temp file; say which backup it came from.
      if (!decoded) return fail(e.message);
      return fail(`"${path}" ${format === 'age' ? 'decrypts and decompresses' : 'decompresses'} to something that is not a SQLite database`);
    }
  } finally {
    if (!options.engine) await engine.close().catch(() => {});
    if (privateDir) await rm(privateDir, { recursive: true, force: true }).catch(() => {});
  }
}

/** Size of the database written, and SHA-256 of the backup file read (what its sidecar holds). */
interface Decoded {
  bytes: number;
  sha256: string;
}

/**
 * Decodes the gzip backup `path`, or with `identities` given for an age backup decrypts and then
 * decodes it, into `dbPath` (0600, not fsynced): every gzip member's CRC-32 and length are checked,
 * and age's authentication of every chunk.
 */
export async function decodeInto(
  path: string,
  dbPath: string,
  encrypted: boolean,
  identities: AgeIdentities | undefined,
  size: number,
  options: { signal?: AbortSignal | undefined; onProgress?: ((p: CheckProgress) => void) | undefined },
): Promise<Decoded> {
  const report = options.onProgress;
  const phase = encrypted ? 'decrypt' : 'gunzip';
  const summary = await decodeBackupFile(path, dbPath, { encrypted, compressed: true }, {
    identities,
    signal: options.signal,
    onProgress: report && ((bytesIn: number) => report({ phase, bytesDone: bytesIn, bytesTotal: size })),
  });
  return { bytes: summary.dbBytes, sha256: summary.fileSha256 };
}

/** Why an ASCII-armored age file (age -a) is refused, and what to do with it. */
export function armoredMessage(path: string): string {
  return (
    `"${path}" is an ASCII-armored age file (written by "age -a"), which sqlite-backup does not read: ` +
    `backups are binary age files; decrypt it with "age -d -i <identity file>" or encrypt again without -a`
  );
}

/** Why an age file that decrypts to something else than gzip is refused. */
export function notGzipInsideMessage(path: string): string {
  return (
    `"${path}" decrypts to something that is not gzip: an encrypted backup is a gzip file encrypted with age ` +
    `(as "gzip -c app.db | age -r <recipient>" makes it)`
  );
}

/** Engine progress (database bytes read) as CheckProgress. */
export function integrityProgress(report: (p: CheckProgress) => void) {
  return (p: { bytesRead: number; totalBytes?: number }): void =>
    report({ phase: 'integrity_check', bytesDone: p.bytesRead, bytesTotal: p.totalBytes });
}

function notFoundOrIo(path: string, e: unknown): BackupError {
  if (e instanceof BackupError) return e;
  const errno = (e as NodeJS.ErrnoException).code;
  if (errno === 'ENOENT' || errno === 'ENOTDIR') {
    return new BackupError(ErrorCode.BACKUP_NOT_FOUND, `backup "${path}" does not exist`, { path, errno, cause: e });
  }
  return new BackupError(ErrorCode.IO, `cannot read "${path}": ${(e as Error).message}`, {
    path,
    cause: e,
    errno,
  });
}
