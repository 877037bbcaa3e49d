/**
 * ssh2 errors -> BackupErrors for the SFTP transport. Messages say what failed, where
 * (user@host:port and the remote path) and what was tried; never a passphrase or key material.
 */
import { BackupError, ErrorCode } from '../../errors.js';
import { ConnectAttemptError, SessionLostError, SFTP_STATUS } from './sftp-session.js';

export interface Where {
  host: string;
  port: number;
  username: string;
  location: string;
}

/** TCP errors worth another connect attempt: the server may be restarting or the network blinking. */
const TRANSIENT_SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN']);

/** What authentication will offer, for EAUTH messages: paths and socket names, never secrets. */
export function describeAuth(o: { privateKey?: Buffer | string; privateKeyFile?: string; passphrase?: string; agent?: string }): string {
  const tried: string[] = [];
  const file = typeof o.privateKey === 'string' ? o.privateKey : o.privateKey ? o.privateKeyFile : undefined;
  if (file !== undefined) tried.push(`key file "${file}"${o.passphrase !== undefined ? ' (with a passphrase)' : ''}`);
  else if (o.privateKey) tried.push('the private key given in memory');
  if (o.agent) tried.push(`ssh-agent at "${o.agent}"`);
  return tried.length ? tried.join(', then ') : 'nothing: no private key or agent configured';
}

export function isNotFound(e: unknown): boolean {
  return (e as { code?: unknown })?.code === SFTP_STATUS.NO_SUCH_FILE;
}

/** Below this much free space, a write that failed with a plain FAILURE status hit a full disk. */
const NEARLY_FULL_BYTES = 1024 * 1024;

/**
 * Whether a failed write looks like a full disk (or an exhausted quota). OpenSSH's sftp-server maps
 * ENOSPC to a bare FAILURE ("Failure"), so for that status `freeBytes` (statvfs@openssh.com, asked
 * after the failure) decides; other servers say so in the status code or the message.
 */
export function isDiskFull(e: unknown, freeBytes: number | undefined): boolean {
  const code = (e as { code?: unknown })?.code;
  if (code === SFTP_STATUS.NO_SPACE_ON_FILESYSTEM || code === SFTP_STATUS.QUOTA_EXCEEDED) return true;
  if (typeof code !== 'number') return false;
  if (/no space|disk full|quota/i.test((e as Error)?.message ?? '')) return true;
  return code === SFTP_STATUS.FAILURE && freeBytes !== undefined && freeBytes < NEARLY_FULL_BYTES;
}

function level(e: ConnectAttemptError): string | undefined {
  return e.raw?.level;
}

/** ssh2 throws key parsing failures (bad passphrase, no passphrase, unsupported key) before connecting. */
function isKeyProblem(e: ConnectAttemptError): boolean {
  return level(e) === undefined && /privateKey|private key|passphrase/i.test(e.message);
}

export function isTransientConnectError(e: unknown): boolean {
  if (!(e instanceof ConnectAttemptError) || e.hostKeyRefused || isKeyProblem(e)) return false;
  if (e.timedOut || level(e) === 'client-timeout') return true;
  const code = e.raw?.code;
  if (typeof code === 'string' && TRANSIENT_SOCKET_ERRORS.has(code)) return true;
  return /Connection lost before handshake/.test(e.message);
}

/** The error for a failed connect, after `attempts` attempts. */
export function connectError(
  e: unknown,
  where: Where,
  auth: string,
  attempts: number,
  hostKeyError: (() => Error | undefined) | undefined,
): Error {
  if (e instanceof BackupError) return e;
  const server = `${where.username}@${where.host}:${where.port}`;
  const host = where.host;
  if (!(e instanceof ConnectAttemptError)) {
    return new BackupError(ErrorCode.CONNECT, `cannot connect to ${server}: ${(e as Error).message}`, { host, cause: e });
  }
  if (e.hostKeyRefused) {
    return (
      hostKeyError?.() ??
      new BackupError(ErrorCode.HOST_KEY, `the host key of ${where.host}:${where.port} was refused by the host key check; nothing was sent or read`, {
        host,
        cause: e,
      })
    );
  }
  if (level(e) === 'client-authentication' || level(e) === 'agent') {
    return new BackupError(
      ErrorCode.AUTH,
      `${where.host}:${where.port} refused authentication as "${where.username}" (tried: ${auth}): ${e.message}`,
      { host, cause: e },
    );
  }
  if (isKeyProblem(e)) {
    return new BackupError(ErrorCode.AUTH, `cannot use the private key for ${server} (${auth}): ${e.message}`, { host, cause: e });
  }
  const tries = attempts > 1 ? ` (${attempts} attempts)` : '';
  const code = typeof e.raw?.code === 'string' ? e.raw.code : undefined;
  const why = e.timedOut || level(e) === 'client-timeout' ? `timed out (${e.message})` : e.message;
  return new BackupError(ErrorCode.CONNECT, `cannot connect to ${server}: ${why}${tries}`, {
    host,
    cause: e,
    errno: code || undefined,
  });
}

/**
 * The error for a failed SFTP operation on `path` (an already typed error passes through).
 * `diskFull`: the server ran out of space (see isDiskFull), said as "disk full" with errno ENOSPC.
 */
export function errorFor(e: unknown, op: string, path: string, where: Where, diskFull = false): Error {
  if (e instanceof BackupError) return e;
  const host = where.host;
  const server = `${where.username}@${where.host}:${where.port}`;
  if (e instanceof SessionLostError) {
    return new BackupError(ErrorCode.CONNECT, `${op} of "${path}" on ${server} failed: ${e.message}`, { path, host, cause: e });
  }
  const code = (e as { code?: unknown })?.code;
  const message = (e as Error)?.message ?? String(e);
  if (code === SFTP_STATUS.NO_SUCH_FILE) {
    return new BackupError(ErrorCode.BACKUP_NOT_FOUND, `"${path}" does not exist on ${where.host}:${where.port}`, {
      path,
      host,
      errno: 'ENOENT',
      cause: e,
    });
  }
  if (code === SFTP_STATUS.NO_CONNECTION || code === SFTP_STATUS.CONNECTION_LOST) {
    return new BackupError(ErrorCode.CONNECT, `${op} of "${path}" on ${server} failed: connection lost (${message})`, { path, host, cause: e });
  }
  const errno = diskFull ? 'ENOSPC' : code === SFTP_STATUS.PERMISSION_DENIED ? 'EACCES' : undefined;
  const why = diskFull ? `disk full (${message})` : message;
  return new BackupError(ErrorCode.IO, `${op} of "${path}" on ${server} failed: ${why}`, {
    path,
    host,
    cause: e,
    errno,
  });
}
