/**
 * The AWS SDK v3, loaded on first S3 use: its client-s3 and lib-storage packages (S3_SDK_PACKAGES) are
 * optional peer dependencies, so a process that never touches S3 never loads them, and an install
 * without them works until S3 is used (then ECONFIG says what to install). The `import()` specifiers
 * are literals so that bundlers can follow them.
 *
 * The types below are our own small structural view of the parts we use: the SDK's types must not
 * leak into our published .d.ts files (a consumer without the packages would get TS2307).
 * test/transport.s3.test.ts checks them against the real SDK types.
 */
import { BackupError, ErrorCode } from '../../errors.js';
import {
  DEFAULT_S3_CONNECT_TIMEOUT_MS,
  DEFAULT_S3_IDLE_TIMEOUT_MS,
  DEFAULT_S3_MAX_ATTEMPTS,
  DEFAULT_S3_REGION,
  type S3TransportOptions,
} from './s3-options.js';

export const S3_SDK_PACKAGES: readonly string[] = ['@aws-sdk/client-s3', '@aws-sdk/lib-storage'];
export const S3_SDK_RANGE = '^3.1169.0';

/** A command object; `O` is the output type `send` resolves to (never set at run time). */
export interface S3Command<O> {
  readonly input: object;
  readonly __output?: O;
}
type CommandClass<I, O> = new (input: I) => S3Command<O>;

export interface S3ClientLike {
  send<O>(command: S3Command<O>, options?: { abortSignal?: AbortSignal }): Promise<O>;
  destroy(): void;
}

/** What an SDK error may carry (S3ServiceException, TimeoutError, Node socket errors). */
export interface S3ErrorShape {
  name?: string;
  message?: string;
  code?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

export interface S3Object {
  Key?: string;
  Size?: number;
  LastModified?: Date;
}

export interface S3Sdk {
  S3Client: new (config: S3ClientConfig) => S3ClientLike;
  ListObjectsV2Command: CommandClass<
    { Bucket: string; Prefix?: string; Delimiter?: string; ContinuationToken?: string },
    { Contents?: S3Object[]; IsTruncated?: boolean; NextContinuationToken?: string }
  >;
  HeadObjectCommand: CommandClass<{ Bucket: string; Key: string }, { ContentLength?: number; LastModified?: Date }>;
  HeadBucketCommand: CommandClass<{ Bucket: string }, object>;
  /** Body is a Node Readable (an async iterable of Buffers) in Node. */
  GetObjectCommand: CommandClass<{ Bucket: string; Key: string; Range?: string }, { Body?: unknown; ContentLength?: number }>;
  PutObjectCommand: CommandClass<{ Bucket: string; Key: string; Body: Uint8Array; ContentLength: number; ContentMD5: string }, object>;
  DeleteObjectCommand: CommandClass<{ Bucket: string; Key: string }, object>;
  CreateMultipartUploadCommand: CommandClass<{ Bucket: string; Key: string }, { UploadId?: string }>;
  UploadPartCommand: CommandClass<{ Body?: unknown; ContentMD5?: string }, object>;
  AbortMultipartUploadCommand: CommandClass<{ Bucket: string; Key: string; UploadId: string }, object>;
  ListMultipartUploadsCommand: CommandClass<{ Bucket: string; Prefix?: string }, { Uploads?: { Key?: string; UploadId?: string }[] }>;
  Upload: new (options: {
    client: S3ClientLike;
    params: { Bucket: string; Key: string; Body: unknown };
    partSize: number;
    queueSize: number;
    leavePartsOnError: boolean;
  }) => { done(): Promise<unknown>; readonly uploadId?: string | undefined };
}

interface SilentLogger {
  trace(...a: unknown[]): void;
  debug(...a: unknown[]): void;
  info(...a: unknown[]): void;
  warn(...a: unknown[]): void;
  error(...a: unknown[]): void;
}

export interface S3ClientConfig {
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  maxAttempts: number;
  followRegionRedirects: boolean;
  requestChecksumCalculation: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED';
  responseChecksumValidation: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED';
  requestHandler: { connectionTimeout: number; socketTimeout: number; logger: SilentLogger };
  logger: SilentLogger;
}

/**
 * The SDK's warnings must not reach our users' stderr (`--quiet`, `--json`): with its default
 * NoOpLogger it falls back to console.warn in places; a logger that is not a NoOpLogger keeps it quiet.
 */
export const SILENT_LOGGER: SilentLogger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** The ECONFIG for an SDK that is not installed (or cannot be loaded): what to install, and how. */
export function missingSdkError(cause: unknown): BackupError {
  const code = (cause as { code?: string })?.code;
  const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
  const why = missing ? 'they are not installed' : `they could not be loaded (${(cause as Error)?.message ?? String(cause)})`;
  const spec = S3_SDK_PACKAGES.map((p) => `${p}@${S3_SDK_RANGE}`).join(' ');
  return new BackupError(
    ErrorCode.CONFIG,
    `S3 needs the optional packages ${S3_SDK_PACKAGES.join(' and ')} (${S3_SDK_RANGE}), and ${why}: npm install ${spec}`,
    { cause },
  );
}

let loading: Promise<S3Sdk> | undefined;

/** The SDK, imported once per process; a failed import is not cached. */
export function loadS3Sdk(): Promise<S3Sdk> {
  const current = (loading ??= importSdk());
  current.catch(() => {
    if (loading === current) loading = undefined;
  });
  return current;
}

async function importSdk(): Promise<S3Sdk> {
  let client: object;
  let storage: object;
  try {
    client = await import('@aws-sdk/client-s3');
    storage = await import('@aws-sdk/lib-storage');
  } catch (e) {
    throw missingSdkError(e);
  }
  return { ...client, ...storage } as unknown as S3Sdk;
}

const NODE_WARNING_SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

/**
 * A new S3Client. Its constructor prints a `NodeVersionSupportWarning` (process.emitWarning) once per
 * process on Node < 22, unless AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED is "true": we set
 * that variable for the duration of the (synchronous) constructor only, and only when the user has
 * not set it. The SDK then marks the warning as done, so its other clients (STS/SSO for the
 * credential chain) stay quiet too; no other warning is affected.
 */
export function createS3Client(sdk: S3Sdk, config: S3ClientConfig): S3ClientLike {
  const env = process.env;
  const set = env[NODE_WARNING_SWITCH] === undefined;
  if (set) env[NODE_WARNING_SWITCH] = 'true';
  try {
    return new sdk.S3Client(config);
  } finally {
    if (set) delete env[NODE_WARNING_SWITCH];
  }
}

/** The client configuration for our options. */
export function clientConfig(o: Readonly<S3TransportOptions>): S3ClientConfig {
  return {
    region: o.region ?? DEFAULT_S3_REGION,
    // The SDK spreads this config over its defaults: an explicit undefined would erase a default.
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    forcePathStyle: o.forcePathStyle ?? o.endpoint !== undefined,
    ...(o.credentials ? { credentials: o.credentials } : {}),
    maxAttempts: o.maxAttempts ?? DEFAULT_S3_MAX_ATTEMPTS,
    // AWS answers a wrong region with a redirect; follow it rather than fail.
    followRegionRedirects: true,
    // The SDK's default CRC32 checksums send streamed bodies as aws-chunked with trailers, which Ceph
    // RGW 16.2 refuses (411 MissingContentLength), and RGW ignores x-amz-checksum-* anyway: we send
    // Content-MD5 instead, which it checks.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: o.connectTimeoutMs ?? DEFAULT_S3_CONNECT_TIMEOUT_MS,
      // Socket inactivity. (The handler's requestTimeout is a whole-request limit that only logs a
      // warning unless throwOnRequestTimeout is set: it would cut long transfers, or print.)
      socketTimeout: o.idleTimeoutMs ?? DEFAULT_S3_IDLE_TIMEOUT_MS,
      logger: SILENT_LOGGER,
    },
    logger: SILENT_LOGGER,
  };
}
