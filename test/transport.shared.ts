/**
 * The Transport contract, as one suite that every implementation must pass (LocalTransport, and
 * SftpTransport against a real sshd), so that the pull tests over the local one hold for the
 * remote one. Files are written and changed with node:fs in the directory the transport reads.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { isBackupError, ErrorCode } from '../src/errors.js';
import type { Transport } from '../src/transport/types.js';

export interface TransportFixture {
  transport: Transport;
  /** Local path of the directory the transport reads. */
  dir: string;
  modify(name: string, data: Buffer): void | Promise<void>;
  remove(name: string): void | Promise<void>;
}

export interface TransportSuiteOptions {
  name: string;
  /** A fresh directory holding `files` and a transport on it; called once per test. */
  create(files: Record<string, Buffer>): Promise<TransportFixture>;
}

export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function sha256Of(chunks: AsyncIterable<Uint8Array>): Promise<{ hex: string; bytes: number; chunks: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  let n = 0;
  for await (const c of chunks) {
    h.update(c);
    bytes += c.length;
    n++;
  }
  return { hex: h.digest('hex'), bytes, chunks: n };
}

const notFound = (e: unknown): boolean => isBackupError(e, ErrorCode.BACKUP_NOT_FOUND);

export function testTransport(opts: TransportSuiteOptions): void {
  describe(`transport contract: ${opts.name}`, () => {
    const open: Transport[] = [];
    after(async () => {
      for (const t of open) await t.close();
    });
    const create = async (files: Record<string, Buffer>): Promise<TransportFixture> => {
      const f = await opts.create(files);
      open.push(f.transport);
      return f;
    };
    // 24 MiB + an odd tail: many read requests, a short last one.
    const large = randomBytes(24 * 1024 * 1024 + 12_345);

    it('list: regular files with size and mtime, sorted; no directories, no symlinks', async () => {
      const f = await create({ 'b.db.gz': Buffer.from('bbbb'), 'a.db.gz': Buffer.from('a'), 'latest.txt': Buffer.from('a.db.gz'), empty: Buffer.alloc(0) });
      mkdirSync(join(f.dir, 'sub'));
      writeFileSync(join(f.dir, 'sub', 'inner.db.gz'), 'x');
      writeFileSync(join(dirname(f.dir), 'outside.txt'), 'secret');
      symlinkSync(join(dirname(f.dir), 'outside.txt'), join(f.dir, 'link.txt'));
      const files = await f.transport.list();
      assert.deepEqual(
        files.map((x) => [x.name, x.size]),
        [['a.db.gz', 1], ['b.db.gz', 4], ['empty', 0], ['latest.txt', 7]],
      );
      for (const x of files) {
        const mtime = statSync(join(f.dir, x.name)).mtimeMs;
        assert.ok(Math.abs(x.mtimeMs - mtime) < 1000, `${x.name}: mtime ${x.mtimeMs} vs ${mtime}`);
      }
    });

    it('list of a missing directory is empty', async () => {
      const f = await create({ x: Buffer.from('x') });
      rmSync(f.dir, { recursive: true });
      assert.deepEqual(await f.transport.list(), []);
    });

    it('stat: size and mtime of a file; undefined for missing, directories and symlinks', async () => {
      const f = await create({ 'a.db.gz': Buffer.from('12345') });
      mkdirSync(join(f.dir, 'sub'));
      symlinkSync(join(f.dir, 'a.db.gz'), join(f.dir, 'link'));
      const st = await f.transport.stat('a.db.gz');
      assert.equal(st?.name, 'a.db.gz');
      assert.equal(st?.size, 5);
      assert.ok(Math.abs(st!.mtimeMs - statSync(join(f.dir, 'a.db.gz')).mtimeMs) < 1000);
      assert.equal(await f.transport.stat('missing'), undefined);
      assert.equal(await f.transport.stat('sub'), undefined);
      assert.equal(await f.transport.stat('link'), undefined);
    });

    it('read: the whole file; an empty file gives no bytes', async () => {
      const data = randomBytes(100_000);
      const f = await create({ 'a.bin': data, empty: Buffer.alloc(0) });
      assert.deepEqual(await collect(f.transport.read('a.bin')), data);
      assert.equal((await collect(f.transport.read('empty'))).length, 0);
    });

    it('read from start: any offset, at the end and past it', async () => {
      const data = randomBytes(200_003);
      const f = await create({ 'a.bin': data });
      for (const start of [0, 1, 65_535, 65_536, 131_073, 200_002]) {
        assert.deepEqual(await collect(f.transport.read('a.bin', { start })), data.subarray(start), `start ${start}`);
      }
      assert.equal((await collect(f.transport.read('a.bin', { start: data.length }))).length, 0);
      assert.equal((await collect(f.transport.read('a.bin', { start: data.length + 10 }))).length, 0);
    });

    it('read of a large file: same sha256, also from an offset', async () => {
      const f = await create({ 'large.bin': large });
      const whole = await sha256Of(f.transport.read('large.bin'));
      assert.equal(whole.bytes, large.length);
      assert.equal(whole.hex, sha256(large));
      assert.ok(whole.chunks > 1, 'streamed in chunks, not one buffer');
      const start = 10 * 1024 * 1024 + 77;
      const tail = await sha256Of(f.transport.read('large.bin', { start }));
      assert.equal(tail.hex, sha256(large.subarray(start)));
    });

    it('concurrent reads of different files are not mixed up', async () => {
      const files = { a: randomBytes(3_000_001), b: randomBytes(2_000_003), c: randomBytes(500_000) };
      const f = await create(files);
      const got = await Promise.all((['a', 'b', 'c'] as const).map((n) => collect(f.transport.read(n))));
      assert.deepEqual(got, [files.a, files.b, files.c]);
    });

    it('a missing file, or a directory, is EBACKUP_NOT_FOUND naming the file', async () => {
      const f = await create({ 'a.bin': Buffer.from('a') });
      mkdirSync(join(f.dir, 'sub'));
      await assert.rejects(collect(f.transport.read('missing.db.gz')), (e) => notFound(e) && /missing\.db\.gz/.test((e as Error).message));
      await assert.rejects(collect(f.transport.read('sub')), notFound);
      assert.equal(await f.transport.readText('missing', 100), undefined);
      assert.equal(await f.transport.readText('sub', 100), undefined);
    });

    it('names that are not plain file names are refused, and nothing outside is read', async () => {
      const f = await create({ 'a.bin': Buffer.from('a') });
      writeFileSync(join(dirname(f.dir), 'x'), 'outside');
      mkdirSync(join(f.dir, 'a'));
      writeFileSync(join(f.dir, 'a', 'b'), 'nested');
      for (const name of ['../x', 'a/b', '..', '.', '', 'a\\b', '/etc/passwd', 'a\nb', ' a.bin']) {
        await assert.rejects(collect(f.transport.read(name)), notFound, `read ${JSON.stringify(name)}`);
        await assert.rejects(f.transport.stat(name), notFound, `stat ${JSON.stringify(name)}`);
        await assert.rejects(f.transport.readText(name, 100), notFound, `readText ${JSON.stringify(name)}`);
      }
    });

    it('readText: at most maxBytes, utf8, undefined when missing', async () => {
      const f = await create({ 'latest.txt': Buffer.from('app-20261125T193012.345Z-vacuum.db.gz\n'), 'utf.txt': Buffer.from('é€🙂') });
      assert.equal(await f.transport.readText('latest.txt', 4096), 'app-20261125T193012.345Z-vacuum.db.gz\n');
      assert.equal(await f.transport.readText('latest.txt', 3), 'app');
      assert.equal(await f.transport.readText('latest.txt', 0), '');
      assert.equal(await f.transport.readText('utf.txt', 100), 'é€🙂');
      assert.equal(await f.transport.readText('nope.txt', 100), undefined);
    });

    it('sees changes: modified and removed files', async () => {
      const f = await create({ 'latest.txt': Buffer.from('one'), 'a.bin': Buffer.from('aaaa') });
      assert.equal(await f.transport.readText('latest.txt', 100), 'one');
      await f.modify('latest.txt', Buffer.from('second'));
      assert.equal(await f.transport.readText('latest.txt', 100), 'second');
      assert.equal((await f.transport.stat('latest.txt'))?.size, 6);
      await f.remove('a.bin');
      assert.equal(await f.transport.stat('a.bin'), undefined);
      await assert.rejects(collect(f.transport.read('a.bin')), notFound);
      assert.deepEqual((await f.transport.list()).map((x) => x.name), ['latest.txt']);
    });

    it('abort mid-read stops quickly with EABORTED; the transport stays usable', async () => {
      const f = await create({ 'large.bin': large, 'small.txt': Buffer.from('still here') });
      const ac = new AbortController();
      let bytes = 0;
      let abortedAt = 0;
      await assert.rejects(
        (async () => {
          for await (const c of f.transport.read('large.bin', { signal: ac.signal })) {
            bytes += c.length;
            if (!abortedAt && bytes >= 1024 * 1024) {
              abortedAt = performance.now();
              ac.abort(new Error('user cancelled'));
            }
          }
        })(),
        (e) => isBackupError(e, ErrorCode.ABORTED),
      );
      assert.ok(performance.now() - abortedAt < 1000, 'stopped within a second');
      assert.ok(bytes < large.length, 'did not read to the end');
      // An already aborted signal: nothing at all.
      await assert.rejects(collect(f.transport.read('small.txt', { signal: AbortSignal.abort() })), (e) => isBackupError(e, ErrorCode.ABORTED));
      assert.equal(await f.transport.readText('small.txt', 100), 'still here');
      assert.equal(sha256(await collect(f.transport.read('large.bin'))), sha256(large));
    });

    it('a consumer that stops early leaves the transport usable', async () => {
      const f = await create({ 'large.bin': large });
      for (let i = 0; i < 5; i++) {
        for await (const c of f.transport.read('large.bin', { start: i * 1000 })) {
          assert.equal(c[0], large[i * 1000]);
          break;
        }
      }
      assert.equal((await f.transport.list()).length, 1);
      assert.equal(sha256(await collect(f.transport.read('large.bin'))), sha256(large));
    });

    it('close is idempotent, also before any use; a closed transport can be used again', async () => {
      const unused = await create({ a: Buffer.from('a') });
      await unused.transport.close();
      await unused.transport.close();
      const f = await create({ a: Buffer.from('abc') });
      assert.equal(await f.transport.readText('a', 10), 'abc');
      await Promise.all([f.transport.close(), f.transport.close()]);
      await f.transport.close();
      assert.equal(await f.transport.readText('a', 10), 'abc');
      await f.transport.close();
    });
  });
}
