/**
 * S3Transport: a backup "directory" in an S3 bucket (AWS S3, Ceph RGW, MinIO...): the files are the
 * objects `<prefix>/<name>`, with exactly the behaviour of the local and SFTP transports (the same
 * shared test suite runs against a real Ceph RADOS Gateway). The AWS SDK v3 is an optional peer
 * dependency, loaded on first use (s3-sdk.ts); the client is created then, and close() destroys it.
 *
 * An object appears whole or not at all, so writes need no temp name: small files are one PutObject
 * with Content-MD5, larger ones a multipart upload (s3-upload.ts). After a write, HeadObject must
 * report exactly the bytes sent.
 */
import { AbortError, BackupError, ErrorCode } from '../../errors.js';
import type { ReadOptions, RemoteFile, Transport, WriteOptions, WriteResult, WriteSource } from '../types.js';
import { checkTransportName, isPlainFileName } from '../names.js';
import { writeChunks } from '../write-source.js';
import { clientConfig, createS3Client, loadS3Sdk, type S3ClientLike, type S3Sdk } from './s3-sdk.js';
import { isNoSuchKey, isNotFoundStatus, noSuchBucket, s3Error, statusOf, summary, type S3Where } from './s3-errors.js';
import { UploadFailure, uploadObject } from './s3-upload.js';
import { DEFAULT_S3_PART_SIZE, DEFAULT_S3_QUEUE_SIZE, S3_KIND, s3Host, s3Location, validateS3Options, type S3TransportOptions } from './s3-options.js';

export {
  DEFAULT_S3_CONNECT_TIMEOUT_MS,
  DEFAULT_S3_IDLE_TIMEOUT_MS,
  DEFAULT_S3_MAX_ATTEMPTS,
  DEFAULT_S3_PART_SIZE,
  DEFAULT_S3_QUEUE_SIZE,
  DEFAULT_S3_REGION,
  S3_KIND,
  parseS3Url,
  type S3TransportOptions,
} from './s3-options.js';

interface Session {
  sdk: S3Sdk;
  client: S3ClientLike;
}

/** What GetObject's Body is in Node: a Readable (IncomingMessage). */
type Body = AsyncIterable<Uint8Array> & { destroy?(error?: Error): void };

/**
 * A prefix of an S3 bucket (AWS S3, Ceph RGW, MinIO, R2...) as a Transport. Needs the AWS SDK's S3
 * client and lib-storage (optional peer dependencies), loaded on first use: ECONFIG naming them when
 * missing. Credentials come from the options or the standard AWS sources. close() ends the client.
 */
export class S3Transport implements Transport {
  readonly kind = S3_KIND;
  readonly location: string;
  // #private: credentials must not show when a transport is logged (util.inspect shows other fields).
  readonly #options: Readonly<S3TransportOptions>;
  private readonly where: S3Where;
  #session: Promise<Session> | undefined;
  /** The bucket answered since the last close: a 404 from HeadObject is then a missing object. */
  private bucketSeen = false;

  constructor(options: S3TransportOptions) {
    validateS3Options(options);
    this.#options = { ...options, credentials: options.credentials && { ...options.credentials } };
    this.location = s3Location(options.bucket, options.prefix);
    this.where = {
      host: s3Host(options),
      bucket: options.bucket,
      credentialSource: options.credentials ? 'the credentials option' : "the SDK's default chain (AWS_ACCESS_KEY_ID..., AWS_PROFILE, ~/.aws)",
    };
  }

  async list(options: { signal?: AbortSignal } = {}): Promise<RemoteFile[]> {
    const prefix = this.#options.prefix ? `${this.#options.prefix}/` : '';
    return this.run('list', this.location, options.signal, async ({ sdk, client }) => {
      const files: RemoteFile[] = [];
      let token: string | undefined;
      do {
        // The SDK's request: parameters we do not mean are left out rather than passed as undefined.
        const page = await client.send(
          new sdk.ListObjectsV2Command({ Bucket: this.#options.bucket, Delimiter: '/', ...(prefix ? { Prefix: prefix } : {}), ...(token ? { ContinuationToken: token } : {}) }),
          signalOf(options.signal),
        );
        for (const o of page.Contents ?? []) {
          const name = o.Key?.startsWith(prefix) ? o.Key.slice(prefix.length) : '';
          if (isPlainFileName(name)) files.push({ name, size: o.Size ?? 0, mtimeMs: wholeSeconds(o.LastModified) });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      this.bucketSeen = true;
      return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    });
  }

  async stat(name: string, options: { signal?: AbortSignal } = {}): Promise<RemoteFile | undefined> {
    const url = this.urlOf(name);
    return this.run('head', url, options.signal, (s) => this.head(s, name, options.signal));
  }

  async *read(name: string, options: ReadOptions = {}): AsyncGenerator<Uint8Array> {
    const url = this.urlOf(name);
    const { signal } = options;
    const start = options.start ?? 0;
    if (!(Number.isSafeInteger(start) && start >= 0)) throw new RangeError(`start must be an integer >= 0, got ${start}`);
    const res = await this.run('get', url, signal, async ({ sdk, client }) => {
      try {
        const range = start > 0 ? { Range: `bytes=${start}-` } : {};
        return await client.send(new sdk.GetObjectCommand({ Bucket: this.#options.bucket, Key: this.keyOf(name), ...range }), signalOf(signal));
      } catch (e) {
        if (statusOf(e) === 416) return undefined; // start at or after the end: no bytes
        throw e;
      }
    });
    if (!res) return;
    this.bucketSeen = true;
    const body = res.Body as Body;
    const onAbort = (): void => body.destroy?.(new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    let got = 0;
    try {
      for await (const chunk of body) {
        got += chunk.length;
        yield chunk;
        if (signal?.aborted) throw this.aborted('get', url, signal);
      }
    } catch (e) {
      throw signal?.aborted ? this.aborted('get', url, signal) : s3Error(e, 'get', url, this.where);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      body.destroy?.();
    }
    if (res.ContentLength !== undefined && got !== res.ContentLength) {
      throw new BackupError(ErrorCode.CONNECT, `get "${url}" failed: the transfer from ${this.where.host} ended after ${got} of ${res.ContentLength} bytes`, {
        path: url,
        host: this.where.host,
      });
    }
  }

  async readText(name: string, maxBytes: number, options: { signal?: AbortSignal } = {}): Promise<string | undefined> {
    const url = this.urlOf(name);
    if (!(Number.isSafeInteger(maxBytes) && maxBytes >= 0)) throw new RangeError(`maxBytes must be an integer >= 0, got ${maxBytes}`);
    if (maxBytes === 0) return (await this.stat(name, options)) ? '' : undefined;
    return this.run('get', url, options.signal, async ({ sdk, client }) => {
      let res;
      try {
        res = await client.send(new sdk.GetObjectCommand({ Bucket: this.#options.bucket, Key: this.keyOf(name), Range: `bytes=0-${maxBytes - 1}` }), signalOf(options.signal));
      } catch (e) {
        if (statusOf(e) === 416) return ''; // an empty object
        if (isNoSuchKey(e)) return undefined;
        throw e;
      }
      this.bucketSeen = true;
      const body = res.Body as Body;
      const parts: Buffer[] = [];
      let got = 0;
      try {
        // A server that ignores Range still gives no more than maxBytes.
        for await (const chunk of body) {
          parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, Math.min(chunk.length, maxBytes - got)));
          got += chunk.length;
          if (got >= maxBytes) break;
        }
      } finally {
        body.destroy?.();
      }
      return Buffer.concat(parts).toString('utf8');
    });
  }

  async write(name: string, data: WriteSource, options: WriteOptions = {}): Promise<WriteResult> {
    const url = this.urlOf(name);
    const { signal } = options;
    if (signal?.aborted) throw this.aborted('put', url, signal);
    // The signal is not passed on after the upload: once the object is complete, the write is done.
    return this.run('put', url, undefined, async (s) => {
      const key = this.keyOf(name);
      let sent: number;
      try {
        sent = await uploadObject(
          {
            ...s,
            bucket: this.#options.bucket,
            key,
            partSize: DEFAULT_S3_PART_SIZE,
            queueSize: DEFAULT_S3_QUEUE_SIZE,
            size: options.size,
          },
          writeChunks(data, options, url),
          signal,
        );
      } catch (e) {
        throw this.uploadError(e, url, signal);
      }
      this.bucketSeen = true;
      const stored = await this.head(s, name, undefined);
      if (stored?.size !== sent) {
        // Never leave a wrong object under the name.
        if (stored) await s.client.send(new s.sdk.DeleteObjectCommand({ Bucket: this.#options.bucket, Key: key })).catch(() => {});
        throw new BackupError(
          ErrorCode.IO,
          `put "${url}" failed: ${this.where.host} holds ${stored ? `${stored.size} bytes` : 'no object'} after ${sent} bytes were sent; nothing was kept`,
          { path: url, host: this.where.host },
        );
      }
      return { name, size: stored.size };
    });
  }

  async remove(name: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const url = this.urlOf(name);
    return this.run('delete', url, options.signal, async (s) => {
      if (!(await this.head(s, name, options.signal))) return false;
      await s.client.send(new s.sdk.DeleteObjectCommand({ Bucket: this.#options.bucket, Key: this.keyOf(name) }), signalOf(options.signal));
      return true;
    });
  }

  async close(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    this.bucketSeen = false;
    const s = await session?.catch(() => undefined);
    s?.client.destroy();
  }

  /** The SDK and a client, created on first use (and again after close()). A failed load is not cached. */
  private connect(): Promise<Session> {
    const current = (this.#session ??= this.open());
    current.catch(() => {
      if (this.#session === current) this.#session = undefined;
    });
    return current;
  }

  private async open(): Promise<Session> {
    const sdk = await loadS3Sdk();
    return { sdk, client: createS3Client(sdk, clientConfig(this.#options)) };
  }

  /** `fn` with a session; errors become BackupErrors (EABORTED when the signal fired). */
  private async run<T>(op: string, url: string, signal: AbortSignal | undefined, fn: (s: Session) => Promise<T>): Promise<T> {
    if (signal?.aborted) throw this.aborted(op, url, signal);
    const session = await this.connect();
    try {
      return await fn(session);
    } catch (e) {
      throw signal?.aborted ? this.aborted(op, url, signal) : s3Error(e, op, url, this.where);
    }
  }

  /** HeadObject: the file, or undefined when there is no such object (but EBACKUP_NOT_FOUND for a missing bucket). */
  private async head({ sdk, client }: Session, name: string, signal: AbortSignal | undefined): Promise<RemoteFile | undefined> {
    try {
      const r = await client.send(new sdk.HeadObjectCommand({ Bucket: this.#options.bucket, Key: this.keyOf(name) }), signalOf(signal));
      this.bucketSeen = true;
      return { name, size: r.ContentLength ?? 0, mtimeMs: wholeSeconds(r.LastModified) };
    } catch (e) {
      if (!isNotFoundStatus(e)) throw e;
    }
    // A HEAD answer has no body: a 404 is the same for a missing object and a missing bucket.
    if (!this.bucketSeen) {
      try {
        await client.send(new sdk.HeadBucketCommand({ Bucket: this.#options.bucket }), signalOf(signal));
      } catch (e) {
        if (isNotFoundStatus(e)) throw noSuchBucket(this.where, `head "${this.urlOf(name)}"`, e);
        throw e;
      }
      this.bucketSeen = true;
    }
    return undefined;
  }

  private uploadError(e: unknown, url: string, signal: AbortSignal | undefined): BackupError {
    if (signal?.aborted) return this.aborted('put', url, signal);
    if (!(e instanceof UploadFailure)) return s3Error(e, 'put', url, this.where);
    const err = s3Error(e.rootCause, 'put', url, this.where);
    if (!e.leftoverUploadId) return err;
    // The parts stay on the server (invisible to readers) until a lifecycle rule removes them.
    const note = `; its incomplete multipart upload ${e.leftoverUploadId} could not be discarded (an AbortIncompleteMultipartUpload lifecycle rule removes such leftovers)`;
    return new BackupError(err.code, err.message + note, { path: url, host: this.where.host, cause: err.cause ?? summary(e.rootCause) });
  }

  private aborted(op: string, url: string, signal: AbortSignal): AbortError {
    return new AbortError(`${op} of "${url}" aborted`, { path: url, host: this.where.host, cause: signal.reason });
  }

  private keyOf(name: string): string {
    return this.#options.prefix ? `${this.#options.prefix}/${name}` : name;
  }

  /** `s3://bucket/prefix/name`, after checking that `name` is a plain file name. */
  private urlOf(name: string): string {
    checkTransportName(name, this.location);
    return `${this.location}/${name}`;
  }
}

function signalOf(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal ? { abortSignal: signal } : {};
}

/**
 * LastModified in whole seconds: ListObjectsV2 gives milliseconds, HeadObject's HTTP date only
 * seconds; a file must look unchanged whichever call saw it (the pull compares the two).
 */
function wholeSeconds(d: Date | undefined): number {
  return d ? Math.floor(d.getTime() / 1000) * 1000 : 0;
}
