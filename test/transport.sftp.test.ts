/**
 * SftpTransport against a real OpenSSH sshd on loopback: the shared Transport contract, then what
 * only a network transport has - login-relative paths, host key refusal, authentication (key file,
 * passphrase, agent), dropped connections, refused and silent ports, and read throughput; and for
 * writes: modes, mkdir -p, a dropped or frozen connection, a full disk, a server without posix-rename.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isBackupError, ErrorCode, BackupError } from '../src/errors.js';
import { SftpTransport, type SftpTransportOptions } from '../src/transport/sftp/sftp.js';
import type { SftpSession } from '../src/transport/sftp/sftp-session.js';
import { createHostKeyCheck } from '../src/transport/sftp/host-key.js';
import { makeKey, scpFrom, sshdSkipReason, startSshd, type Sshd } from './helpers/sshd.js';
import { run } from './helpers/peers.js';
import { directoryFixture } from './helpers/fs-fixture.js';
import { withTmpfs } from './helpers/mounts.js';
import { collect, sha256, testTransport } from './transport.shared.js';

/** A verifier that accepts exactly this server's host keys. */
function trust(s: Sshd): (key: Buffer) => boolean {
  const blobs = s.hostKeys.map((k) => Buffer.from(k.publicLine.split(' ')[1]!, 'base64'));
  return (key) => blobs.some((b) => b.equals(key));
}

const code = (c: string) => (e: unknown) => isBackupError(e) && e.code === c;

describe('SftpTransport against OpenSSH sshd', { skip: sshdSkipReason() }, () => {
  let sshd: Sshd;
  const transports: SftpTransport[] = [];
  let n = 0;
  before(async () => {
    sshd = await startSshd();
  });
  after(async () => {
    for (const t of transports) await t.close();
    await sshd?.stop();
  });

  const transport = (extra: Partial<SftpTransportOptions> = {}, server: Sshd = sshd): SftpTransport => {
    const t = new SftpTransport({
      host: server.host,
      port: server.port,
      username: server.username,
      privateKey: server.userKey.privatePath,
      remoteDir: '/nonexistent',
      hostVerifier: trust(server),
      ...extra,
    });
    transports.push(t);
    return t;
  };

  /** A fresh backup directory under the login dir; returns its local path and login-relative path. */
  const makeDir = (files: Record<string, Buffer>): { dir: string; relative: string } => {
    const relative = `case-${++n}/backups`;
    const dir = join(sshd.sftpRoot, relative);
    mkdirSync(dir, { recursive: true });
    for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
    return { dir, relative };
  };

  testTransport({
    name: 'SftpTransport (OpenSSH internal-sftp, ed25519 user key)',
    fileSystem: true,
    async create(files) {
      const { dir } = makeDir(files);
      return { transport: transport({ remoteDir: dir }), ...directoryFixture(dir) };
    },
  });

  describe('SFTP specifics', () => {
    it('a relative remoteDir resolves against the login directory; location says where', async () => {
      const { dir, relative } = makeDir({ 'latest.txt': Buffer.from('x.db.gz') });
      const t = transport({ remoteDir: `./${relative}/../backups` });
      assert.equal(t.location, `sftp://${sshd.username}@127.0.0.1:${sshd.port}/~/./${relative}/../backups`);
      assert.equal(await t.readText('latest.txt', 100), 'x.db.gz');
      const abs = transport({ remoteDir: dir });
      assert.equal(abs.location, `sftp://${sshd.username}@127.0.0.1:${sshd.port}${dir}`);
      assert.deepEqual((await abs.list()).map((f) => f.name), ['latest.txt']);
    });

    it('a host key the verifier refuses: EHOST_KEY (or the owner\'s error), no retry, nothing read', async () => {
      const { dir } = makeDir({ 'a.bin': Buffer.from('secret') });
      const seen: Buffer[] = [];
      const refuse = (key: Buffer): boolean => (seen.push(key), false);
      const t = transport({ remoteDir: dir, hostVerifier: refuse, retries: 3 });
      const chunks: Uint8Array[] = [];
      await assert.rejects(
        (async () => {
          for await (const c of t.read('a.bin')) chunks.push(c);
        })(),
        (e) => code(ErrorCode.HOST_KEY)(e) && (e as BackupError).host === '127.0.0.1' && new RegExp(`127\\.0\\.0\\.1:${sshd.port}`).test((e as Error).message),
      );
      assert.equal(chunks.length, 0);
      assert.equal(seen.length, 1, 'host key refusal is not retried');
      assert.ok(trust(sshd)(seen[0]!), 'the verifier saw the server key blob');

      const mine = new BackupError(ErrorCode.HOST_KEY, 'the owner knows why');
      const owned = transport({ remoteDir: dir, hostVerifier: () => false, hostKeyError: () => mine });
      await assert.rejects(owned.list(), (e) => e === mine);
      const throwing = transport({ remoteDir: dir, hostVerifier: () => { throw new Error('verifier bug'); } });
      await assert.rejects(throwing.stat('a.bin'), code(ErrorCode.HOST_KEY));
    });

    it('known_hosts through createHostKeyCheck: the right key connects, another key is refused with its message', async () => {
      const { dir } = makeDir({ 'a.bin': Buffer.from('abc') });
      const good = join(sshd.dir, `known_hosts-${n}`);
      writeFileSync(good, `${sshd.knownHostsLine('ecdsa')}\n`);
      const check = await createHostKeyCheck({ host: sshd.host, port: sshd.port, knownHostsPath: good });
      const t = transport({ remoteDir: dir, hostVerifier: (k) => check.verify(k), hostKeyError: () => check.error(), serverHostKeyAlgorithms: check.algorithms });
      assert.equal(await t.readText('a.bin', 10), 'abc');
      assert.equal(check.presented?.type, 'ecdsa-sha2-nistp256', 'the listed key type was negotiated');

      const other = makeKey(join(sshd.dir, `other-${n}`), 'ecdsa');
      const bad = join(sshd.dir, `known_hosts-bad-${n}`);
      writeFileSync(bad, `[127.0.0.1]:${sshd.port} ${other.publicLine}\n`);
      const badCheck = await createHostKeyCheck({ host: sshd.host, port: sshd.port, knownHostsPath: bad });
      const refused = transport({ remoteDir: dir, hostVerifier: (k) => badCheck.verify(k), hostKeyError: () => badCheck.error(), serverHostKeyAlgorithms: badCheck.algorithms });
      await assert.rejects(refused.readText('a.bin', 10), (e) => code(ErrorCode.HOST_KEY)(e) && /CHANGED/.test((e as Error).message));
    });

    it('a server that only offers ecdsa host keys', async (t) => {
      const ecdsaOnly = await startSshd({ t, hostKeyTypes: ['ed25519', 'ecdsa'], hostKeyAlgorithms: ['ecdsa-sha2-nistp256'] });
      const dir = join(ecdsaOnly.sftpRoot, 'b');
      mkdirSync(dir);
      writeFileSync(join(dir, 'latest.txt'), 'ok');
      const kh = join(ecdsaOnly.dir, 'known_hosts');
      writeFileSync(kh, `${ecdsaOnly.knownHostsLine('ecdsa')}\n`);
      const check = await createHostKeyCheck({ host: ecdsaOnly.host, port: ecdsaOnly.port, knownHostsPath: kh });
      const tr = transport({ remoteDir: 'b', hostVerifier: (k) => check.verify(k), hostKeyError: () => check.error(), serverHostKeyAlgorithms: check.algorithms }, ecdsaOnly);
      assert.equal(await tr.readText('latest.txt', 10), 'ok');
      await tr.close();
      // Only the ed25519 key is known: the server cannot show it, so its ecdsa key is refused.
      writeFileSync(kh, `${ecdsaOnly.knownHostsLine('ed25519')}\n`);
      const check2 = await createHostKeyCheck({ host: ecdsaOnly.host, port: ecdsaOnly.port, knownHostsPath: kh });
      const tr2 = transport({ remoteDir: 'b', hostVerifier: (k) => check2.verify(k), hostKeyError: () => check2.error(), serverHostKeyAlgorithms: check2.algorithms }, ecdsaOnly);
      await assert.rejects(tr2.list(), code(ErrorCode.HOST_KEY));
    });

    it('a key the server does not accept: EAUTH naming host, user and the key file', async () => {
      const wrong = makeKey(join(sshd.dir, `wrong-${++n}`), 'ed25519');
      const proxy = await delayProxy(sshd.port, 0);
      try {
        const t = transport({ port: proxy.port, remoteDir: '.', privateKey: wrong.privatePath, retries: 3, retryDelayMs: 10 });
        await assert.rejects(t.list(), (e) => {
          const m = (e as Error).message;
          return code(ErrorCode.AUTH)(e) && m.includes('127.0.0.1') && m.includes(`"${sshd.username}"`) && m.includes(wrong.privatePath);
        });
        assert.equal(proxy.connections(), 1, 'authentication failures are not retried');
      } finally {
        await proxy.close();
      }
      const missing = transport({ remoteDir: '.', privateKey: join(sshd.dir, 'no-such-key') });
      await assert.rejects(missing.list(), (e) => code(ErrorCode.AUTH)(e) && (e as BackupError).errno === 'ENOENT');
      // A key file that others may read is refused before connecting, as ssh refuses it.
      const open = join(sshd.dir, `open-${++n}`);
      writeFileSync(open, readFileSync(sshd.userKey.privatePath), { mode: 0o644 });
      chmodSync(open, 0o644);
      await assert.rejects(transport({ remoteDir: '.', privateKey: open }).list(), (e) => {
        return code(ErrorCode.CONFIG)(e) && (e as BackupError).path === open && (e as Error).message.includes(`mode 0644`) && (e as Error).message.includes(`chmod 600 ${open}`);
      });
    });

    it('a passphrase-protected key: the right passphrase works; a wrong or missing one is EAUTH without the secret', async (t) => {
      const secret = 'correct horse battery staple';
      const locked = await startSshd({ t, hostKeyTypes: ['ed25519'], userKeyPassphrase: secret });
      const opts = { remoteDir: '.', privateKey: locked.userKey.privatePath };
      writeFileSync(join(locked.sftpRoot, 'latest.txt'), 'yes');
      assert.equal(await transport({ ...opts, passphrase: secret }, locked).readText('latest.txt', 10), 'yes');
      const wrongPass = 'not the passphrase';
      await assert.rejects(transport({ ...opts, passphrase: wrongPass }, locked).list(), (e) => {
        const m = String((e as Error).message) + String((e as Error).stack);
        return code(ErrorCode.AUTH)(e) && m.includes(locked.userKey.privatePath) && !m.includes(wrongPass) && !m.includes(secret);
      });
      await assert.rejects(transport(opts, locked).list(), code(ErrorCode.AUTH));
      // Given as a Buffer, the key itself never appears in the message.
      await assert.rejects(transport({ remoteDir: '.', privateKey: Buffer.from('-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n') }, locked).list(), (e) => code(ErrorCode.AUTH)(e) && !(e as Error).message.includes('AAAA'));
    });

    it('ssh-agent: a key in the agent logs in; an empty agent is EAUTH saying the agent was tried', async (t) => {
      const sock = join(sshd.dir, `agent-${++n}.sock`);
      const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
      t.after(() => {
        agent.kill('SIGTERM');
      });
      for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
      const { dir } = makeDir({ 'latest.txt': Buffer.from('agent') });
      await assert.rejects(transport({ remoteDir: dir, privateKey: undefined, agent: sock }).list(), (e) => code(ErrorCode.AUTH)(e) && (e as Error).message.includes(`ssh-agent at "${sock}"`));
      run('ssh-add', ['-q', sshd.userKey.privatePath], { env: { ...process.env, SSH_AUTH_SOCK: sock } });
      assert.equal(await transport({ remoteDir: dir, privateKey: undefined, agent: sock }).readText('latest.txt', 10), 'agent');
    });

    it('small requests are not held back by Nagle + delayed ACK (40 ms each without TCP_NODELAY)', async () => {
      const { dir } = makeDir({ 'latest.txt': Buffer.from('a.db.gz') });
      const t = transport({ remoteDir: dir });
      await t.list();
      const started = performance.now();
      for (let i = 0; i < 20; i++) {
        assert.equal((await t.stat('latest.txt'))?.size, 7);
        assert.equal(await t.readText('latest.txt', 100), 'a.db.gz');
      }
      const ms = performance.now() - started;
      assert.ok(ms < 1500, `20 stat + 20 readText took ${ms} ms (about 6 s with Nagle on)`);
    });

    it('a connection dropped during a large read: ECONNECT naming host and file; the next read reconnects', async () => {
      const data = randomBytes(24 * 1024 * 1024);
      const { dir } = makeDir({ 'large.bin': data });
      const t = transport({ remoteDir: dir });
      let bytes = 0;
      let dropped = 0;
      await assert.rejects(
        (async () => {
          for await (const c of t.read('large.bin')) {
            bytes += c.length;
            if (!dropped && bytes >= 1024 * 1024) dropped = sshd.dropConnections();
          }
        })(),
        (e) =>
          code(ErrorCode.CONNECT)(e) &&
          (e as BackupError).host === '127.0.0.1' &&
          (e as BackupError).path === join(dir, 'large.bin') &&
          /127\.0\.0\.1/.test((e as Error).message) &&
          /large\.bin/.test((e as Error).message),
      );
      assert.ok(dropped > 0, 'there was a connection to drop');
      assert.ok(bytes < data.length);
      assert.equal(sha256(await collect(t.read('large.bin'))), sha256(data));
      // Dropped while idle: noticed before the next call, which reconnects without failing.
      sshd.dropConnections();
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual((await t.list()).map((f) => f.name), ['large.bin']);
    });

    it('a closed port: ECONNECT quickly, after the bounded retries', async () => {
      const port = await closedPort();
      const t = transport({ port, retries: 2, retryDelayMs: 50 });
      const started = performance.now();
      await assert.rejects(t.list(), (e) => code(ErrorCode.CONNECT)(e) && /ECONNREFUSED|refused/i.test((e as Error).message) && /3 attempts/.test((e as Error).message));
      const ms = performance.now() - started;
      assert.ok(ms >= 150 && ms < 3000, `took ${ms} ms`);
    });

    it('a closed port at the first connect of a process (the socket fails while ssh2 still loads): the same ECONNECT', async () => {
      const port = await closedPort();
      const module = new URL('../src/transport/sftp/sftp.js', import.meta.url).href;
      const script =
        `const { SftpTransport } = await import(${JSON.stringify(module)});` +
        `const t = new SftpTransport({ host: '127.0.0.1', port: ${port}, username: 'u', privateKey: ${JSON.stringify(sshd.userKey.privatePath)},` +
        ` remoteDir: '/r', hostVerifier: () => true, retries: 1, retryDelayMs: 10 });` +
        'await t.list().then(() => console.log("{}"), (e) => console.log(JSON.stringify({ code: e.code, errno: e.errno, message: e.message })));';
      const started = performance.now();
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      await new Promise((r) => child.on('close', r));
      const ms = performance.now() - started;
      const e = JSON.parse(out) as { code?: string; errno?: string; message?: string };
      assert.equal(e.code, ErrorCode.CONNECT, out);
      assert.equal(e.errno, 'ECONNREFUSED', out);
      assert.match(e.message!, /ECONNREFUSED.*\(2 attempts\)/);
      assert.ok(ms < 5000, `took ${ms} ms`);
    });

    it('a server that never answers: ECONNECT after connectTimeoutMs, retried', async () => {
      const sockets: Socket[] = [];
      const silent = createServer((s) => sockets.push(s));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      try {
        const port = (silent.address() as { port: number }).port;
        const t = transport({ port, connectTimeoutMs: 300, retries: 1, retryDelayMs: 10 });
        const started = performance.now();
        await assert.rejects(t.list(), (e) => code(ErrorCode.CONNECT)(e) && /timed out/.test((e as Error).message));
        const ms = performance.now() - started;
        assert.ok(ms >= 600 && ms < 3000, `took ${ms} ms`);
        assert.equal(sockets.length, 2, 'one retry after a timeout');
      } finally {
        for (const s of sockets) s.destroy();
        silent.close();
      }
    });

    it('reads that stop early close their remote handles', async () => {
      const data = randomBytes(8 * 1024 * 1024);
      const { dir } = makeDir({ 'large.bin': data });
      const t = transport({ remoteDir: dir });
      for (let i = 0; i < 10; i++) {
        for await (const c of t.read('large.bin')) {
          assert.equal(c.length, 255 * 1024);
          break;
        }
      }
      const ac = new AbortController();
      await assert.rejects(async () => {
        for await (const _ of t.read('large.bin', { signal: ac.signal })) ac.abort();
      }, code(ErrorCode.ABORTED));
      // The server answers requests in order: once list() returns, every earlier close was handled.
      await t.list();
      assert.equal(sshd.openHandles(join(dir, 'large.bin')), 0);
      await collect(t.read('large.bin'));
      assert.equal(sshd.openHandles(join(dir, 'large.bin')), 0);
    });

    it('reads in requests of the most the server serves in one (limits@openssh.com), not smaller', async () => {
      const data = randomBytes(1024 * 1024);
      const { dir } = makeDir({ 'one.bin': data });
      const tr = transport({ remoteDir: dir });
      try {
        await tr.list();
        const session = (await (tr as unknown as { connection(): Promise<{ session: SftpSession }> }).connection()).session;
        // OpenSSH's sftp-server answers limits@openssh.com with 256 KiB less 1 KiB of framing.
        assert.equal(session.maxReadBytes, 255 * 1024);
        const chunks: Uint8Array[] = [];
        for await (const c of tr.read('one.bin')) chunks.push(c);
        assert.equal(sha256(Buffer.concat(chunks)), sha256(data));
        // Each yielded chunk is one request's buffer: all but the last are full requests.
        assert.deepEqual(
          chunks.slice(0, -1).map((c) => c.length),
          Array(chunks.length - 1).fill(255 * 1024),
        );
      } finally {
        await tr.close();
      }
    });

    it('throughput: requests are pipelined (10 ms RTT: 64 in flight vs 1), and near scp on loopback', async (t) => {
      const data = randomBytes(4 * 1024 * 1024);
      const { dir, relative } = makeDir({ 'big.bin': data });
      const proxy = await delayProxy(sshd.port, 5);
      try {
        const timed = async (readConcurrency: number): Promise<number> => {
          const tr = transport({ port: proxy.port, remoteDir: dir, readConcurrency, readChunkBytes: 65_536, hostVerifier: trust(sshd) });
          await tr.list(); // connect outside the timing
          const started = performance.now();
          assert.equal(sha256(await collect(tr.read('big.bin'))), sha256(data));
          const ms = performance.now() - started;
          await tr.close();
          return ms;
        };
        const one = await timed(1);
        const many = await timed(64);
        t.diagnostic(`4 MiB through a 10 ms RTT proxy: 1 request in flight ${one.toFixed(0)} ms, 64 in flight ${many.toFixed(0)} ms`);
        assert.ok(one >= 64 * 10, `64 round trips take at least 640 ms (took ${one} ms)`);
        assert.ok(many * 3 < one, `pipelining pays: ${many} ms vs ${one} ms`);
      } finally {
        await proxy.close();
      }
      // Loopback, 16 MiB: against scp from the same server (a diagnostic, loosely bounded).
      const big = randomBytes(16 * 1024 * 1024);
      writeFileSync(join(dir, 'big.bin'), big);
      const tr = transport({ remoteDir: dir });
      await tr.list();
      let started = performance.now();
      assert.equal(sha256(await collect(tr.read('big.bin'))), sha256(big));
      const ours = performance.now() - started;
      const kh = join(sshd.dir, `known_hosts-scp-${n}`);
      writeFileSync(kh, sshd.hostKeys.map((k) => `[127.0.0.1]:${sshd.port} ${k.publicLine}`).join('\n') + '\n');
      started = performance.now();
      scpFrom(sshd, kh, `${relative}/big.bin`, join(sshd.dir, 'scp.bin'));
      const scp = performance.now() - started;
      t.diagnostic(`16 MiB on loopback: SftpTransport.read ${ours.toFixed(0)} ms, scp ${scp.toFixed(0)} ms`);
      assert.ok(ours < 5000, `read took ${ours} ms`);
    });
  });

  describe('SFTP writes', () => {
    /** The transport's live connection (private): to watch or change what the session does. */
    const sessionOf = async (t: SftpTransport): Promise<SftpSession> =>
      (await (t as unknown as { connection(): Promise<{ session: SftpSession }> }).connection()).session;
    /** `total` random bytes as 1 MiB chunks; `after(sentBytes)` runs after each chunk is taken. */
    async function* source(data: Buffer, after: (sent: number) => void | Promise<void> = () => {}) {
      for (let off = 0; off < data.length; off += 1 << 20) {
        yield data.subarray(off, off + (1 << 20));
        await after(Math.min(data.length, off + (1 << 20)));
      }
    }
    const mode = (path: string): number => statSync(path).mode & 0o777;

    it('files are 0600; each missing directory is made 0700, an existing one keeps its mode; mkdir -p once per connection', async () => {
      const { dir } = makeDir({});
      chmodSync(dir, 0o755);
      const target = join(dir, 'x', 'y');
      const t = transport({ remoteDir: target });
      const session = await sessionOf(t);
      const calls = { stat: 0, mkdir: 0 };
      const raw = session.sftp as unknown as Record<'stat' | 'mkdir', (...a: unknown[]) => void>;
      for (const op of ['stat', 'mkdir'] as const) {
        const original = raw[op].bind(raw);
        raw[op] = (...a) => (calls[op]++, original(...a));
      }
      assert.deepEqual(await t.write('a.db.gz', randomBytes(100_000)), { name: 'a.db.gz', size: 100_000 });
      await t.write('latest.txt', 'a.db.gz');
      assert.deepEqual(calls, { stat: 3, mkdir: 2 }, 'stat y, x, dir; mkdir x, y; nothing for the second write');
      assert.equal(mode(join(dir, 'x')), 0o700);
      assert.equal(mode(target), 0o700);
      assert.equal(mode(dir), 0o755, 'an existing directory is left as it is');
      for (const f of ['a.db.gz', 'latest.txt']) assert.equal(mode(join(target, f)), 0o600, f);
      // Removed behind the cached mkdir: made again (0700) when the temp file cannot be created.
      rmSync(join(dir, 'x'), { recursive: true });
      await t.write('b.db.gz', 'b');
      assert.equal(mode(join(dir, 'x')), 0o700);
      assert.deepEqual(readdirSync(target), ['b.db.gz']);
      // A directory under the name is not removed (as LocalTransport).
      mkdirSync(join(target, 'sub'));
      assert.equal(await t.remove('sub'), false);
      assert.ok(existsSync(join(target, 'sub')));
    });

    it('a file where the directory should be: EDEST_DIR naming it', async () => {
      const { dir } = makeDir({ blocker: Buffer.from('x') });
      const t = transport({ remoteDir: join(dir, 'blocker', 'backups') });
      await assert.rejects(t.write('a', 'a'), (e) => code(ErrorCode.DEST_DIR)(e) && /blocker/.test((e as Error).message) && /not a directory/.test((e as Error).message));
    });

    it('the connection dropped mid-upload: ECONNECT naming host and file, nothing under the name; the next write reconnects', async () => {
      const { dir } = makeDir({ 'big.bin': Buffer.from('the old one') });
      const t = transport({ remoteDir: dir });
      const data = randomBytes(32 * 1024 * 1024);
      let dropped = 0;
      await assert.rejects(
        t.write('big.bin', source(data, (sent) => {
          if (!dropped && sent >= 4 * 1024 * 1024) dropped = sshd.dropConnections();
        })),
        (e) =>
          code(ErrorCode.CONNECT)(e) &&
          (e as BackupError).host === '127.0.0.1' &&
          (e as BackupError).path === join(dir, 'big.bin') &&
          /127\.0\.0\.1/.test((e as Error).message) &&
          /big\.bin/.test((e as Error).message),
      );
      assert.ok(dropped > 0, 'there was a connection to drop');
      assert.equal(readFileSync(join(dir, 'big.bin'), 'utf8'), 'the old one');
      // A lost connection may leave its temp file (the store's sweep removes it), nothing else.
      assert.deepEqual(readdirSync(dir).filter((f) => !f.startsWith('big.bin.tmp-')), ['big.bin']);
      assert.deepEqual(await t.write('big.bin', source(data)), { name: 'big.bin', size: data.length });
      assert.equal(sha256(readFileSync(join(dir, 'big.bin'))), sha256(data));
    });

    it('a server that stops acknowledging: ECONNECT after idleTimeoutMs; the next write uses a new connection', async () => {
      const { dir } = makeDir({});
      const t = transport({ remoteDir: dir, idleTimeoutMs: 1000 });
      let stalled: number[] = [];
      try {
        const started = performance.now();
        await assert.rejects(
          t.write('big.bin', source(randomBytes(32 * 1024 * 1024), (sent) => {
            if (stalled.length === 0 && sent >= 4 * 1024 * 1024) stalled = sshd.stallConnections();
          })),
          (e) => code(ErrorCode.CONNECT)(e) && /no acknowledgement for 1 s/.test((e as Error).message),
        );
        assert.ok(stalled.length > 0, 'the server was frozen');
        assert.ok(performance.now() - started < 10_000);
      } finally {
        if (stalled.length > 0) sshd.dropConnections();
      }
      assert.equal((await t.write('small.bin', 'ok')).size, 2);
      assert.equal(readFileSync(join(dir, 'small.bin'), 'utf8'), 'ok');
    });

    it('a full disk: EIO "disk full" (ENOSPC) naming file and host; the old file stays, no temp file', async (t) => {
      const { dir } = makeDir({});
      const mnt = join(dir, 'small');
      await withTmpfs(t, mnt, 'size=2m,mode=0700', async () => {
        writeFileSync(join(mnt, 'a.db.gz'), 'the old backup');
        const tr = transport({ remoteDir: mnt });
        await assert.rejects(tr.write('a.db.gz', source(randomBytes(4 * 1024 * 1024))), (e) => {
          const m = (e as Error).message;
          return code(ErrorCode.IO)(e) && (e as BackupError).errno === 'ENOSPC' && /disk full/.test(m) && m.includes(join(mnt, 'a.db.gz')) && m.includes('127.0.0.1');
        });
        assert.deepEqual(readdirSync(mnt), ['a.db.gz']);
        assert.equal(readFileSync(join(mnt, 'a.db.gz'), 'utf8'), 'the old backup');
        await tr.close();
      });
    });

    it('a server without posix-rename@openssh.com: a new file is renamed into place; replacing one is refused, saying why', async () => {
      const { dir } = makeDir({ 'latest.txt': Buffer.from('old') });
      const t = transport({ remoteDir: dir });
      const session = await sessionOf(t);
      const supports = session.supports.bind(session);
      session.supports = (ext) => ext !== 'posix-rename@openssh.com' && supports(ext);
      assert.equal((await t.write('new.bin', 'fresh')).size, 5);
      assert.equal(readFileSync(join(dir, 'new.bin'), 'utf8'), 'fresh');
      await assert.rejects(t.write('latest.txt', 'new'), (e) => code(ErrorCode.IO)(e) && /cannot replace files atomically/.test((e as Error).message) && /posix-rename@openssh\.com/.test((e as Error).message));
      assert.equal(readFileSync(join(dir, 'latest.txt'), 'utf8'), 'old');
      assert.deepEqual(readdirSync(dir).sort(), ['latest.txt', 'new.bin']);
    });

    it('a host key the verifier refuses: write fails with EHOST_KEY and nothing appears remotely', async () => {
      const { dir } = makeDir({});
      const t = transport({ remoteDir: join(dir, 'new'), hostVerifier: () => false });
      let pulled = 0;
      await assert.rejects(
        t.write('a.db.gz', source(randomBytes(2 * 1024 * 1024), () => void pulled++)),
        (e) => code(ErrorCode.HOST_KEY)(e) && new RegExp(`127\\.0\\.0\\.1:${sshd.port}`).test((e as Error).message),
      );
      assert.equal(pulled, 0, 'the source was not read');
      assert.deepEqual(readdirSync(dir), []);
      await assert.rejects(t.remove('a.db.gz'), code(ErrorCode.HOST_KEY));
    });
  });
});

describe('SftpTransport options', () => {
  const base: SftpTransportOptions = { host: 'example.org', username: 'backup', remoteDir: '/srv/backups', hostVerifier: () => false };
  it('a host verifier is required; out-of-range numbers are refused', () => {
    const { hostVerifier: _, ...noVerifier } = base;
    assert.throws(() => new SftpTransport(noVerifier as SftpTransportOptions), TypeError);
    for (const bad of [{ port: 0 }, { port: 70000 }, { readConcurrency: 0 }, { readChunkBytes: 64 << 20 }, { retries: -1 }, { remoteDir: '' }]) {
      assert.throws(() => new SftpTransport({ ...base, ...bad }), RangeError, JSON.stringify(bad));
    }
  });
  it('location: sftp://user@host:port/dir, /~/ for a login-relative dir, brackets for IPv6', () => {
    assert.equal(new SftpTransport(base).location, 'sftp://backup@example.org:22/srv/backups');
    assert.equal(new SftpTransport({ ...base, host: '::1', port: 2222, remoteDir: 'backups' }).location, 'sftp://backup@[::1]:2222/~/backups');
  });
});

/** A TCP proxy to 127.0.0.1:target that delays every chunk by `delayMs` each way (a slow link). */
async function delayProxy(target: number, delayMs: number): Promise<{ port: number; connections(): number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((client) => {
    connections++;
    const upstream = connect({ host: '127.0.0.1', port: target });
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on('error', () => {});
    }
    const pipe = (from: Socket, to: Socket): void => {
      from.on('data', (d) => setTimeout(() => to.destroyed || to.write(d), delayMs));
      from.on('close', () => setTimeout(() => to.destroy(), delayMs));
    };
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    connections: () => connections,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}
