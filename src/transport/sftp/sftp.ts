/**
 * SftpTransport: a backup directory on an SFTP server (OpenSSH or any SFTP v3 server), read and
 * written with many outstanding requests (writes: a temp file renamed over the name, sftp-write.ts).
 * Like Litestream's SFTP replica client: the connection is opened lazily on first use and cached;
 * it is dropped only when it is lost (then the next call reconnects), and close() ends it. The host
 * key is always checked: `hostVerifier` is required.
 */
import { posix } from 'node:path';
import { AbortError, BackupError, ErrorCode, throwIfAborted } from '../../errors.js';
import type { ReadOptions, RemoteFile, Transport, WriteOptions, WriteResult, WriteSource } from '../types.js';
import { checkTransportName, isPlainFileName } from '../names.js';
import { pipelinedRead, raceAbort } from './sftp-read.js';
import { SessionLostError, SFTP_STATUS, SftpSession, type RawDirEntry, type RawStats } from './sftp-session.js';
import { connectError, describeAuth, errorFor, isNotFound, isTransientConnectError, type Where } from './sftp-errors.js';
import { DEFAULT_WRITE_CHUNK_BYTES, DEFAULT_WRITE_CONCURRENCY, makeRemoteDirs, uploadAtomically } from './sftp-write.js';
import { writeChunks } from '../write-source.js';

import {
  DEFAULT_CONNECT_RETRIES,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_KEEPALIVE_INTERVAL_MS,
  DEFAULT_READ_BYTES_IN_FLIGHT,
  DEFAULT_RETRY_DELAY_MS,
  DEFAULT_SFTP_PORT,
  SFTP_KIND,
  readPrivateKey,
  sftpLocation,
  validateSftpOptions,
  type SftpTransportOptions,
} from './sftp-options.js';

export type { SftpTransportOptions } from './sftp-options.js';

interface Connected {
  session: SftpSession;
  /** Absolute remote directory. */
  dir: string;
  /** mkdir -p of `dir`, done once per connection by the first write. */
  dirMade?: Promise<void>;
}

/**
 * A directory on an SFTP server as a Transport. The connection opens on first use, reconnects after
 * it is lost, and ends with close(). The host key is always checked: `hostVerifier` is required
 * (createHostKeyCheck makes one from known_hosts or a pinned fingerprint).
 */
export class SftpTransport implements Transport {
  readonly kind = SFTP_KIND;
  readonly location: string;
  private readonly options: Readonly<SftpTransportOptions>;
  private readonly where: Where;
  private connecting: Promise<Connected> | undefined;

  constructor(options: SftpTransportOptions) {
    validateSftpOptions(options);
    const port = options.port ?? DEFAULT_SFTP_PORT;
    this.options = { ...options, port };
    this.location = sftpLocation(options);
    this.where = { host: options.host, port, username: options.username, location: this.location };
  }

  async list(options: { signal?: AbortSignal } = {}): Promise<RemoteFile[]> {
    return this.withConnection('list', undefined, options.signal, async ({ session, dir }) => {
      let entries;
      try {
        entries = await readDirectory(session, dir);
      } catch (e) {
        if (isNotFound(e)) return [];
        throw e;
      }
      return entries
        .filter((e) => isPlainFileName(e.filename) && isRegular(e.attrs))
        .map((e) => remoteFile(e.filename, e.attrs))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    });
  }

  async dirExists(options: { signal?: AbortSignal } = {}): Promise<boolean> {
    return this.withConnection('stat', undefined, options.signal, async ({ session, dir }) => {
      // stat, not lstat: a symlinked backup directory is a directory (readdir follows it too).
      const attrs = await session.call<RawStats>((cb) => session.sftp.stat(dir, cb)).catch((e: unknown) => {
        if (isNotFound(e)) return undefined;
        throw e;
      });
      return attrs !== undefined && ((attrs.mode ?? 0) & S_IFMT) === S_IFDIR;
    });
  }

  async stat(name: string, options: { signal?: AbortSignal } = {}): Promise<RemoteFile | undefined> {
    checkTransportName(name, this.location);
    return this.withConnection('stat', name, options.signal, async ({ session, dir }) => {
      const attrs = await this.lstat(session, posix.join(dir, name));
      return attrs && isRegular(attrs) ? remoteFile(name, attrs) : undefined;
    });
  }

  async *read(name: string, options: ReadOptions = {}): AsyncGenerator<Uint8Array> {
    checkTransportName(name, this.location);
    const { signal } = options;
    const start = options.start ?? 0;
    if (!(Number.isSafeInteger(start) && start >= 0)) throw new RangeError(`start must be an integer >= 0, got ${start}`);
    const opening = this.withConnection('open', name, undefined, (c) => this.openHandle(c, name));
    const { session, handle, attrs, path } = await raceAbort(opening, signal, `read of "${name}" on ${this.where.host}`).catch((e) => {
      // Aborted while opening: close the handle once the open completes.
      opening.then((o) => o.session.fireAndForget((cb) => o.session.sftp.close(o.handle, cb)), () => {});
      throw e;
    });
    let finished = false;
    const chunkBytes = this.options.readChunkBytes ?? session.maxReadBytes;
    try {
      yield* pipelinedRead(
        (buf, off, len, position) => session.call<number>((cb) => session.sftp.read(handle, buf, off, len, position, cb)),
        {
          start,
          // The size lstat saw just before the open, without an fstat round trip: only a hint, the
          // reads go on to EOF whatever it says (a file replaced in between is read as it is).
          sizeHint: attrs.size ?? 0,
          concurrency: this.options.readConcurrency ?? Math.ceil(DEFAULT_READ_BYTES_IN_FLIGHT / chunkBytes),
          chunkBytes,
          signal,
          idleTimeoutMs: this.options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
          idleError: (ms) => new SessionLostError(`no data for ${ms / 1000} s`),
          abortError: () => new AbortError(`read of "${path}" on ${this.where.host} aborted`, { path, host: this.where.host, cause: signal?.reason }),
        },
      );
      finished = true;
    } catch (e) {
      // No data within the idle limit: the server is hung. Drop the connection now (a goodbye would
      // wait for it in vain); the next call reconnects.
      if (e instanceof SessionLostError && !session.lost) session.destroy();
      throw errorFor(e, 'read', path, this.where);
    } finally {
      if (finished) {
        await session.call<void>((cb) => session.sftp.close(handle, cb)).catch(() => {});
      } else {
        // Stopped early (abort, error, consumer left): the requests still in flight would delay a
        // waited-for close by up to concurrency x chunk bytes; the server handles them, then the close.
        session.fireAndForget((cb) => session.sftp.close(handle, cb));
      }
    }
  }

  async readText(name: string, maxBytes: number, options: { signal?: AbortSignal } = {}): Promise<string | undefined> {
    checkTransportName(name, this.location);
    if (!(Number.isSafeInteger(maxBytes) && maxBytes >= 0)) throw new RangeError(`maxBytes must be an integer >= 0, got ${maxBytes}`);
    return this.withConnection('read', name, options.signal, async (c) => {
      let opened;
      try {
        opened = await this.openHandle(c, name);
      } catch (e) {
        if (e instanceof BackupError && e.code === ErrorCode.BACKUP_NOT_FOUND) return undefined;
        throw e;
      }
      const { session, handle } = opened;
      try {
        // The size travels with the first read (fstat sent along, not before it): a file read up to
        // exactly its size is whole, without one more read to meet EOF. Small files take one round
        // trip; a file that grew meanwhile is read on to EOF (or maxBytes) as before.
        const size = session.call<RawStats>((cb) => session.sftp.fstat(handle, cb)).then((st) => st.size);
        size.catch(() => {}); // awaited below, unless a read fails first
        const buf = Buffer.alloc(maxBytes);
        let filled = 0;
        while (filled < maxBytes) {
          const n = await session.call<number>((cb) => session.sftp.read(handle, buf, filled, maxBytes - filled, filled, cb));
          if (n === 0) break;
          filled += n;
          const whole = await size;
          if (filled === whole) break;
        }
        return buf.toString('utf8', 0, filled);
      } finally {
        // Not waited for: the server handles it before any later request of this connection.
        session.fireAndForget((cb) => session.sftp.close(handle, cb));
      }
    });
  }

  async write(name: string, data: WriteSource, options: WriteOptions = {}): Promise<WriteResult> {
    checkTransportName(name, this.location);
    const { signal } = options;
    const what = `write of "${name}" on ${this.where.host}`;
    throwIfAborted(signal, what);
    const connected = await raceAbort(this.connection(), signal, what);
    const size = await uploadAtomically(
      { session: connected.session, dir: connected.dir, name, where: this.where, ensureDir: (again) => this.ensureDir(connected, again) },
      writeChunks(data, options, posix.join(connected.dir, name)),
      {
        signal,
        tempBase: options.tempBase,
        idleTimeoutMs: this.options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
        concurrency: DEFAULT_WRITE_CONCURRENCY,
        chunkBytes: DEFAULT_WRITE_CHUNK_BYTES,
      },
    );
    return { name, size };
  }

  async remove(name: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    checkTransportName(name, this.location);
    return this.withConnection('remove', name, options.signal, async ({ session, dir }) => {
      const path = posix.join(dir, name);
      try {
        await session.call<void>((cb) => session.sftp.unlink(path, cb));
        return true;
      } catch (e) {
        if (isNotFound(e)) return false;
        // Like LocalTransport: a directory under the name is not a file to remove.
        const attrs = await this.lstat(session, path).catch(() => undefined);
        if (((attrs?.mode ?? 0) & S_IFMT) === S_IFDIR) return false;
        throw e;
      }
    });
  }

  async close(): Promise<void> {
    const connecting = this.connecting;
    this.connecting = undefined;
    if (!connecting) return;
    const connected = await connecting.catch(() => undefined);
    await connected?.session.end();
  }

  /**
   * The cached connection, opened on first use. A connection found lost before this call starts is
   * replaced at once (nothing was in flight); one lost during the call fails the call, and the next
   * call reconnects. A failed connect is not cached.
   */
  private connection(): Promise<Connected> {
    const current = this.connecting;
    if (current) {
      return current.then((c) => {
        if (!c.session.lost) return c;
        c.session.destroy();
        if (this.connecting === current) this.connecting = undefined;
        return this.connection();
      });
    }
    const fresh = this.connect();
    this.connecting = fresh;
    fresh.catch(() => {
      if (this.connecting === fresh) this.connecting = undefined;
    });
    return fresh;
  }

  /** The connection, then `fn`; errors mapped to BackupErrors. */
  private async withConnection<T>(op: string, name: string | undefined, signal: AbortSignal | undefined, fn: (c: Connected) => Promise<T>): Promise<T> {
    throwIfAborted(signal, `${op} on ${this.where.host}`);
    // The connect itself is shared: one caller's abort stops its wait, not the connect.
    const connected = await raceAbort(this.connection(), signal, `${op} on ${this.where.host}`);
    const path = name === undefined ? connected.dir : posix.join(connected.dir, name);
    try {
      return await raceAbort(fn(connected), signal, `${op} of "${path}"`);
    } catch (e) {
      throw errorFor(e, op, path, this.where);
    }
  }

  private async connect(): Promise<Connected> {
    const o = this.options;
    const privateKey = await readPrivateKey(o);
    const retries = o.retries ?? DEFAULT_CONNECT_RETRIES;
    const timeoutMs = o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    for (let attempt = 0; ; attempt++) {
      let session: SftpSession;
      try {
        session = await SftpSession.open({
          host: o.host,
          port: this.where.port,
          username: o.username,
          privateKey,
          passphrase: o.passphrase,
          agent: o.agent || undefined,
          hostVerifier: o.hostVerifier,
          serverHostKeyAlgorithms: o.serverHostKeyAlgorithms,
          timeoutMs,
          keepaliveIntervalMs: o.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_INTERVAL_MS,
        });
      } catch (e) {
        const attempts = attempt + 1;
        if (attempt < retries && isTransientConnectError(e)) {
          await sleep((o.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS) * 2 ** attempt);
          continue;
        }
        throw connectError(e, this.where, describeAuth(o), attempts, o.hostKeyError);
      }
      // An absolute directory is the same whatever the login directory: no realpath round trip.
      if (o.remoteDir.startsWith('/')) return { session, dir: posix.resolve(o.remoteDir) };
      try {
        const home = await session.call<string>((cb) => session.sftp.realpath('.', cb));
        // posix only: a Windows client must not turn /srv/backups into \srv\backups (the Go client did).
        return { session, dir: posix.resolve(home, o.remoteDir) };
      } catch (e) {
        await session.end();
        throw errorFor(e, 'realpath', '.', this.where);
      }
    }
  }

  /** The directory made (mkdir -p, 0700) once per connection; `again` after it was found missing. */
  private ensureDir(c: Connected, again: boolean): Promise<void> {
    if (c.dirMade && !again) return c.dirMade;
    const made = makeRemoteDirs(c.session, c.dir, this.where);
    c.dirMade = made;
    // A failure is not cached: the next write tries again.
    made.catch(() => {
      if (c.dirMade === made) c.dirMade = undefined;
    });
    return made;
  }

  /** Opens regular file `name` for reading; EBACKUP_NOT_FOUND when there is none (a symlink is none). */
  private async openHandle({ session, dir }: Connected, name: string): Promise<{ session: SftpSession; handle: Buffer; path: string; attrs: RawStats }> {
    const path = posix.join(dir, name);
    const attrs = await this.lstat(session, path);
    // Like LocalTransport: only regular files; a symlink could point out of the backup directory.
    if (!attrs || !isRegular(attrs)) {
      throw new BackupError(ErrorCode.BACKUP_NOT_FOUND, `"${path}" does not exist on ${this.where.host}:${this.where.port}`, {
        path,
        host: this.where.host,
        errno: 'ENOENT',
      });
    }
    let handle: Buffer;
    try {
      handle = await session.call<Buffer>((cb) => session.sftp.open(path, 'r', cb));
    } catch (e) {
      // Deleted between lstat and open: the same answer as if lstat had not found it.
      throw errorFor(e, 'open', path, this.where);
    }
    return { session, handle, path, attrs };
  }

  private async lstat(session: SftpSession, path: string): Promise<RawStats | undefined> {
    try {
      return await session.call<RawStats>((cb) => session.sftp.lstat(path, cb));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

function isRegular(attrs: RawStats): boolean {
  return attrs.mode !== undefined && (attrs.mode & S_IFMT) === S_IFREG;
}

function remoteFile(name: string, attrs: RawStats): RemoteFile {
  return { name, size: attrs.size ?? 0, mtimeMs: (attrs.mtime ?? 0) * 1000 };
}

/**
 * The entries of directory `path` ('.' and '..' left out), as ssh2's readdir(path) gives them, but
 * without waiting for the directory handle's close: the listing is complete at EOF.
 */
async function readDirectory(session: SftpSession, path: string): Promise<RawDirEntry[]> {
  const handle = await session.call<Buffer>((cb) => session.sftp.opendir(path, cb));
  const entries: RawDirEntry[] = [];
  try {
    for (;;) {
      const batch = await session.call<RawDirEntry[]>((cb) => session.sftp.readdir(handle, cb)).catch((e: unknown) => {
        if ((e as { code?: unknown })?.code === SFTP_STATUS.EOF) return undefined;
        throw e;
      });
      if (batch === undefined) return entries;
      entries.push(...batch);
    }
  } finally {
    session.fireAndForget((cb) => session.sftp.close(handle, cb));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
