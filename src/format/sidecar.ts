/**
 * `.sha256` sidecars: `<file>.sha256` holds one line in `sha256sum` format, `<hex>  <file name>\n`,
 * so `sha256sum -c <file>.sha256` works in the backup directory. Hashing streams the file (bounded
 * memory, whatever its size) and honours an AbortSignal between chunks.
 */
import { createHash } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { BackupError, ErrorCode, throwIfAborted } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { SIDECAR_SUFFIX } from './naming.js';

/** Read size for hashing. */
const HASH_CHUNK = 1024 * 1024;
/** A sidecar is one short line; anything bigger is not one of ours (and is not read whole). */
export const MAX_SIDECAR_BYTES = 4096;

export interface HashOptions {
  signal?: AbortSignal;
}

export interface CheckSidecarOptions extends HashOptions {
  /**
   * SHA-256 (hex) of the file when the caller already has it (e.g. computed while downloading or
   * gzipping): the file is then not read again.
   */
  knownHex?: string;
}

export interface Sidecar {
  /** Lower-case hex SHA-256. */
  hex: string;
  /** The file name the sidecar names (without the `*` binary-mode marker). */
  fileName: string;
}

export function sidecarPathFor(filePath: string): string {
  return `${filePath}${SIDECAR_SUFFIX}`;
}

/** SHA-256 (lower-case hex) of a file, read in 1 MiB chunks. Errors: EBACKUP_NOT_FOUND, EIO, EABORTED. */
export async function sha256File(path: string, options: HashOptions = {}): Promise<string> {
  const { signal } = options;
  throwIfAborted(signal, `hashing "${path}"`);
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw fsError('open', path, e);
  }
  try {
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(HASH_CHUNK);
    for (;;) {
      throwIfAborted(signal, `hashing "${path}"`);
      let n: number;
      try {
        ({ bytesRead: n } = await fh.read(buf, 0, buf.length, null));
      } catch (e) {
        throw fsError('read', path, e);
      }
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
    return hash.digest('hex');
  } finally {
    await fh.close().catch(() => {});
  }
}

/** `<hex>  <fileName>\n`: the line `sha256sum` prints (text mode) and `sha256sum -c` reads. */
export function formatSidecar(hex: string, fileName: string): string {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new RangeError(`not a SHA-256 hex digest: ${JSON.stringify(hex)}`);
  // sha256sum escapes names with a newline or backslash; ours never have one (see naming rules).
  if (/[\n\r\\]/.test(fileName) || fileName.includes('/')) {
    throw new RangeError(`file name not allowed in a sidecar: ${JSON.stringify(fileName)}`);
  }
  return `${hex.toLowerCase()}  ${fileName}\n`;
}

/** Writes `<filePath>.sha256` atomically (0600), naming the file by its base name. */
export async function writeSidecar(filePath: string, hex: string): Promise<string> {
  const path = sidecarPathFor(filePath);
  await writeFileAtomic(path, formatSidecar(hex, basename(filePath)));
  return path;
}

/**
 * Reads `<filePath>.sha256`. Returns undefined when there is none. Accepts `<hex>  <name>` and the
 * binary-mode form `<hex> *<name>`, upper- or lower-case hex, CRLF, and a missing final newline.
 * Anything else (several lines, a bad digest) is ECHECKSUM naming the sidecar.
 */
export async function readSidecar(filePath: string): Promise<Sidecar | undefined> {
  const path = sidecarPathFor(filePath);
  let raw: Buffer;
  try {
    const fh = await open(path, 'r');
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw malformed(path, 'not a regular file');
      if (st.size > MAX_SIDECAR_BYTES) throw malformed(path, `${st.size} bytes, expected one line`);
      raw = await readFile(fh);
    } finally {
      await fh.close().catch(() => {});
    }
  } catch (e) {
    if (e instanceof BackupError) throw e;
    const errno = (e as NodeJS.ErrnoException).code;
    if (errno === 'ENOENT') return undefined;
    throw fsError('read', path, e);
  }
  return parseSidecar(raw.toString('utf8'), path);
}

/** Parses a sidecar's text (from a file or a remote server); `where` names it in errors. */
export function parseSidecar(raw: string, where: string): Sidecar {
  const text = raw.replace(/\r?\n$/, '');
  if (/[\r\n]/.test(text)) throw malformed(where, 'more than one line');
  const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(text);
  if (!m) throw malformed(where, `expected "<64 hex digits>  <file name>", got ${JSON.stringify(text.slice(0, 100))}`);
  return { hex: m[1]!.toLowerCase(), fileName: m[2]! };
}

/**
 * Checks a file against its sidecar. 'absent' when there is no sidecar, 'ok' when it matches.
 * A mismatch, a sidecar naming another file, or a malformed sidecar is ECHECKSUM.
 */
export async function checkSidecar(filePath: string, options: CheckSidecarOptions = {}): Promise<'ok' | 'absent'> {
  const sidecar = await sidecarOf(filePath);
  if (!sidecar) return 'absent';
  const actual = options.knownHex?.toLowerCase() ?? (await sha256File(filePath, { signal: options.signal }));
  compareSidecar(filePath, sidecar, actual);
  return 'ok';
}

/**
 * The sidecar of `filePath`, undefined when there is none; ECHECKSUM when it is malformed or names
 * another file. Nothing is hashed: for callers that hash the file anyway on their way through it
 * (a gunzip) and compare afterwards with compareSidecar.
 */
export async function sidecarOf(filePath: string): Promise<Sidecar | undefined> {
  const sidecar = await readSidecar(filePath);
  if (!sidecar) return undefined;
  const name = basename(filePath);
  if (sidecar.fileName !== name) {
    throw new BackupError(
      ErrorCode.CHECKSUM,
      `"${sidecarPathFor(filePath)}" is for ${JSON.stringify(sidecar.fileName)}, not for ${JSON.stringify(name)}`,
      { path: filePath },
    );
  }
  return sidecar;
}

/** ECHECKSUM unless `actualHex` is the sidecar's digest. */
export function compareSidecar(filePath: string, sidecar: Sidecar, actualHex: string): void {
  const actual = actualHex.toLowerCase();
  if (actual !== sidecar.hex) {
    throw new BackupError(
      ErrorCode.CHECKSUM,
      `checksum mismatch: "${filePath}" has sha256 ${actual}, its sidecar says ${sidecar.hex}`,
      { path: filePath },
    );
  }
}

function malformed(path: string, why: string): BackupError {
  return new BackupError(ErrorCode.CHECKSUM, `malformed checksum file "${path}": ${why}`, { path });
}

function fsError(what: string, path: string, e: unknown): BackupError {
  const errno = (e as NodeJS.ErrnoException).code;
  if (errno === 'ENOENT' || errno === 'ENOTDIR') {
    return new BackupError(ErrorCode.BACKUP_NOT_FOUND, `"${path}": no such file`, { path, errno, cause: e });
  }
  if (errno === 'EISDIR') {
    return new BackupError(ErrorCode.BACKUP_NOT_FOUND, `"${path}" is a directory, not a backup file`, { path, errno, cause: e });
  }
  return new BackupError(ErrorCode.IO, `${what} "${path}" failed: ${(e as Error).message}`, {
    path,
    cause: e,
    errno,
  });
}
