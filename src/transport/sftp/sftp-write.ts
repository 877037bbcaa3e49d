/**
 * Writing a file over SFTP, the way LocalTransport writes one (src/fs/atomic.ts): `mkdir -p` of the
 * directory (0700), then `<name>.tmp-<12 hex>` created exclusively 0600, written, fsync@openssh.com,
 * closed, and posix-rename@openssh.com over the final name. A reader sees the old file until the
 * rename; on failure or abort the temp file is closed and removed (a lost connection leaves it for
 * the store's sweep).
 *
 * The bytes go through pipelinedWrite, the twin of sftp-read.ts: each write request costs a round
 * trip, so one at a time moves one chunk per RTT; up to `concurrency` requests stay in flight.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { AbortError, BackupError, ErrorCode } from '../../errors.js';
import { TEMP_MARKER } from '../../fs/atomic.js';
import { abortPromise, raceIdle, type PipelineOptions } from './sftp-read.js';
import { errorFor, isDiskFull, isNotFound, type Where } from './sftp-errors.js';
import { SessionLostError, SFTP_STATUS, type RawStats, type RawStatvfs, type SftpSession } from './sftp-session.js';

/** 32 x 64 KiB: 2 MiB in flight, OpenSSH's channel window, so the link never waits for acknowledgements. */
export const DEFAULT_WRITE_CONCURRENCY = 32;
export const DEFAULT_WRITE_CHUNK_BYTES = 65_536;

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

export type PositionedWrite = (buf: Buffer, offset: number, length: number, position: number) => Promise<void>;

export type PipelinedWriteOptions = PipelineOptions;

/**
 * Writes `source` from offset 0 in requests of `chunkBytes` (small chunks are gathered, large ones
 * cut; the bytes are copied, so the source may reuse its buffers). Returns the number of bytes
 * written. The abort signal and a failed request stop it at once, also while the source is waited
 * for; memory stays at about concurrency x chunkBytes.
 */
export async function pipelinedWrite(write: PositionedWrite, source: AsyncIterable<Uint8Array>, options: PipelinedWriteOptions): Promise<number> {
  const { concurrency, chunkBytes, signal } = options;
  const inFlight: Promise<Buffer>[] = [];
  const spare: Buffer[] = [];
  let position = 0;
  let buf: Buffer = Buffer.allocUnsafe(chunkBytes);
  let filled = 0;
  let fail: (e: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => {});
  const { promise: aborted, dispose } = abortPromise(signal, options.abortError);
  const stops = aborted ? [failed, aborted] : [failed];

  const send = async (): Promise<void> => {
    if (inFlight.length >= concurrency) spare.push(await acknowledged(inFlight.shift()!, stops, options));
    const chunk = buf;
    const request = write(chunk, 0, filled, position).then(() => chunk);
    request.catch(fail);
    inFlight.push(request);
    position += filled;
    buf = spare.pop() ?? Buffer.allocUnsafe(chunkBytes);
    filled = 0;
  };

  const chunks = source[Symbol.asyncIterator]();
  let sourceDone = false;
  try {
    for (;;) {
      if (signal?.aborted) throw options.abortError();
      const next = chunks.next();
      next.catch(() => {});
      const r = await Promise.race([next, ...stops]);
      if (r.done) break;
      const chunk = r.value;
      for (let off = 0; off < chunk.length; ) {
        const n = Math.min(chunkBytes - filled, chunk.length - off);
        buf.set(chunk.subarray(off, off + n), filled);
        filled += n;
        off += n;
        if (filled === chunkBytes) await send();
      }
    }
    sourceDone = true;
    if (filled > 0) await send();
    while (inFlight.length > 0) await acknowledged(inFlight.shift()!, stops, options);
    return position;
  } finally {
    dispose();
    // Stopped early (abort, failed request): let the source release what it holds. An async
    // generator still running queues this until its pending next() settles.
    if (!sourceDone) chunks.return?.().catch(() => {});
  }
}

/** `request`, or the first failure / the abort / the idle timeout, whichever comes first. */
function acknowledged(request: Promise<Buffer>, stops: Promise<never>[], options: PipelinedWriteOptions): Promise<Buffer> {
  return raceIdle(request, stops, options, 'no acknowledgement');
}

/**
 * mkdir -p of the absolute `dir`: each missing component is created 0700; existing ones are left as
 * they are. Throws EDEST_DIR when it cannot be made (or is not a directory), ECONNECT when the
 * connection goes.
 */
export async function makeRemoteDirs(session: SftpSession, dir: string, where: Where): Promise<void> {
  const cannot = (op: string, path: string, e: unknown): Error => {
    if (e instanceof SessionLostError) return errorFor(e, op, path, where);
    const code = (e as { code?: unknown })?.code;
    const errno = code === SFTP_STATUS.NO_SUCH_FILE ? 'ENOENT' : code === SFTP_STATUS.PERMISSION_DENIED ? 'EACCES' : undefined;
    return new BackupError(ErrorCode.DEST_DIR, `directory "${dir}" on ${where.host}:${where.port} cannot be used (${op} "${path}": ${(e as Error)?.message ?? e})`, {
      path: dir,
      host: where.host,
      cause: e,
      errno,
    });
  };
  const statOf = async (path: string): Promise<RawStats | undefined> => {
    try {
      return await session.call<RawStats>((cb) => session.sftp.stat(path, cb));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw cannot('stat', path, e);
    }
  };

  // Up to the deepest component that exists, then create the rest downwards.
  const missing: string[] = [];
  for (let path = dir; ; path = posix.dirname(path)) {
    const st = await statOf(path);
    if (st) {
      if (!isDirectory(st)) throw cannot('stat', path, new Error('not a directory'));
      break;
    }
    missing.unshift(path);
    if (posix.dirname(path) === path) break;
  }
  for (const path of missing) {
    try {
      await session.call<void>((cb) => session.sftp.mkdir(path, { mode: DIR_MODE }, cb));
    } catch (e) {
      // Made meanwhile by another writer (OpenSSH reports EEXIST as a bare FAILURE): fine if it is a directory now.
      const st = e instanceof SessionLostError ? undefined : await statOf(path).catch(() => undefined);
      if (!st || !isDirectory(st)) throw cannot('mkdir', path, e);
    }
  }
}

export interface UploadTarget {
  session: SftpSession;
  /** Absolute remote directory. */
  dir: string;
  name: string;
  where: Where;
  /** Makes `dir` exist (cached per connection); `again`: it was found missing after all. */
  ensureDir(again: boolean): Promise<void>;
}

export interface UploadOptions {
  signal?: AbortSignal;
  /** Name the temp file `<tempBase>.tmp-<random>` (see WriteOptions.tempBase). @default name */
  tempBase?: string;
  idleTimeoutMs: number;
  concurrency: number;
  chunkBytes: number;
}

/** Uploads `source` to `<dir>/<name>` atomically; returns the size the server reports for it. */
export async function uploadAtomically(target: UploadTarget, source: AsyncIterable<Uint8Array>, options: UploadOptions): Promise<number> {
  const { session, dir, name, where } = target;
  const { signal } = options;
  const path = posix.join(dir, name);
  const tmp = posix.join(dir, `${options.tempBase ?? name}${TEMP_MARKER}${randomBytes(6).toString('hex')}`);
  const abortError = (): Error => new AbortError(`write of "${path}" on ${where.host} aborted`, { path, host: where.host, cause: signal?.reason });
  const { promise: aborted, dispose } = abortPromise(signal, abortError);
  const abortable = <T>(p: Promise<T>): Promise<T> => (aborted ? Promise.race([p, aborted]) : p);
  let step = 'mkdir';
  let opening: Promise<Buffer> | undefined;
  let handle: Buffer | undefined;
  let created = false;
  try {
    if (signal?.aborted) throw abortError();
    await abortable(target.ensureDir(false));
    step = 'create';
    const create = (): Promise<Buffer> => session.call<Buffer>((cb) => session.sftp.open(tmp, 'wx', { mode: FILE_MODE }, cb));
    // The directory was removed behind our back since we made it: make it again, once.
    opening = create().catch(async (e) => (isNotFound(e) ? (await target.ensureDir(true), create()) : Promise.reject(e)));
    handle = await abortable(opening);
    created = true;
    step = 'write';
    const h = handle;
    const sent = await pipelinedWrite((buf, off, len, position) => session.call<number>((cb) => session.sftp.write(h, buf, off, len, position, cb)).then(() => {}), source, {
      concurrency: options.concurrency,
      chunkBytes: options.chunkBytes,
      signal,
      abortError,
      idleTimeoutMs: options.idleTimeoutMs,
      idleError: (ms) => new SessionLostError(`no acknowledgement for ${ms / 1000} s`),
    });
    step = 'fsync';
    if (session.supports('fsync@openssh.com')) await abortable(session.call<void>((cb) => session.sftp.ext_openssh_fsync(h, cb)));
    step = 'fstat';
    const st = await abortable(session.call<RawStats>((cb) => session.sftp.fstat(h, cb)));
    // A server that ignored the mode given to open: tighten it (best effort; some have no modes at all).
    if (st.mode !== undefined && (st.mode & 0o077) !== 0) await session.call<void>((cb) => session.sftp.fchmod(h, FILE_MODE, cb)).catch(() => {});
    step = 'close';
    handle = undefined;
    await abortable(session.call<void>((cb) => session.sftp.close(h, cb)));
    const size = st.size ?? (await session.call<RawStats>((cb) => session.sftp.lstat(tmp, cb))).size;
    if (size !== sent) {
      throw new BackupError(ErrorCode.IO, `write of "${path}" on ${where.host}: the server holds ${size} bytes of the ${sent} sent; nothing was published`, {
        path,
        host: where.host,
      });
    }
    if (signal?.aborted) throw abortError();
    // Once sent, the rename is not abandoned on abort: it may already have published the file.
    step = 'rename';
    await publish(session, tmp, path, where);
    return size;
  } catch (e) {
    // A bare FAILURE may be a full disk: asked before the temp file is removed and frees its space.
    const failure = created && (e as { code?: unknown })?.code === SFTP_STATUS.FAILURE;
    const full = isDiskFull(e, failure ? await freeBytes(session, dir) : undefined);
    if (e instanceof SessionLostError && !session.lost) {
      // No acknowledgement within the idle timeout: the server is hung; drop the connection (the
      // next call reconnects) and leave the temp file to the store's sweep.
      void session.end();
    } else if (!session.lost) {
      const discard = async (h: Buffer): Promise<void> => {
        await session.call<void>((cb) => session.sftp.close(h, cb)).catch(() => {});
        await session.call<void>((cb) => session.sftp.unlink(tmp, cb)).catch(() => {});
      };
      if (handle) await discard(handle);
      else if (created) await session.call<void>((cb) => session.sftp.unlink(tmp, cb)).catch(() => {});
      // Aborted while the temp file was being created: discard it once it exists.
      else opening?.then(discard, () => {});
    }
    throw errorFor(e, step, path, where, full);
  } finally {
    dispose();
  }
}

/**
 * Renames `tmp` over `path`: posix-rename@openssh.com replaces an existing file atomically. Without
 * it, SFTP v3's rename refuses an existing target; the old file is never removed first (that would
 * leave a moment with no file at all), so that case is an error that says why.
 */
async function publish(session: SftpSession, tmp: string, path: string, where: Where): Promise<void> {
  if (session.supports('posix-rename@openssh.com')) {
    await session.call<void>((cb) => session.sftp.ext_openssh_rename(tmp, path, cb));
    return;
  }
  try {
    await session.call<void>((cb) => session.sftp.rename(tmp, path, cb));
  } catch (e) {
    const denied = (e as { code?: unknown })?.code === SFTP_STATUS.PERMISSION_DENIED;
    const exists = !session.lost && !denied && (await session.call<RawStats>((cb) => session.sftp.lstat(path, cb)).then(() => true, () => false));
    if (!exists) throw e;
    throw new BackupError(
      ErrorCode.IO,
      `rename of "${tmp}" -> "${path}" on ${where.username}@${where.host}:${where.port} failed: the server cannot replace files ` +
        `atomically (it does not offer posix-rename@openssh.com) and "${posix.basename(path)}" exists; the old file was kept, the new one not published`,
      { path, host: where.host, cause: e },
    );
  }
}

async function freeBytes(session: SftpSession, dir: string): Promise<number | undefined> {
  if (session.lost || !session.supports('statvfs@openssh.com')) return undefined;
  try {
    const v = await session.call<RawStatvfs>((cb) => session.sftp.ext_openssh_statvfs(dir, cb));
    return Number(v.f_frsize) * Number(v.f_bavail);
  } catch {
    return undefined;
  }
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

function isDirectory(attrs: RawStats): boolean {
  return attrs.mode !== undefined && (attrs.mode & S_IFMT) === S_IFDIR;
}
