/**
 * Store URLs, as `[[push]] url`, `[pull] url` and the CLI's `list`/`prune`/`verify` take them:
 * `s3://bucket/prefix`, `sftp://user@host[:port]/absolute/path` (or `/~/relative` to the login
 * directory), `file:///path`, or a plain local path.
 */
import { fileURLToPath } from 'node:url';
import { BackupError, ErrorCode } from '../errors.js';
import { parseS3Url } from '../transport/s3/s3-options.js';

/** What a store URL names, as parseStoreUrl reads it. */
export type StoreUrl =
  | { kind: 's3'; url: string; bucket: string; prefix: string }
  | { kind: 'sftp'; url: string; host: string; port: number; user: string; remoteDir: string }
  | { kind: 'local'; url: string; dir: string };

/** Whether `text` is a URL we route to a remote store (s3:// or sftp://). */
export function isRemoteStoreUrl(text: string): boolean {
  return /^(s3|sftp):\/\//i.test(text);
}

/**
 * What a store URL names: `s3://bucket/prefix`, `sftp://user@host[:port]/path`, `file:///path` or a
 * local path. Throws ECONFIG for anything else, and for a password in the URL.
 */
export function parseStoreUrl(text: string): StoreUrl {
  // A password typed into a URL is refused, and never repeated in the message.
  const shown = text.replace(/^([a-z0-9+.-]+:\/\/[^/@:]*):[^/@]*@/i, '$1:***@');
  const bad = (why: string) =>
    new BackupError(ErrorCode.CONFIG, `store URL ${JSON.stringify(shown)} ${why}; expected s3://bucket/prefix, sftp://user@host[:port]/path or a local path`);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: 'local', url: text, dir: text };
  if (scheme === 's3') return { kind: 's3', url: text, ...parseS3Url(text) };
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw bad('is not a valid URL');
  }
  if (u.search || u.hash) throw bad('must not have a query or fragment');
  if (scheme === 'file') return { kind: 'local', url: text, dir: fileURLToPath(u) };
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
