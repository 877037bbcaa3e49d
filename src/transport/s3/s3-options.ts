/**
 * Options of S3Transport: defaults, validation, `s3://bucket/prefix` URLs and the location shown in
 * messages. No AWS SDK type appears here (nor in any exported signature of the library): a consumer
 * without the optional SDK packages must still type-check against our .d.ts files.
 */
import { BackupError, ErrorCode } from '../../errors.js';

export const S3_KIND = 's3';
/** The SDK throws without a region; S3-compatible servers (Ceph RGW, MinIO) accept any. */
export const DEFAULT_S3_REGION = 'us-east-1';
/** TCP connect limit of one request attempt (a host that drops SYNs). */
export const DEFAULT_S3_CONNECT_TIMEOUT_MS = 10_000;
/**
 * A request fails when its socket is idle this long (an endpoint that accepts and never answers, a
 * transfer that stalls). The SDK arms this timer about 3 s after a request starts when it is 6 s or
 * more, so one silent attempt fails after about idle + 3 s.
 */
export const DEFAULT_S3_IDLE_TIMEOUT_MS = 20_000;
/**
 * Attempts per request (the SDK retries network errors, timeouts and 5xx). With the defaults an
 * endpoint that refuses fails within a second, and one that accepts and never answers after about
 * 2 x (20 + 3) s = 46 s: under a minute either way.
 */
export const DEFAULT_S3_MAX_ATTEMPTS = 2;
/** Multipart part size: peak memory of an upload is about (queue + 1) x part, whatever the file size. */
export const DEFAULT_S3_PART_SIZE = 8 * 1024 * 1024;
/** Parts uploaded at the same time. */
export const DEFAULT_S3_QUEUE_SIZE = 2;
/** S3 allows at most 10,000 parts: the part size grows for files above 80 GB (when their size is known). */
export const S3_MAX_PARTS = 10_000;

/** Options of S3Transport. */
export interface S3TransportOptions {
  /** Bucket name (3-63 characters: lowercase letters, digits, `.` and `-`). It must exist. */
  bucket: string;
  /**
   * Key prefix of the backup "directory", without leading or trailing `/`; files are
   * `<prefix>/<name>`. '' stores them at the top of the bucket.
   */
  prefix: string;
  /**
   * Endpoint URL of an S3-compatible server, e.g. `http://127.0.0.1:7480` (Ceph RGW) or
   * `https://minio.example.org`. Unset: AWS S3 of `region`.
   */
  endpoint?: string;
  /**
   * Signing region. Ceph RGW and MinIO accept any; for AWS it should be the bucket's region (a
   * wrong one costs a redirect per request). @default 'us-east-1'
   */
  region?: string;
  /**
   * Path-style URLs (`endpoint/bucket/key`) instead of virtual-hosted ones (`bucket.endpoint/key`).
   * Ceph RGW without wildcard DNS needs them. @default true when `endpoint` is set, else false
   */
  forcePathStyle?: boolean;
  /**
   * Static credentials. Unset: the SDK's standard chain - AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
   * AWS_SESSION_TOKEN in the environment, AWS_PROFILE and the shared ~/.aws files, then container
   * and instance roles. Keep secrets out of config files; they never appear in our messages.
   */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** TCP connect limit per request attempt (the SDK's connectionTimeout). @default 10000 */
  connectTimeoutMs?: number;
  /**
   * A request fails when its socket sees no traffic for this long: an endpoint that accepts and never
   * answers, a stalled upload or download (the SDK's socketTimeout). @default 20000
   */
  idleTimeoutMs?: number;
  /** Attempts per request, the first included; the SDK retries network errors, timeouts and 5xx. @default 2 */
  maxAttempts?: number;
}

/** Why `name` is not an S3 bucket name (undefined when it is one). */
export function bucketNameProblem(name: string): string | undefined {
  if (typeof name !== 'string' || name.length < 3 || name.length > 63) return 'it must be 3-63 characters long';
  if (!/^[a-z0-9.-]+$/.test(name)) return 'it may only hold lowercase letters, digits, "." and "-"';
  if (!/^[a-z0-9].*[a-z0-9]$/.test(name)) return 'it must start and end with a letter or digit';
  if (name.includes('..')) return 'it contains ".."';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return 'it looks like an IP address';
  return undefined;
}

/** Why `prefix` is not a key prefix we accept (undefined when it is one); '' is fine. */
export function prefixProblem(prefix: string): string | undefined {
  if (typeof prefix !== 'string') return 'it must be a string';
  if (prefix === '') return undefined;
  if (prefix.startsWith('/') || prefix.endsWith('/')) return 'it must not start or end with "/"';
  if (/[\u0000-\u001f\u007f\\]/.test(prefix)) return 'it contains a control character or "\\"';
  if (Buffer.byteLength(prefix) > 512) return 'it is longer than 512 bytes';
  for (const part of prefix.split('/')) {
    if (part === '') return 'it contains an empty path segment ("//")';
    if (part === '.' || part === '..') return `it contains a "${part}" segment`;
  }
  return undefined;
}

/**
 * `s3://bucket/some/prefix` -> `{ bucket: 'bucket', prefix: 'some/prefix' }` (`s3://bucket` and
 * `s3://bucket/` give prefix ''). Throws ECONFIG naming the problem for anything else: another scheme,
 * user info, a port, a query or fragment, an invalid bucket name or prefix.
 */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  if (typeof url !== 'string') throw new BackupError(ErrorCode.CONFIG, 'the S3 location is not a string (expected s3://bucket/prefix)');
  // Whatever sits before an @ is a credential typed into the URL: refused below, never repeated.
  const shown = url.replace(/^(s3:\/\/)[^/?#]*@/i, '$1***@');
  const bad = (why: string): BackupError =>
    new BackupError(ErrorCode.CONFIG, `${JSON.stringify(shown)} is not an S3 location like s3://bucket/prefix: ${why}`);
  const m = /^s3:\/\/([^/?#]*)(\/[^?#]*)?([?#].*)?$/i.exec(url);
  if (!m) throw bad('it must start with s3://');
  const [, authority = '', path = '', rest] = m;
  if (rest !== undefined) throw bad('a query string or fragment is not allowed');
  if (authority.includes('@')) throw bad('credentials do not belong in the URL (use the SDK credential chain)');
  if (authority.includes(':')) throw bad('a port does not belong in the URL (set the endpoint instead)');
  const bucketProblem = bucketNameProblem(authority);
  if (bucketProblem) throw bad(`bucket name ${JSON.stringify(authority)}: ${bucketProblem}`);
  let prefix: string;
  try {
    prefix = decodeURIComponent(path.replace(/^\/+|\/+$/g, ''));
  } catch {
    throw bad('the prefix has a malformed %-escape');
  }
  const problem = prefixProblem(prefix);
  if (problem) throw bad(`prefix ${JSON.stringify(prefix)}: ${problem}`);
  return { bucket: authority, prefix };
}

/** `s3://bucket/prefix`, or `s3://bucket` for an empty prefix. */
export function s3Location(bucket: string, prefix: string): string {
  return prefix ? `s3://${bucket}/${prefix}` : `s3://${bucket}`;
}

/** Checks what a program could get wrong (RangeError/TypeError, like the SFTP options). */
export function validateS3Options(options: S3TransportOptions): void {
  if (options === null || typeof options !== 'object') throw new TypeError('S3Transport needs options { bucket, prefix }');
  const bucketProblem = bucketNameProblem(options.bucket);
  if (bucketProblem) throw new RangeError(`bucket ${JSON.stringify(options.bucket)}: ${bucketProblem}`);
  const problem = prefixProblem(options.prefix);
  if (problem) throw new RangeError(`prefix ${JSON.stringify(options.prefix)}: ${problem}`);
  if (options.endpoint !== undefined) {
    let u: URL | undefined;
    try {
      u = new URL(options.endpoint);
    } catch {
      u = undefined;
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password) {
      throw new RangeError(`endpoint must be an http:// or https:// URL without credentials, got ${JSON.stringify(redactUrl(options.endpoint))}`);
    }
  }
  if (options.region !== undefined && !/^[a-z0-9-]{1,64}$/i.test(options.region)) throw new RangeError(`region ${JSON.stringify(options.region)} is not a region name`);
  for (const key of ['connectTimeoutMs', 'idleTimeoutMs', 'maxAttempts'] as const) {
    const v = options[key];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new RangeError(`${key} must be a positive integer, got ${v}`);
  }
  const c = options.credentials;
  if (c !== undefined && (typeof c !== 'object' || c === null || typeof c.accessKeyId !== 'string' || !c.accessKeyId || typeof c.secretAccessKey !== 'string' || !c.secretAccessKey)) {
    throw new TypeError('credentials must hold a non-empty accessKeyId and secretAccessKey');
  }
}

/** The endpoint's host[:port] for messages and BackupError.host; AWS's S3 host when there is none. */
export function s3Host(options: S3TransportOptions): string {
  if (options.endpoint) return new URL(options.endpoint).host;
  return `s3.${options.region ?? DEFAULT_S3_REGION}.amazonaws.com`;
}

/** An URL for a message, with any user:password removed. */
function redactUrl(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//***@');
}
