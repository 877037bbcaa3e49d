/**
 * Push: every new backup also published at each [[push]] destination, against real servers - a Ceph
 * RADOS Gateway (S3) and an OpenSSH sshd (SFTP) on loopback. What the destinations hold is judged
 * with independent tools: the AWS SDK and node:fs for the bytes, `sha256sum -c`, native `gzip -d`
 * and the sqlite3 CLI for the database. Then the faults: wrong secret, missing bucket, the gateway
 * killed mid-upload, the SFTP connection dropped mid-upload, an unknown host key.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { S3Client, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { backup, isBackupError, parseConfig, pull, PushError, WasmEngine, type BackupResult, type Config, type PushOutcome } from '../src/index.js';
import { tempDir } from './helpers/tmp.js';
import { run, sqlite3 } from './helpers/peers.js';
import { createLarge, createWithCli, nativeDump } from './helpers/databases.js';
import { sshdSkipReason, startSshd, type Sshd } from './helpers/sshd.js';
import { cephSkipReason, startCephRgw, type CephRgw } from './helpers/ceph-rgw.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

const skip = sshdSkipReason() || cephSkipReason();

describe('push to S3 (Ceph RGW) and SFTP (OpenSSH)', { skip, concurrency: false }, () => {
  const root = tempDir();
  const engine = new WasmEngine();
  let rgw: CephRgw;
  let sshd: Sshd;
  let s3: S3Client;
  let bucket: string;
  let n = 0;

  before(async () => {
    [rgw, sshd] = await Promise.all([startCephRgw(), startSshd()]);
    // The SDK's standard credential chain reads these, exactly as for a user.
    process.env.AWS_ACCESS_KEY_ID = rgw.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = rgw.secretAccessKey;
    s3 = new S3Client({ endpoint: rgw.endpoint, region: rgw.region, forcePathStyle: true, credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey } });
    bucket = await rgw.createBucket();
    createWithCli(join(root, 'app.db'), { rows: 400 });
  });
  after(async () => {
    s3?.destroy();
    await engine.close();
    await Promise.all([rgw?.stop(), sshd?.stop()]);
  });

  /** A fresh case: its own S3 prefix, SFTP directory and local backup_dir; the config text. */
  function setup(opts: { source?: string; s3?: string; sftp?: string; top?: string; knownHosts?: string } = {}) {
    const id = `case-${++n}`;
    const dir = join(root, id);
    mkdirSync(dir);
    const prefix = `backups/${id}`;
    const sftpDir = join(sshd.sftpRoot, 'pushed', id);
    const knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, opts.knownHosts ?? `${sshd.knownHostsLine()}\n`);
    const text = [
      `source_path = ${JSON.stringify(opts.source ?? join(root, 'app.db'))}`,
      'backup_dir = "local"',
      opts.top ?? '',
      '[[push]]',
      `url = "s3://${bucket}/${prefix}"`,
      `endpoint = ${JSON.stringify(rgw.endpoint)}`,
      opts.s3 ?? '',
      '[[push]]',
      `url = "sftp://${sshd.username}@127.0.0.1:${sshd.port}${sftpDir}"`,
      `private_key_path = ${JSON.stringify(sshd.userKey.privatePath)}`,
      `known_hosts = ${JSON.stringify(knownHosts)}`,
      opts.sftp ?? '',
    ].join('\n');
    return { dir, prefix, sftpDir, local: join(dir, 'local'), config: parseConfig(text, { baseDir: dir }) };
  }

  async function s3Keys(prefix: string): Promise<string[]> {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/` }));
    return (r.Contents ?? []).map((o) => o.Key!.slice(prefix.length + 1)).sort();
  }
  async function s3Get(key: string): Promise<Buffer> {
    const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await r.Body!.transformToByteArray());
  }
  /** The destination's files, judged by native tools: sha256sum -c, gzip -d, sqlite3 integrity_check and .dump. */
  function judge(dir: string, name: string, source: string): void {
    run('sha256sum', ['-c', `${name}.sha256`], { cwd: dir });
    assert.equal(readFileSync(join(dir, 'latest.txt'), 'utf8'), name);
    const db = join(dir, `${name}.restored.db`);
    run('sh', ['-c', 'gzip -dc "$1" > "$2"', 'sh', join(dir, name), db]);
    assert.equal(sqlite3(db, 'PRAGMA integrity_check;').stdout.trim(), 'ok');
    assert.equal(nativeDump(db, root), nativeDump(source, root));
  }
  async function downloadStore(prefix: string, into: string): Promise<void> {
    mkdirSync(into, { recursive: true });
    for (const k of await s3Keys(prefix)) writeFileSync(join(into, k), await s3Get(`${prefix}/${k}`));
  }
  const outcome = (r: BackupResult, scheme: string): PushOutcome => r.push.find((p) => p.url.startsWith(scheme))!;

  it('publishes at both destinations in the local layout, verifiable by native tools; retention applies there', async () => {
    const c = setup({ top: 'keep_last = 5', s3: 'keep_last = 2' });
    const results: BackupResult[] = [];
    for (let i = 0; i < 3; i++) results.push(await backup(c.config, { engine }));
    const last = results.at(-1)!;
    assert.deepEqual(last.push.map((p) => p.ok), [true, true], JSON.stringify(last.push));
    // S3: keep_last = 2 there; SFTP inherits the top level's 5.
    const names = results.map((r) => r.name);
    assert.deepEqual(await s3Keys(c.prefix), [...names.slice(1).flatMap((x) => [x, `${x}.sha256`]), 'latest.txt'].sort());
    assert.deepEqual(outcome(last, 's3').pruned, [names[0]]);
    const sftpFiles = readdirSync(c.sftpDir).sort();
    assert.deepEqual(sftpFiles, [...names.flatMap((x) => [x, `${x}.sha256`]), 'latest.txt'].sort());
    for (const f of sftpFiles) assert.equal(statSync(join(c.sftpDir, f)).mode & 0o777, 0o600, f);
    assert.equal(statSync(c.sftpDir).mode & 0o777, 0o700);
    judge(c.sftpDir, last.name, join(root, 'app.db'));
    const fromS3 = join(c.dir, 'from-s3');
    await downloadStore(c.prefix, fromS3);
    judge(fromS3, last.name, join(root, 'app.db'));
    // The bytes everywhere are the local backup's.
    assert.deepEqual(readFileSync(join(fromS3, last.name)), readFileSync(join(c.local, last.name)));
  });

  it('a wrong secret fails only the S3 destination (auth), names it, never prints the secret; SFTP and local still publish', async () => {
    const c = setup();
    const good = process.env.AWS_SECRET_ACCESS_KEY!;
    process.env.AWS_SECRET_ACCESS_KEY = 'WrongSecretKey0000000000000000000000wrong';
    let err: unknown;
    try {
      await backup(c.config, { engine });
    } catch (e) {
      err = e;
    } finally {
      process.env.AWS_SECRET_ACCESS_KEY = good;
    }
    assert.ok(err instanceof PushError, String(err));
    assert.equal(err.code, 'EPUSH');
    const [s3o, sftpo] = err.outcomes;
    assert.equal(s3o!.ok, false);
    assert.equal(s3o!.error!.kind, 'auth', s3o!.error!.message);
    assert.ok(err.message.includes(`s3://${bucket}/${c.prefix}`), err.message);
    assert.ok(!JSON.stringify(err.outcomes).includes('WrongSecretKey'), 'the secret is not in the outcome');
    assert.ok(!err.message.includes('WrongSecretKey') && !err.message.includes(good));
    assert.equal(sftpo!.ok, true);
    const result = err.result as BackupResult;
    assert.equal(readFileSync(join(c.local, 'latest.txt'), 'utf8'), result.name, 'the local backup stays published');
    assert.equal(readFileSync(join(c.sftpDir, 'latest.txt'), 'utf8'), result.name);
    assert.deepEqual(await s3Keys(c.prefix), []);
  });

  it('a missing bucket is a not-found failure naming the bucket; nothing is created', async () => {
    const c = setup();
    const cfg = c.config as Config;
    cfg.push![0]!.url = `s3://no-such-bucket-${n}/x`;
    await assert.rejects(backup(cfg, { engine }), (e: unknown) => {
      assert.ok(e instanceof PushError);
      assert.equal(e.outcomes[0]!.error!.kind, 'not-found', e.outcomes[0]!.error!.message);
      assert.match(e.outcomes[0]!.error!.message, new RegExp(`no-such-bucket-${n}`));
      assert.equal(e.outcomes[1]!.ok, true);
      return true;
    });
  });

  it('an unknown SFTP host key is refused with its fingerprint; nothing is written remotely', async () => {
    const c = setup({ knownHosts: '' });
    await assert.rejects(backup(c.config, { engine }), (e: unknown) => {
      assert.ok(e instanceof PushError);
      const o = e.outcomes[1]!;
      assert.equal(o.error!.kind, 'host-key', o.error!.message);
      assert.ok(o.error!.message.includes(sshd.hostKeys[0]!.fingerprint), o.error!.message);
      return true;
    });
    assert.equal(existsSync(c.sftpDir), false, 'the remote directory was not even created');
  });

  describe('a destination that dies mid-upload', () => {
    let big: string;
    before(() => {
      big = join(root, 'big.db');
      createLarge(big, 40); // random blobs: a ~40 MB .gz at level 0, five 8 MiB S3 parts
    });

    it('the gateway killed during a multipart upload: no latest.txt naming a missing object; the next run publishes', async () => {
      const c = setup({ source: big, top: 'compression_level = 0' });
      const first = await backup({ ...c.config, push: [c.config.push![0]!] }, { engine });
      let killed = false;
      const err = await backup({ ...c.config, push: [c.config.push![0]!] }, {
        engine,
        onProgress: (p) => {
          if (p.phase === 'push' && !killed && (p.bytesDone ?? 0) >= 12 * 1024 * 1024) {
            killed = true;
            void rgw.killGateway();
          }
        },
      }).catch((e: unknown) => e);
      assert.ok(killed, 'the gateway was killed during the upload');
      assert.ok(err instanceof PushError, String(err));
      assert.equal(err.outcomes[0]!.error!.kind, 'network', err.outcomes[0]!.error!.message);
      const second = (err.result as BackupResult).name;
      await rgw.startGateway();
      // latest.txt still names the first backup, which is whole; the second is not there under its name.
      const keys = await s3Keys(c.prefix);
      assert.equal((await s3Get(`${c.prefix}/latest.txt`)).toString(), first.name);
      assert.ok(!keys.includes(second), `no partial ${second}: ${keys.join(', ')}`);
      assert.deepEqual(await s3Get(`${c.prefix}/${first.name}`), readFileSync(join(c.local, first.name)));
      const third = await backup({ ...c.config, push: [c.config.push![0]!] }, { engine });
      assert.equal((await s3Get(`${c.prefix}/latest.txt`)).toString(), third.name);
      const fromS3 = join(c.dir, 'from-s3');
      await downloadStore(c.prefix, fromS3);
      run('sha256sum', ['-c', `${third.name}.sha256`], { cwd: fromS3 });
    });

    it('the SFTP connection dropped mid-upload: nothing partial under a final name; the next run publishes', async () => {
      const c = setup({ source: big, top: 'compression_level = 0' });
      const sftpOnly = { ...c.config, push: [c.config.push![1]!] };
      const first = await backup(sftpOnly, { engine });
      let dropped = 0;
      const err = await backup(sftpOnly, {
        engine,
        onProgress: (p) => {
          if (p.phase === 'push' && dropped === 0 && (p.bytesDone ?? 0) >= 8 * 1024 * 1024) dropped = sshd.dropConnections();
        },
      }).catch((e: unknown) => e);
      assert.ok(dropped > 0, 'a connection was dropped during the upload');
      assert.ok(err instanceof PushError, String(err));
      assert.equal(err.outcomes[0]!.error!.kind, 'network', err.outcomes[0]!.error!.message);
      const second = (err.result as BackupResult).name;
      const files = readdirSync(c.sftpDir);
      assert.ok(!files.includes(second) && !files.includes(`${second}.sha256`), files.join(', '));
      assert.equal(readFileSync(join(c.sftpDir, 'latest.txt'), 'utf8'), first.name);
      const third = await backup(sftpOnly, { engine });
      judge(c.sftpDir, third.name, big);
    });
  });

  it('the CLI lists and verifies a store URL (endpoint from the config entry); a tampered object fails verify', async () => {
    const c = setup();
    const r: { name: string } = await backup(c.config, { engine });
    const file = join(c.dir, 'push.toml');
    writeFileSync(file, `source_path = "x.db"\nbackup_dir = "local"\n[[push]]\nurl = "s3://${bucket}/${c.prefix}"\nendpoint = ${JSON.stringify(rgw.endpoint)}\n`);
    const env = { ...process.env, ...rgw.env };
    const url = `s3://${bucket}/${c.prefix}`;
    const list = JSON.parse(run(process.execPath, [cli, 'list', url, '--config', file, '--json'], { env }).stdout);
    assert.deepEqual(list.backups.map((b: { name: string; isLatest: boolean }) => [b.name, b.isLatest]), [[r.name, true]]);
    const ok = run(process.execPath, [cli, 'verify', url, '--endpoint', rgw.endpoint, '--json'], { env });
    assert.equal(JSON.parse(ok.stdout).ok, true, ok.stdout);
    // prune of a store URL: the retention of the [[push]] entry (inherited keep_last 30: nothing to do),
    // or the flags; the backup latest.txt names is never removed.
    const second = await backup(c.config, { engine });
    const dry = JSON.parse(run(process.execPath, [cli, 'prune', url, '--config', file, '--keep-last', '1', '--dry-run', '--json'], { env }).stdout);
    assert.deepEqual(dry.removed, [r.name]);
    assert.ok((await s3Keys(c.prefix)).includes(r.name), 'a dry run removes nothing');
    const pruned = JSON.parse(run(process.execPath, [cli, 'prune', url, '--config', file, '--keep-last', '1', '--json'], { env }).stdout);
    assert.deepEqual(pruned.removed, [r.name]);
    assert.deepEqual(await s3Keys(c.prefix), [second.name, `${second.name}.sha256`, 'latest.txt'].sort());
    // The tampered-object check below uses the newest backup.
    r.name = second.name;
    const key = `${c.prefix}/${r.name}`;
    const bytes = await s3Get(key);
    bytes[bytes.length >> 1] ^= 0xff;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
    const bad = run(process.execPath, [cli, 'verify', `${url}/${r.name}`, '--config', file, '--json'], { env, allowFail: true });
    assert.equal(bad.status, 1, bad.stderr);
    const out = JSON.parse(bad.stdout);
    assert.equal(out.ok, false);
    assert.equal(out.checksum, 'mismatch', bad.stdout);
  });

  it('connect_timeout / idle_timeout of a [[push]] entry reach the S3 client: a silent endpoint fails that destination, bounded', async () => {
    // Accepts connections and never answers: the SDK sets no request timeout of its own.
    const sockets: Socket[] = [];
    const silent = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as AddressInfo).port;
      const c = setup();
      const cfg = parseConfig(
        `source_path = ${JSON.stringify(join(root, 'app.db'))}\nbackup_dir = "local"\n[[push]]\nurl = "s3://${bucket}/${c.prefix}"\n` +
          `endpoint = "http://127.0.0.1:${port}"\nconnect_timeout = "1s"\nidle_timeout = "1s"\n`,
        { baseDir: c.dir },
      );
      const t0 = Date.now();
      const err = await backup(cfg, { engine }).catch((e: unknown) => e);
      const took = Date.now() - t0;
      assert.ok(err instanceof PushError, String(err));
      assert.equal(err.outcomes[0]!.error!.kind, 'network', err.outcomes[0]!.error!.message);
      assert.ok(took < 20_000, `failed within bounds (took ${took} ms; 2 attempts of 1 s idle each, plus the backup)`);
      assert.equal(readFileSync(join(c.local, 'latest.txt'), 'utf8'), (err.result as BackupResult).name);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it('CLI backup: a failed destination exits 1, --json has one result with each destination classified, --quiet prints only the error', async () => {
    const c = setup();
    const file = join(c.dir, 'cli.toml');
    const knownHosts = join(c.dir, 'known_hosts');
    writeFileSync(
      file,
      `source_path = ${JSON.stringify(join(root, 'app.db'))}\nbackup_dir = "local"\n` +
        `[[push]]\nurl = "s3://${bucket}/${c.prefix}"\nendpoint = ${JSON.stringify(rgw.endpoint)}\n` +
        `[[push]]\nurl = "sftp://${sshd.username}@127.0.0.1:${sshd.port}${c.sftpDir}"\nprivate_key_path = ${JSON.stringify(sshd.userKey.privatePath)}\nknown_hosts = ${JSON.stringify(knownHosts)}\n`,
    );
    const env = { ...process.env, ...rgw.env, AWS_SECRET_ACCESS_KEY: 'WrongSecretKey0000000000000000000000wrong' };
    const json = run(process.execPath, [cli, 'backup', '--config', file, '--json'], { env, allowFail: true });
    assert.equal(json.status, 1, json.stderr);
    const lines = json.stdout.trim().split('\n');
    assert.equal(lines.length, 1, json.stdout);
    const out = JSON.parse(lines[0]!);
    assert.equal(out.ok, false);
    assert.equal(out.error.code, 'EPUSH');
    assert.deepEqual(out.push.map((p: PushOutcome) => [p.ok, p.error?.kind]), [[false, 'auth'], [true, undefined]]);
    assert.ok(!json.stdout.includes('WrongSecretKey') && !json.stderr.includes('WrongSecretKey'));
    const quiet = run(process.execPath, [cli, 'backup', '--config', file, '--quiet'], { env, allowFail: true });
    assert.equal(quiet.status, 1);
    assert.equal(quiet.stdout, '');
    assert.match(quiet.stderr, /EPUSH/);
    // Node 20: the AWS SDK's NodeVersionSupportWarning must not reach our users' stderr.
    assert.doesNotMatch(json.stderr + quiet.stderr, /NodeVersionSupportWarning|AWS SDK/, quiet.stderr);
    // With the right secret, the same command succeeds and says where it pushed.
    const good = run(process.execPath, [cli, 'backup', '--config', file], { env: { ...process.env, ...rgw.env } });
    assert.match(good.stdout, /pushed to s3:\/\//);
    assert.match(good.stdout, /pushed to sftp:\/\//);
  });

  it('pull from s3:// ([pull] url): verified and published locally; a tampered object is refused, nothing promoted', async () => {
    const c = setup();
    const r = await backup(c.config, { engine });
    const pullText = (localDir: string) =>
      `[pull]\nurl = "s3://${bucket}/${c.prefix}"\nendpoint = ${JSON.stringify(rgw.endpoint)}\nlocal_dir = ${JSON.stringify(localDir)}\n`;
    const pulledDir = join(c.dir, 'pulled');
    const got = await pull(parseConfig(pullText(pulledDir)), { engine });
    assert.equal(got.status, 'pulled');
    assert.equal(got.name, r.name);
    assert.equal(got.remoteChecksum, 'ok');
    judge(pulledDir, r.name, join(root, 'app.db'));
    assert.equal((await pull(parseConfig(pullText(pulledDir)), { engine })).status, 'up-to-date');
    // Damage the object at the destination: the sidecar there catches it, nothing is published.
    const key = `${c.prefix}/${r.name}`;
    const bytes = await s3Get(key);
    bytes[bytes.length >> 1] ^= 0xff;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
    const fresh = join(c.dir, 'pulled-2');
    await assert.rejects(pull(parseConfig(pullText(fresh)), { engine }), (e: unknown) => isBackupError(e, 'ECHECKSUM'));
    assert.ok(!existsSync(join(fresh, 'latest.txt')) && !existsSync(join(fresh, r.name)), readdirSync(fresh).join(', '));
  });
});
