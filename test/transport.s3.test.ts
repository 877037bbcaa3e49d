/**
 * S3Transport against a real Ceph RADOS Gateway on loopback (test/helpers/ceph-rgw.ts): the shared
 * Transport contract, then what only S3 has - authentication, a missing bucket, multipart uploads
 * (round trip, bounded memory, a gateway killed in the middle), silent and refused endpoints, the
 * SDK's stderr noise, and a check of our own SDK types against the real ones.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { inspect } from 'node:util';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type * as ClientS3 from '@aws-sdk/client-s3';
import { BackupError, ErrorCode, isBackupError } from '../src/errors.js';
import { S3Transport, type S3TransportOptions } from '../src/transport/s3/s3.js';
import type { S3ClientConfig, S3Object, S3Sdk } from '../src/transport/s3/s3-sdk.js';
import { cephSkipReason, startCephRgw, type CephRgw } from './helpers/ceph-rgw.js';
import { requirePeer } from './helpers/peers.js';
import { collect, sha256, testTransport } from './transport.shared.js';

const code = (c: string) => (e: unknown) => isBackupError(e) && e.code === c;
const MiB = 1024 * 1024;

describe('S3Transport against Ceph RGW', { skip: cephSkipReason(), timeout: 600_000 }, () => {
  let rgw: CephRgw;
  let admin: S3Client;
  let bucket: string;
  let n = 0;
  const transports: S3Transport[] = [];
  before(async () => {
    rgw = await startCephRgw();
    bucket = await rgw.createBucket();
    admin = new S3Client({
      endpoint: rgw.endpoint,
      region: rgw.region,
      forcePathStyle: true,
      credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
  });
  after(async () => {
    for (const t of transports) await t.close();
    admin?.destroy();
    await rgw?.stop();
  });

  const transport = (extra: Partial<S3TransportOptions> = {}): S3Transport => {
    const t = new S3Transport({
      bucket,
      prefix: `case-${++n}/backups`,
      endpoint: rgw.endpoint,
      region: rgw.region,
      credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
      ...extra,
    });
    transports.push(t);
    return t;
  };

  const put = (key: string, data: Buffer) => admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
  /** Keys under `prefix/` (all depths), and the keys of incomplete multipart uploads there. */
  const keysUnder = async (prefix: string): Promise<{ objects: string[]; uploads: { Key: string; UploadId: string }[] }> => {
    const objects: string[] = [];
    let token: string | undefined;
    do {
      const page = await admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/`, ContinuationToken: token }));
      objects.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
    const mpu = await admin.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `${prefix}/` }));
    return { objects, uploads: (mpu.Uploads ?? []).map((u) => ({ Key: u.Key!, UploadId: u.UploadId! })) };
  };
  const prefixOf = (t: S3Transport): string => t.location.slice(`s3://${bucket}/`.length);

  testTransport({
    name: 'S3Transport (Ceph RGW 16, path-style, static credentials)',
    async create(files) {
      const t = transport();
      const prefix = prefixOf(t);
      for (const [name, data] of Object.entries(files)) await put(`${prefix}/${name}`, data);
      return {
        transport: t,
        modify: async (name, data) => void (await put(`${prefix}/${name}`, data)),
        remove: async (name) => void (await admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${prefix}/${name}` }))),
        // Objects directly under the prefix, and incomplete multipart uploads (S3's "temp files").
        rawNames: async () => {
          const { objects, uploads } = await keysUnder(prefix);
          const direct = (k: string) => k.slice(prefix.length + 1);
          return [...objects.map(direct).filter((k) => !k.includes('/')), ...uploads.map((u) => `${direct(u.Key)} (incomplete upload)`)].sort();
        },
        removeAll: async () => {
          const { objects, uploads } = await keysUnder(prefix);
          for (const Key of objects) await admin.send(new DeleteObjectCommand({ Bucket: bucket, Key }));
          for (const u of uploads) await admin.send(new AbortMultipartUploadCommand({ Bucket: bucket, ...u }));
        },
        putNested: async (sub, name, data) => void (await put(`${prefix}/${sub}/${name}`, data)),
      };
    },
  });

  describe('S3 specifics', () => {
    it('location and kind; an empty prefix keeps the files at the top of the bucket', async () => {
      const t = transport();
      assert.equal(t.kind, 's3');
      assert.equal(t.location, `s3://${bucket}/case-${n}/backups`);
      const other = await rgw.createBucket();
      const top = transport({ bucket: other, prefix: '' });
      assert.equal(top.location, `s3://${other}`);
      await top.write('latest.txt', 'a.db.gz');
      await admin.send(new PutObjectCommand({ Bucket: other, Key: 'deeper/x', Body: 'x' }));
      assert.deepEqual((await top.list()).map((f) => f.name), ['latest.txt']);
      assert.equal(await top.readText('latest.txt', 100), 'a.db.gz');
    });

    it('a wrong secret: EAUTH naming the host, and the secret appears nowhere (message, stack, cause)', async () => {
      const secret = `wrong-${randomBytes(12).toString('hex')}`;
      const t = transport({ credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: secret } });
      for (const op of [() => t.list(), () => t.stat('a'), () => t.write('a', 'x'), () => collect(t.read('a'))]) {
        await assert.rejects(op(), (e) => {
          const all = inspect(e, { depth: 10, showHidden: true }) + String((e as Error).stack);
          assert.ok(code(ErrorCode.AUTH)(e), String(e));
          assert.equal((e as BackupError).host, new URL(rgw.endpoint).host);
          assert.match((e as Error).message, /refused the credentials from the credentials option: (SignatureDoesNotMatch|AccessDenied|Forbidden|UnknownError) \(403\)/);
          assert.ok(!all.includes(secret), 'the secret leaked');
          assert.ok(!all.includes(rgw.secretAccessKey));
          return true;
        });
      }
      assert.ok(!inspect(t, { depth: Infinity, showHidden: true }).includes(secret), 'a logged transport shows no secret');
      const unknownKey = transport({ credentials: { accessKeyId: 'NOSUCHKEY0000000000A', secretAccessKey: rgw.secretAccessKey } });
      await assert.rejects(unknownKey.list(), (e) => code(ErrorCode.AUTH)(e) && /InvalidAccessKeyId \(403\)/.test((e as Error).message));
    });

    it('a missing bucket is EBACKUP_NOT_FOUND naming the bucket, never an empty store', async () => {
      const t = transport({ bucket: 'no-such-bucket-here' });
      const names = (e: unknown) => code(ErrorCode.BACKUP_NOT_FOUND)(e) && /bucket "no-such-bucket-here" does not exist/.test((e as Error).message);
      await assert.rejects(t.list(), names);
      await assert.rejects(t.write('a.db.gz', 'abc'), names);
      await assert.rejects(t.write('big.bin', chunked(randomBytes(20 * MiB), MiB)), names);
      await assert.rejects(t.stat('a.db.gz'), names);
      await assert.rejects(t.readText('latest.txt', 100), names);
      await assert.rejects(collect(t.read('a.db.gz')), names);
      await assert.rejects(t.remove('a.db.gz'), names);
    });

    it('a 40 MiB stream goes up as a multipart upload (Content-MD5 per part) and comes back with the same sha256', async () => {
      const t = transport();
      const data = randomBytes(40 * MiB + 12_345);
      const seen: number[] = [];
      const r = await t.write('big.db.gz', chunked(data, 1_000_003), { size: data.length, onProgress: (b) => seen.push(b) });
      assert.deepEqual(r, { name: 'big.db.gz', size: data.length });
      assert.equal(seen.at(-1), data.length);
      const head = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefixOf(t)}/big.db.gz` }));
      assert.match(head.ETag ?? '', /-6"$/, 'six 8 MiB parts: a multipart ETag');
      assert.equal(sha256(await collect(t.read('big.db.gz'))), sha256(data));
      // Without a size the same path is taken; a source that ends early is not published.
      assert.equal((await t.write('nosize.bin', chunked(data.subarray(0, 17 * MiB), 3 * MiB))).size, 17 * MiB);
      await assert.rejects(t.write('short.bin', chunked(data.subarray(0, 20 * MiB), MiB), { size: 21 * MiB }), (e) => code(ErrorCode.IO)(e) && /expected 22020096/.test((e as Error).message));
      assert.deepEqual(await keysUnder(prefixOf(t)), { objects: [`${prefixOf(t)}/big.db.gz`, `${prefixOf(t)}/nosize.bin`], uploads: [] });
    });

    it('abort during a multipart upload: EABORTED promptly, no object, no parts left behind', async () => {
      const t = transport();
      await t.write('a.db.gz', 'the old backup');
      const ac = new AbortController();
      let abortedAt = 0;
      const source = (async function* () {
        for (let i = 0; i < 64; i++) {
          if (i === 20) {
            abortedAt = performance.now();
            ac.abort(new Error('user cancelled'));
          }
          yield randomBytes(MiB);
        }
      })();
      await assert.rejects(t.write('a.db.gz', source, { signal: ac.signal }), code(ErrorCode.ABORTED));
      assert.ok(performance.now() - abortedAt < 5000, 'stopped within 5 s');
      assert.equal(await t.readText('a.db.gz', 100), 'the old backup');
      assert.deepEqual((await keysUnder(prefixOf(t))).uploads, [], 'the multipart upload was aborted');
    });

    it('the gateway killed during a multipart upload: ECONNECT in bounded time, no object; after a restart the same transport writes', async () => {
      const t = transport();
      await t.write('keep.txt', 'still here');
      let killedAt = 0;
      const source = (async function* () {
        for (let i = 0; i < 40; i++) {
          if (i === 20) {
            await rgw.killGateway();
            killedAt = performance.now();
          }
          yield randomBytes(MiB);
        }
      })();
      await assert.rejects(t.write('big.db.gz', source), (e) => {
        assert.ok(code(ErrorCode.CONNECT)(e), String(e));
        assert.match((e as Error).message, /^put "s3:\/\/.+\/big\.db\.gz" failed: connection to 127\.0\.0\.1:\d+ failed \((ECONNREFUSED|ECONNRESET|EPIPE)\)/);
        // The gateway is gone: the parts could not be discarded, and the message says so.
        assert.match((e as Error).message, /incomplete multipart upload .+ could not be discarded/);
        return true;
      });
      const ms = performance.now() - killedAt;
      assert.ok(ms < 10_000, `failed ${ms.toFixed(0)} ms after the kill`);
      await rgw.startGateway();
      assert.equal(await t.stat('big.db.gz'), undefined, 'no object under the name');
      const data = randomBytes(20 * MiB);
      assert.equal((await t.write('big.db.gz', chunked(data, MiB))).size, data.length);
      assert.equal(sha256(await collect(t.read('big.db.gz'))), sha256(data));
      assert.equal(await t.readText('keep.txt', 100), 'still here');
      for (const u of (await keysUnder(prefixOf(t))).uploads) await admin.send(new AbortMultipartUploadCommand({ Bucket: bucket, ...u }));
    });

    it('a 192 MiB stream: memory stays bounded (under half the file size); upload and download throughput', async (t) => {
      const tr = transport();
      const block = randomBytes(MiB);
      // Large enough that dead buffers the GC has not collected yet (up to ~65 MiB seen in CI at 128 MiB)
      // stay well apart from a transport that holds the file: the bound is half the file.
      const total = 192;
      const h = createHash('sha256');
      let peak = 0;
      const base = process.memoryUsage().arrayBuffers;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers - base)), 20);
      let started = performance.now();
      try {
        await tr.write('big.bin', (async function* () {
          for (let i = 0; i < total; i++) {
            const c = Buffer.from(block);
            c.writeUInt32BE(i, 0);
            h.update(c);
            yield c;
          }
        })());
      } finally {
        clearInterval(sampler);
      }
      const up = performance.now() - started;
      started = performance.now();
      const down = createHash('sha256');
      for await (const c of tr.read('big.bin')) down.update(c);
      const dl = performance.now() - started;
      assert.equal(down.digest('hex'), h.digest('hex'));
      t.diagnostic(`${total} MiB: upload ${(total / (up / 1000)).toFixed(0)} MiB/s, download ${(total / (dl / 1000)).toFixed(0)} MiB/s, peak extra buffers ${(peak / MiB).toFixed(0)} MiB`);
      assert.ok(peak < (total / 2) * MiB, `peak buffer memory ${(peak / MiB).toFixed(0)} MiB for a ${total} MiB file`);
    });

    it("credentials from the SDK's chain (environment) in a child process: works, and nothing reaches stderr (no NodeVersionSupportWarning)", () => {
      const module = new URL('../src/transport/s3/s3.js', import.meta.url).href;
      const script = `
        const { S3Transport } = await import(${JSON.stringify(module)});
        const t = new S3Transport({ bucket: ${JSON.stringify(bucket)}, prefix: 'child/dir', endpoint: process.env.S3_ENDPOINT });
        await t.write('latest.txt', 'from the child');
        console.log(await t.readText('latest.txt', 100), process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ?? 'unset');
        await t.close();
      `;
      const env: NodeJS.ProcessEnv = { ...process.env, ...rgw.env };
      delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
      delete env.NODE_OPTIONS;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'from the child unset\n');
      assert.equal(r.stderr, '', 'the SDK printed to stderr');
      // The same without our guard does print it (so the check above means something).
      const bare = spawnSync(process.execPath, ['--input-type=module', '-e', "const { S3Client } = await import('@aws-sdk/client-s3'); new S3Client({ region: 'us-east-1' });"], {
        env,
        cwd: new URL('../../', import.meta.url).pathname,
        encoding: 'utf8',
      });
      if (Number(process.versions.node.split('.')[0]) < 22) assert.match(bare.stderr, /NodeVersionSupportWarning/);
    });
  });
});

describe('S3Transport timeouts and refusals (no server needed)', () => {
  const open: S3Transport[] = [];
  after(async () => {
    for (const t of open) await t.close();
  });
  const offline = (extra: Partial<S3TransportOptions>): S3Transport => {
    const t = new S3Transport({ bucket: 'backups', prefix: 'app', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' }, ...extra });
    open.push(t);
    return t;
  };

  it('an endpoint that accepts and never answers: ECONNECT within the bounded time (short timeouts here)', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const endpoint = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
      // The defaults (connect 10 s, idle 20 s, 2 attempts) fail the same way after about 46 s.
      const t = offline({ endpoint, connectTimeoutMs: 500, idleTimeoutMs: 1000, maxAttempts: 2 });
      for (const op of [() => t.list(), () => t.write('a.db.gz', 'abc')]) {
        const started = performance.now();
        await assert.rejects(op(), (e) => code(ErrorCode.CONNECT)(e) && /no answer from 127\.0\.0\.1:\d+ in time/.test((e as Error).message));
        const ms = performance.now() - started;
        assert.ok(ms >= 1900 && ms < 60_000, `took ${ms.toFixed(0)} ms`);
      }
      assert.ok(sockets.length >= 4, 'each operation was tried twice');
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it('a refused port: ECONNECT quickly, after the retry', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise((r) => srv.close(r));
    const t = offline({ endpoint: `http://127.0.0.1:${port}` });
    const started = performance.now();
    await assert.rejects(t.list(), (e) => code(ErrorCode.CONNECT)(e) && /ECONNREFUSED/.test((e as Error).message) && (e as BackupError).host === `127.0.0.1:${port}`);
    assert.ok(performance.now() - started < 3000);
  });

  it('an endpoint that never completes the TCP handshake (full accept queue): ECONNECT after connectTimeoutMs, retried', async (t) => {
    if (!requirePeer(t, 'python3')) return;
    // A listening socket that never accepts, its backlog filled: Linux drops further SYNs.
    const script = [
      'import socket, sys',
      's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
      'port = s.getsockname()[1]; fill = []',
      'for i in range(3):',
      '    c = socket.socket(); c.setblocking(False); c.connect_ex(("127.0.0.1", port)); fill.append(c)',
      'print(port, flush=True); sys.stdin.read()',
    ];
    const py = spawn('python3', ['-c', script.join('\n')], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<string>((resolve) => py.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
      const tr = offline({ endpoint: `http://127.0.0.1:${port}`, connectTimeoutMs: 400, idleTimeoutMs: 60_000, maxAttempts: 2 });
      const started = performance.now();
      await assert.rejects(tr.list(), (e) => code(ErrorCode.CONNECT)(e) && /did not establish a connection/.test((e as Error).message));
      const ms = performance.now() - started;
      // The defaults (10 s, 2 attempts) give about 20 s.
      assert.ok(ms >= 790 && ms < 5000, `took ${ms.toFixed(0)} ms`);
    } finally {
      py.kill('SIGTERM');
    }
  });
});

describe('S3Transport options', () => {
  const base: S3TransportOptions = { bucket: 'backups', prefix: 'app/db' };
  it('bucket, prefix, endpoint and numbers are checked', () => {
    for (const bad of [{ bucket: 'Backups' }, { bucket: 'ab' }, { bucket: '-ab' }, { bucket: '192.168.1.1' }, { prefix: '/x' }, { prefix: 'x/' }, { prefix: 'a//b' }, { prefix: 'a/../b' }, { endpoint: 'ftp://x' }, { idleTimeoutMs: 0 }, { maxAttempts: 1.5 }]) {
      assert.throws(() => new S3Transport({ ...base, ...bad }), RangeError, JSON.stringify(bad));
    }
    assert.throws(() => new S3Transport({ ...base, endpoint: 'http://user:pw@h' }), (e) => e instanceof RangeError && !e.message.includes('pw'));
    assert.throws(() => new S3Transport({ ...base, credentials: { accessKeyId: 'a', secretAccessKey: '' } }), TypeError);
    assert.equal(new S3Transport(base).location, 's3://backups/app/db');
    assert.equal(new S3Transport({ ...base, prefix: '' }).location, 's3://backups');
  });
});

/** `data` as a stream of `size`-byte chunks. */
async function* chunked(data: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let off = 0; off < data.length; off += size) yield data.subarray(off, Math.min(data.length, off + size));
}

// Our own structural view of the SDK (s3-sdk.ts) must stay true to the real SDK types: what we pass
// must be valid input, and what the SDK returns must fit what we read. (Compile-time only.)
type Fits<T extends U, U> = T;
type Input<K extends keyof S3Sdk> = S3Sdk[K] extends new (input: infer I) => unknown ? I : never;
export type SdkTypesFit = [
  Fits<Input<'ListObjectsV2Command'>, ClientS3.ListObjectsV2CommandInput>,
  Fits<ClientS3.ListObjectsV2CommandOutput['Contents'], S3Object[] | undefined>,
  Fits<Input<'HeadObjectCommand'>, ClientS3.HeadObjectCommandInput>,
  Fits<Input<'HeadBucketCommand'>, ClientS3.HeadBucketCommandInput>,
  Fits<Input<'GetObjectCommand'>, ClientS3.GetObjectCommandInput>,
  Fits<Input<'PutObjectCommand'>, ClientS3.PutObjectCommandInput>,
  Fits<Input<'DeleteObjectCommand'>, ClientS3.DeleteObjectCommandInput>,
  Fits<Input<'CreateMultipartUploadCommand'>, ClientS3.CreateMultipartUploadCommandInput>,
  Fits<Input<'AbortMultipartUploadCommand'>, ClientS3.AbortMultipartUploadCommandInput>,
  Fits<Input<'ListMultipartUploadsCommand'>, ClientS3.ListMultipartUploadsCommandInput>,
  Fits<S3ClientConfig, ClientS3.S3ClientConfig>,
];
