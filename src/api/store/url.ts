/**
 * Store URLs, as `[[push]] url`, `[pull] url` and the CLI's `list`/`prune`/`verify` take them:
 * `s3://bucket/prefix`, `sftp://user@host[:port]/absolute/path` (or `/~/relative` to the login
 * directory), `file:///path`, or a plain local path.
 */
import { fileURLToPath } from 'node:url';
import { BackupError, ErrorCode } from '../../errors.js';

export type StoreUrl =
  | { kind: 's3'; url: string; bucket: string; prefix: string }
  | { kind: 'sftp'; url: string; host: string; port: number; user: string; remoteDir: string }
  | { kind: 'local'; url: string; dir: string };

/** Whether `text` is a URL we route to a remote store (s3:// or sftp://). */
export function isRemoteStoreUrl(text: string): boolean {
  return /^(s3|sftp):\/\//i.test(text);
}

export function parseStoreUrl(text: string): StoreUrl {
  const bad = (why: string) =>
    new BackupError(ErrorCode.CONFIG, `store URL ${JSON.stringify(text)} ${why}; expected s3://bucket/prefix, sftp://user@host[:port]/path or a local path`);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: 'local', url: text, dir: text };
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw bad('is not a valid URL');
  }
  if (u.search || u.hash) throw bad('must not have a query or fragment');
  if (scheme === 'file') return { kind: 'local', url: text, dir: fileURLToPath(u) };
  if (scheme === 's3') {
    const bucket = u.hostname;
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw bad(`has no valid bucket name (got ${JSON.stringify(bucket)})`);
    if (u.username || u.password || u.port) throw bad('must not carry credentials or a port (use endpoint and the AWS_* environment)');
    const prefix = decodeURIComponent(u.pathname).replace(/^\/+|\/+$/g, '');
    if (prefix.split('/').some((part) => part === '..' || part === '.')) throw bad('has "." or ".." in its prefix');
    return { kind: 's3', url: text, bucket, prefix };
  }
  if (scheme === 'sftp') {
    if (u.password) throw bad('must not carry a password (authenticate with a key)');
    if (!u.username) throw bad('has no user (sftp://user@host/path)');
    if (!u.hostname) throw bad('has no host');
    const path = decodeURIComponent(u.pathname);
    if (path === '' || path === '/') throw bad('has no directory');
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const remoteDir = path.startsWith('/~/') ? path.slice(3) : path;
    return { kind: 'sftp', url: text, host, port: u.port ? Number(u.port) : 22, user: decodeURIComponent(u.username), remoteDir };
  }
  throw bad(`has the unsupported scheme "${scheme}:"`);
}
