/**
 * Sending the bytes of one object. Up to one part's worth: a single PutObject with Content-MD5 (Ceph
 * RGW checks it; it ignores `x-amz-checksum-*`). More: a multipart upload through lib-storage's
 * `Upload`, with bounded memory (about (queue + 1) x part size, whatever the file size) and
 * Content-MD5 on every part. An S3 object appears only when its upload completes, so a failed or
 * aborted upload never shows under the name; its parts are then discarded (AbortMultipartUpload).
 *
 * The first failure stops everything at once: the source (even one stuck waiting), the parts in
 * flight, and the other upload slot (lib-storage alone would go on sending the rest of the file).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { S3ClientLike, S3Command, S3Sdk } from './s3-sdk.js';
import { S3_MAX_PARTS } from './s3-options.js';

/** Time allowed for discarding the parts of a failed multipart upload. */
const ABORT_UPLOAD_TIMEOUT_MS = 10_000;
const MiB = 1024 * 1024;

export interface UploadTarget {
  sdk: S3Sdk;
  client: S3ClientLike;
  bucket: string;
  key: string;
  partSize: number;
  queueSize: number;
  /** The caller's expected size, when known (the part size grows to stay within 10,000 parts). */
  size?: number;
}

/** A failed upload: the first error anywhere (source, request), and the upload id left behind if any. */
export class UploadFailure extends Error {
  constructor(
    readonly rootCause: unknown,
    readonly leftoverUploadId: string | undefined,
  ) {
    super('upload failed');
  }
}

/** Uploads `chunks` to the target; resolves with the number of bytes sent. Throws an UploadFailure. */
export async function uploadObject(target: UploadTarget, chunks: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<number> {
  const stop = new AbortController();
  let rootCause: unknown;
  const fail = (e: unknown): void => {
    if (stop.signal.aborted) return;
    rootCause = e;
    stop.abort(e);
  };
  const onAbort = (): void => fail(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  let sent = 0;
  const it = guarded(chunks, stop.signal, fail, (n) => (sent += n))[Symbol.asyncIterator]();
  try {
    const head: Uint8Array[] = [];
    let headBytes = 0;
    for (;;) {
      if (headBytes > target.partSize) {
        await multipart(target, prepend(head, it), stop.signal, fail);
        return sent;
      }
      const r = await it.next();
      if (r.done) break;
      head.push(r.value);
      headBytes += r.value.length;
    }
    const body = Buffer.concat(head);
    const { sdk, client, bucket, key } = target;
    await client.send(new sdk.PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length, ContentMD5: md5(body) }), {
      abortSignal: stop.signal,
    });
    return sent;
  } catch (e) {
    fail(e);
    throw new UploadFailure(rootCause, e instanceof UploadFailure ? e.leftoverUploadId : undefined);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    void it.return?.(undefined)?.catch(() => {});
  }
}

/** A multipart upload of `body`; on failure, discards the parts and throws (an UploadFailure if that failed too). */
async function multipart(target: UploadTarget, body: AsyncIterable<Uint8Array>, stop: AbortSignal, fail: (e: unknown) => void): Promise<void> {
  const { sdk, client, bucket, key } = target;
  // lib-storage sends through this client: each part gets its Content-MD5 and our stop signal, and the
  // first failed request stops the others. CompleteMultipartUpload is not cut off by an abort: once
  // sent, the object may appear whatever we do.
  const sending: S3ClientLike = Object.create(client, {
    send: {
      value: <O>(command: S3Command<O>, options: { abortSignal?: AbortSignal } = {}): Promise<O> => {
        let cmd = command;
        const input = command.input as { Body?: unknown; ContentMD5?: string };
        const isPart = (command as object) instanceof sdk.UploadPartCommand;
        if (isPart && input.Body instanceof Uint8Array && !input.ContentMD5) {
          cmd = new sdk.UploadPartCommand({ ...input, ContentMD5: md5(input.Body) }) as S3Command<O>;
        }
        const cuttable = isPart || (command as object) instanceof sdk.CreateMultipartUploadCommand;
        return client.send(cmd, cuttable ? { ...options, abortSignal: stop } : options).catch((e: unknown) => {
          fail(e);
          throw e;
        });
      },
    },
  }) as S3ClientLike;
  const source = Readable.from(body, { objectMode: true, highWaterMark: 1 });
  const partSize = target.size === undefined ? target.partSize : Math.max(target.partSize, Math.ceil(target.size / S3_MAX_PARTS / MiB) * MiB);
  const upload = new sdk.Upload({ client: sending, params: { Bucket: bucket, Key: key, Body: source }, partSize, queueSize: target.queueSize, leavePartsOnError: true });
  try {
    await upload.done();
  } catch (e) {
    fail(e);
    const id = upload.uploadId;
    if (id) {
      const aborting = client.send(new sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }), {
        abortSignal: AbortSignal.timeout(ABORT_UPLOAD_TIMEOUT_MS),
      });
      if (!(await aborting.then(() => true, () => false))) throw new UploadFailure(e, id);
    }
    throw e;
  } finally {
    source.destroy();
  }
}

/**
 * The source's chunks, counted; a stop (abort, or a failure elsewhere) ends a wait for the next chunk
 * at once, and a source error is reported as the first failure.
 */
async function* guarded(
  source: AsyncIterable<Uint8Array>,
  stop: AbortSignal,
  fail: (e: unknown) => void,
  count: (n: number) => void,
): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  try {
    for (;;) {
      const r = await untilStopped(it.next(), stop);
      if (r.done) return;
      count(r.value.length);
      yield r.value;
    }
  } catch (e) {
    fail(e);
    throw e;
  } finally {
    // Not awaited: a source stuck in a wait finishes (and cleans up) when that wait ends.
    void Promise.resolve(it.return?.(undefined)).catch(() => {});
  }
}

async function* prepend(head: Uint8Array[], rest: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* head;
  head.length = 0;
  for (;;) {
    const r = await rest.next();
    if (r.done) return;
    yield r.value;
  }
}

function untilStopped<T>(p: Promise<T>, stop: AbortSignal): Promise<T> {
  if (stop.aborted) {
    p.catch(() => {});
    return Promise.reject(stop.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onStop = (): void => reject(stop.reason);
    stop.addEventListener('abort', onStop, { once: true });
    p.then(
      (v) => {
        stop.removeEventListener('abort', onStop);
        resolve(v);
      },
      (e: unknown) => {
        stop.removeEventListener('abort', onStop);
        reject(e);
      },
    );
  });
}

function md5(body: Uint8Array): string {
  return createHash('md5').update(body).digest('base64');
}
