/**
 * Options of SftpTransport: defaults, validation, the `sftp://` location, and the private key file.
 */
import { open } from 'node:fs/promises';
import { BackupError, ErrorCode } from '../../errors.js';

export const SFTP_KIND = 'sftp';
export const DEFAULT_SFTP_PORT = 22;
/** Litestream's DefaultDialTimeout. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
/**
 * Bytes of read requests in flight by default (readConcurrency x readChunkBytes): ssh2's channel
 * window (2 MiB) lets no more than this arrive before we read it, so more requests would only wait
 * in the server's queue while their buffers took memory.
 */
export const DEFAULT_READ_BYTES_IN_FLIGHT = 2 * 1048576;
const MAX_READ_CHUNK_BYTES = 16 * 1024 * 1024;
export const DEFAULT_CONNECT_RETRIES = 2;
export const DEFAULT_RETRY_DELAY_MS = 250;
export const DEFAULT_KEEPALIVE_INTERVAL_MS = 10_000;
/** A read that gets no data for this long fails as a lost connection (and a pull resumes over a new one). */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** Options of SftpTransport. */
export interface SftpTransportOptions {
  host: string;
  /** @default 22 */
  port?: number;
  username: string;
  /** An OpenSSH/PEM private key, or the path of its file (read at connect time). */
  privateKey?: Buffer | string;
  /** How messages name a `privateKey` given as bytes: the file it was read from. */
  privateKeyFile?: string;
  /** Passphrase of an encrypted private key. Never shown in messages. */
  passphrase?: string;
  /** ssh-agent socket path (e.g. process.env.SSH_AUTH_SOCK). Tried after the key, if both are given. */
  agent?: string;
  /**
   * POSIX directory holding the backups. Relative paths are relative to the SFTP login directory
   * (the server's `realpath('.')`, usually the home directory).
   */
  remoteDir: string;
  /**
   * Decides whether the server's host key (raw SSH key blob) is trusted. Required: there is no
   * accept-everything default (see createHostKeyCheck in host-key.ts).
   */
  hostVerifier: (keyBlob: Buffer) => boolean;
  /**
   * When the verifier refused, the error to throw instead of the generic EHOST_KEY (the verifier's
   * owner knows why, e.g. HostKeyCheck.error()).
   */
  hostKeyError?: () => Error | undefined;
  /** ssh2 `algorithms.serverHostKey`, in preference order (the algorithms of known keys first). */
  serverHostKeyAlgorithms?: string[];
  /** Limit for one connection attempt: TCP connect, handshake, authentication, SFTP subsystem (ssh2's readyTimeout). @default 30000 */
  connectTimeoutMs?: number;
  /** Connect attempts after the first, only after transient failures (refused, reset, timeout), never after auth or host key failures. @default 2 */
  retries?: number;
  /** Wait before the first retry; doubles each time. @default 250 */
  retryDelayMs?: number;
  /** SSH keepalive interval: a silently dead connection fails after 3 unanswered keepalives. @default 10000 */
  keepaliveIntervalMs?: number;
  /**
   * read() fails with ECONNECT when no data arrives for this long (keepalives only catch a dead
   * connection, not a server that stopped answering reads). @default 60000
   */
  idleTimeoutMs?: number;
  /**
   * Read requests in flight during read(). Memory use is readConcurrency x readChunkBytes.
   * @default as many as make 2 MiB (8 of 255 KiB from OpenSSH)
   */
  readConcurrency?: number;
  /**
   * Bytes per read request, at most 16 MiB. ssh2 splits a request above the server's limit into
   * requests that wait for each other, so the default is that limit: the most one round trip carries.
   * @default the server's maximum read length (`limits@openssh.com`: 255 KiB from OpenSSH; 31 KiB from a server without that extension)
   */
  readChunkBytes?: number;
}

/** Checks the options a program could get wrong; the host key check cannot be left out. */
export function validateSftpOptions(options: SftpTransportOptions): void {
  if (typeof options.hostVerifier !== 'function') {
    throw new TypeError('SftpTransport needs a hostVerifier: host keys are always checked');
  }
  const port = options.port ?? DEFAULT_SFTP_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`port must be 1-65535, got ${port}`);
  for (const key of ['readConcurrency', 'readChunkBytes', 'connectTimeoutMs', 'idleTimeoutMs'] as const) {
    const v = options[key];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new RangeError(`${key} must be a positive integer, got ${v}`);
  }
  if ((options.readChunkBytes ?? 0) > MAX_READ_CHUNK_BYTES) {
    throw new RangeError(`readChunkBytes must be at most ${MAX_READ_CHUNK_BYTES}, got ${options.readChunkBytes}`);
  }
  for (const key of ['retries', 'retryDelayMs'] as const) {
    const v = options[key];
    if (v !== undefined && !(Number.isInteger(v) && v >= 0)) throw new RangeError(`${key} must be an integer >= 0, got ${v}`);
  }
  if (typeof options.remoteDir !== 'string' || options.remoteDir === '' || options.remoteDir.includes('\0')) {
    throw new RangeError('remoteDir must be a non-empty path');
  }
}

/** `sftp://user@host:port/dir`; a login-relative dir shows as `/~/dir` (the sftp URI draft's form). */
export function sftpLocation(options: SftpTransportOptions): string {
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const dir = options.remoteDir.startsWith('/') ? options.remoteDir : `/~/${options.remoteDir}`;
  return `sftp://${options.username}@${host}:${options.port ?? DEFAULT_SFTP_PORT}${dir}`;
}

/** The private key as bytes: read from its file at connect time (EAUTH naming the file if that fails). */
export async function readPrivateKey(options: SftpTransportOptions): Promise<Buffer | undefined> {
  const key = options.privateKey;
  if (key === undefined || Buffer.isBuffer(key)) return key;
  try {
    return await readKeyFile(key);
  } catch (e) {
    if (e instanceof BackupError) throw e;
    const errno = (e as NodeJS.ErrnoException).code;
    throw new BackupError(ErrorCode.AUTH, `cannot read the private key file "${key}" (${errno ?? (e as Error).message})`, {
      path: key,
      host: options.host,
      cause: e,
      errno,
    });
  }
}

/**
 * A private key file's bytes. Refused like OpenSSH refuses it (sshkey_perm_ok: "UNPROTECTED PRIVATE
 * KEY FILE") when it belongs to us and group or others may access it: ECONFIG naming the file, its
 * mode and the fix. As in OpenSSH, a key owned by another user (root:backup 0640, read through the
 * group) is not ours to judge. Not checked on Windows: it has no POSIX modes (Node reports 0o666 or
 * 0o444 for every file) and OpenSSH for Windows checks ACLs instead. Read errors are thrown as they
 * are: the caller says which setting named the file.
 */
export async function readKeyFile(path: string): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const st = await file.stat();
    const ours = st.uid === process.getuid?.();
    if (process.platform !== 'win32' && ours && st.isFile() && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw new BackupError(
        ErrorCode.CONFIG,
        `UNPROTECTED PRIVATE KEY FILE: "${path}" has mode ${mode}, so other users may read it; ` +
          `like ssh, we refuse a key that is not private. Fix: chmod 600 ${shellQuote(path)}`,
        { path },
      );
    }
    return await file.readFile();
  } finally {
    await file.close();
  }
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9@%+=:,./_~-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
