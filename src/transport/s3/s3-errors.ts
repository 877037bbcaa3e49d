/**
 * SDK errors -> BackupErrors for the S3 transport: `<op> "s3://bucket/key" failed: <why>`, with
 * `host` set to the endpoint's host. The cause we keep is a short summary of the SDK error (name,
 * code, status, request id), never the SDK object itself (it carries the raw response) and never a
 * credential: the secret key is never sent, so no server answer can echo it.
 */
import { STATUS_CODES } from 'node:http';
import { BackupError, ErrorCode } from '../../errors.js';
import type { S3ErrorShape } from './s3-sdk.js';

export interface S3Where {
  /** Endpoint host[:port]. */
  host: string;
  bucket: string;
  /** Where the credentials come from, for EAUTH messages (never their values). */
  credentialSource: string;
}

const AUTH_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'RequestTimeTooSkewed',
  'AuthorizationHeaderMalformed',
]);

/** Node socket errors and SDK timeouts: the endpoint is unreachable, silent, or went away. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

export function statusOf(e: unknown): number | undefined {
  return (e as S3ErrorShape)?.$metadata?.httpStatusCode;
}

/** The server's error code (NoSuchKey, AccessDenied...), or the error's name. */
function serverCode(e: S3ErrorShape): string {
  const vague = (x: string | undefined) => !x || x === 'Error' || x === 'Unknown' || x === 'UnknownError';
  if (!vague(e.Code)) return e.Code!;
  if (!vague(e.name)) return e.name!;
  // A HEAD answer has no body, so no code: the status says it.
  const status = e.$metadata?.httpStatusCode;
  return e.code ?? (status && STATUS_CODES[status] ? STATUS_CODES[status]!.replace(/ /g, '') : 'Error');
}

export function isNotFoundStatus(e: unknown): boolean {
  return statusOf(e) === 404;
}

export function isNoSuchBucket(e: unknown): boolean {
  const s = e as S3ErrorShape;
  return s?.name === 'NoSuchBucket' || s?.Code === 'NoSuchBucket';
}

/** GetObject's "no such object". A bare 404 (no S3 error code) is not one: it may not be an S3 server. */
export function isNoSuchKey(e: unknown): boolean {
  const s = e as S3ErrorShape;
  return s?.name === 'NoSuchKey' || s?.Code === 'NoSuchKey';
}

export function isNetworkError(e: unknown): boolean {
  const s = e as S3ErrorShape;
  if (!s || s.name === 'AbortError' || statusOf(e) !== undefined) return false;
  return s.name === 'TimeoutError' || NETWORK_CODES.has(s.code ?? '') || /socket hang up|aborted|premature close/i.test(s.message ?? '');
}

/** The EBACKUP_NOT_FOUND for a bucket that does not exist (it must never look like an empty store). */
export function noSuchBucket(where: S3Where, op: string, cause?: unknown): BackupError {
  return new BackupError(ErrorCode.BACKUP_NOT_FOUND, `${op} failed: bucket "${where.bucket}" does not exist on ${where.host}`, {
    path: `s3://${where.bucket}`,
    host: where.host,
    cause: cause === undefined ? undefined : summary(cause),
  });
}

export function noSuchObject(where: S3Where, url: string, cause?: unknown): BackupError {
  return new BackupError(ErrorCode.BACKUP_NOT_FOUND, `"${url}" does not exist on ${where.host}`, {
    path: url,
    host: where.host,
    errno: 'ENOENT',
    cause: cause === undefined ? undefined : summary(cause),
  });
}

/** The error for a failed S3 request `op` on `url` (a BackupError passes through unchanged). */
export function s3Error(e: unknown, op: string, url: string, where: S3Where): BackupError {
  if (e instanceof BackupError) return e;
  const s = (e ?? {}) as S3ErrorShape;
  const status = statusOf(e);
  const host = where.host;
  const code = serverCode(s);
  const details = { path: url, host, cause: summary(e) };
  if (isNoSuchBucket(e)) return noSuchBucket(where, `${op} "${url}"`, e);
  if (isNoSuchKey(e)) return noSuchObject(where, url, e);
  if (code === 'CredentialsProviderError') {
    const why = `no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or pass credentials (${firstLine(s.message)})`;
    return new BackupError(ErrorCode.AUTH, `${op} "${url}" failed: ${why}`, details);
  }
  if (AUTH_CODES.has(code) || status === 403 || status === 401) {
    const what = status ? `${code} (${status})` : `${code}: ${s.message ?? ''}`;
    return new BackupError(ErrorCode.AUTH, `${op} "${url}" failed: ${host} refused the credentials from ${where.credentialSource}: ${what}`, details);
  }
  if (isNetworkError(e)) {
    const why = s.name === 'TimeoutError' ? `no answer from ${host} in time (${firstLine(s.message)})` : `connection to ${host} failed (${s.code ?? firstLine(s.message)})`;
    return new BackupError(ErrorCode.CONNECT, `${op} "${url}" failed: ${why}`, { ...details, errno: s.code || undefined });
  }
  const why = status ? `${code} (${status})` : `${code}: ${firstLine(s.message)}`;
  return new BackupError(ErrorCode.IO, `${op} "${url}" failed: ${why}`, details);
}

function firstLine(message: string | undefined): string {
  return (message ?? '').split('\n')[0]!.replace(/^@smithy\/node-http-handler - /, '').slice(0, 200);
}

/** A plain Error that says what the SDK error said, without the SDK object and its raw response. */
export function summary(e: unknown): Error {
  const s = (e ?? {}) as S3ErrorShape;
  const status = statusOf(e);
  const out = new Error(firstLine(s.message) || serverCode(s));
  out.name = s.name ?? 'Error';
  const extra: Record<string, unknown> = {};
  if (s.code) extra.code = s.code;
  if (s.Code) extra.Code = s.Code;
  if (status !== undefined) extra.statusCode = status;
  if (s.$metadata?.requestId) extra.requestId = s.$metadata.requestId;
  return Object.assign(out, extra);
}
