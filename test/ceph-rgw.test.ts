// The real-S3 harness itself (test/helpers/ceph-rgw.ts): a Ceph RADOS Gateway comes up, serves S3 with
// the AWS SDK, survives a gateway kill + restart with its data, and stop() leaves no daemon, port or dir.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { cephSkipReason, startCephRgw, type CephRgw } from './helpers/ceph-rgw.js';

describe('ceph-rgw harness', { skip: cephSkipReason() }, () => {
  let s3: CephRgw;
  let client: S3Client;
  let bucket: string;
  const body = `hello from ${process.pid}\n`.repeat(1000);

  before(async () => {
    s3 = await startCephRgw();
    // maxAttempts 1: a refused connection fails at once instead of after the SDK's retries
    client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      maxAttempts: 1,
    });
  });
  after(async () => {
    client?.destroy();
    await s3?.stop();
  });

  it('describes itself for the SDK and for child processes', () => {
    assert.match(s3.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(s3.region, 'us-east-1');
    assert.deepEqual(s3.env, {
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_REGION: 'us-east-1',
      S3_ENDPOINT: s3.endpoint,
    });
  });

  it('creates buckets and stores, reads and lists an object', async () => {
    bucket = await s3.createBucket();
    assert.match(bucket, /^[a-z0-9-]{3,63}$/);
    assert.equal(await s3.createBucket('named-bucket'), 'named-bucket');
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'dir/a.txt', Body: body }));
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/a.txt' }));
    assert.equal(await got.Body!.transformToString(), body);
    const list = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.deepEqual(list.Contents?.map((o) => [o.Key, o.Size]), [['dir/a.txt', body.length]]);
    assert.match(s3.log(), /PUT \/\S+\/dir\/a\.txt/);
  });

  it('killGateway drops connections and refuses new ones; startGateway brings the data back', async () => {
    const port = Number(new URL(s3.endpoint).port);
    const open = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => open.once('connect', resolve).once('error', reject));
    const dropped = new Promise<void>((resolve) => open.once('close', () => resolve()));
    open.on('error', () => {}); // ECONNRESET is fine: it is what we want

    await s3.killGateway();
    await dropped;
    assert.equal(await connectError(port), 'ECONNREFUSED');
    await assert.rejects(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/a.txt' })), (e: NodeJS.ErrnoException) => {
      assert.ok(['ECONNREFUSED', 'ECONNRESET', 'EPIPE'].includes(e.code ?? ''), `not a connection error: ${e.code} ${e.message}`);
      return true;
    });

    await s3.startGateway();
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/a.txt' }));
    assert.equal(await got.Body!.transformToString(), body);
    // metadata writes are not held up by the dead gateway's watch (see rgw cache in ceph-rgw.sh)
    const t0 = Date.now();
    await s3.createBucket();
    assert.ok(Date.now() - t0 < 10_000, `CreateBucket after a restart took ${Date.now() - t0} ms`);
  });

  it('stop kills every daemon, frees the ports and removes the temp dir', async () => {
    const daemons = ourDaemons();
    assert.deepEqual(daemons.map((d) => d.name).sort(), ['ceph-mon', 'ceph-osd', 'radosgw']);
    const conf = daemons[0]!.conf;
    const dir = conf.replace(/\/ceph\.conf$/, '');
    const monHost = /^mon host = (.*)$/m.exec(readFileSync(conf, 'utf8'))![1]!;
    const monPorts = [...monHost.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
    const ports = [Number(new URL(s3.endpoint).port), ...monPorts];
    assert.equal(ports.length, 3);

    await s3.stop();
    await s3.stop(); // idempotent
    for (const d of daemons) assert.equal(existsSync(`/proc/${d.pid}`), false, `${d.name} (pid ${d.pid}) still running`);
    for (const p of ports) assert.ok(await canListen(p), `port ${p} still taken`);
    assert.equal(existsSync(dir), false, `${dir} still there`);
    assert.match(s3.log(), /beast/); // still readable after stop, for failure messages
  });
});

interface DaemonInfo {
  pid: number;
  name: string;
  conf: string;
}

/** This process's children that are Ceph daemons (the harness spawns them directly). */
function ourDaemons(): DaemonInfo[] {
  const out: DaemonInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== process.pid) continue;
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const name = argv[0]!.split('/').pop()!;
      if (!['ceph-mon', 'ceph-osd', 'radosgw'].includes(name)) continue;
      out.push({ pid: Number(entry), name, conf: argv[argv.indexOf('-c') + 1]! });
    } catch {
      // exited while we looked
    }
  }
  return out;
}

function connectError(port: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve('connected');
    });
    sock.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
