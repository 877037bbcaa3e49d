/**
 * The Transport contract, as one suite that every implementation must pass (LocalTransport,
 * SftpTransport against a real sshd, S3Transport against a real Ceph RADOS Gateway), so that the
 * store and pull tests over the local one hold for the remote ones. The fixture changes files behind
 * the transport's back (node:fs for a directory, the S3 SDK for a bucket); the cases about
 * subdirectories, symlinks and modes run where the files are local files (`dir`).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { isBackupError, ErrorCode } from '../src/errors.js';
import type { Transport } from '../src/transport/types.js';

export interface TransportFixture {
  transport: Transport;
  /**
   * Local path of the directory the transport reads, when its files are local files (local, SFTP on
   * loopback): enables the file-system cases (subdirectories, symlinks, modes, files outside).
   */
  dir?: string;
  /** Creates or replaces a file behind the transport's back. */
  modify(name: string, data: Buffer): void | Promise<void>;
  /** Removes a file behind the transport's back. */
  remove(name: string): void | Promise<void>;
  /** The files directly in the directory as the server has them, temp files included (not through the transport). */
  rawNames(): Promise<string[]>;
  /** Makes the directory (or key prefix) not exist at all. */
  removeAll(): void | Promise<void>;
  /** Places a file one level deeper (`sub/inner`), which list must not show. */
  putNested(sub: string, name: string, data: Buffer): void | Promise<void>;
}

export interface TransportSuiteOptions {
  name: string;
  /** Its files are local files: run the symlink cases too (the fixture must give `dir`). */
  fileSystem?: boolean;
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

    it('list: files directly inside with size and mtime, sorted; nothing deeper', async () => {
      const before = Date.now();
      const f = await create({ 'b.db.gz': Buffer.from('bbbb'), 'a.db.gz': Buffer.from('a'), 'latest.txt': Buffer.from('a.db.gz'), empty: Buffer.alloc(0) });
      await f.putNested('sub', 'inner.db.gz', Buffer.from('x'));
      const files = await f.transport.list();
      assert.deepEqual(
        files.map((x) => [x.name, x.size]),
        [['a.db.gz', 1], ['b.db.gz', 4], ['empty', 0], ['latest.txt', 7]],
      );
      for (const x of files) {
        const mtime = f.dir ? statSync(join(f.dir, x.name)).mtimeMs : before;
        assert.ok(Math.abs(x.mtimeMs - mtime) < (f.dir ? 1000 : 60_000), `${x.name}: mtime ${x.mtimeMs} vs ${mtime}`);
      }
    });

    it('list of a missing directory is empty', async () => {
      const f = await create({ x: Buffer.from('x') });
      await f.removeAll();
      assert.deepEqual(await f.transport.list(), []);
    });

    it('stat: size and mtime of a file; undefined for missing files and for what is deeper', async () => {
      const f = await create({ 'a.db.gz': Buffer.from('12345') });
      await f.putNested('sub', 'x', Buffer.from('x'));
      const st = await f.transport.stat('a.db.gz');
      assert.equal(st?.name, 'a.db.gz');
      assert.equal(st?.size, 5);
      if (f.dir) assert.ok(Math.abs(st!.mtimeMs - statSync(join(f.dir, 'a.db.gz')).mtimeMs) < 1000);
      else assert.ok(Math.abs(st!.mtimeMs - Date.now()) < 60_000);
      assert.equal(await f.transport.stat('missing'), undefined);
      assert.equal(await f.transport.stat('sub'), undefined);
    });

    if (opts.fileSystem) it('files: symlinks are not files (list, stat, read); a symlink to outside is never followed', async () => {
      const f = await create({ 'a.db.gz': Buffer.from('12345') });
      assert.ok(f.dir, 'a file-system transport fixture has a dir');
      writeFileSync(join(dirname(f.dir), 'outside.txt'), 'secret');
      symlinkSync(join(dirname(f.dir), 'outside.txt'), join(f.dir, 'link.txt'));
      symlinkSync(join(f.dir, 'a.db.gz'), join(f.dir, 'link'));
      assert.deepEqual((await f.transport.list()).map((x) => x.name), ['a.db.gz']);
      assert.equal(await f.transport.stat('link'), undefined);
      await assert.rejects(collect(f.transport.read('link.txt')), notFound);
      assert.equal(await f.transport.readText('link.txt', 100), undefined);
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
      await f.putNested('sub', 'x', Buffer.from('x'));
      await assert.rejects(collect(f.transport.read('missing.db.gz')), (e) => notFound(e) && /missing\.db\.gz/.test((e as Error).message));
      await assert.rejects(collect(f.transport.read('sub')), notFound);
      assert.equal(await f.transport.readText('missing', 100), undefined);
      assert.equal(await f.transport.readText('sub', 100), undefined);
    });

    it('names that are not plain file names are refused, and nothing outside is read', async () => {
      const f = await create({ 'a.bin': Buffer.from('a') });
      if (f.dir) writeFileSync(join(dirname(f.dir), 'x'), 'outside');
      await f.putNested('a', 'b', Buffer.from('nested'));
      for (const name of ['../x', 'a/b', '..', '.', '', 'a\\b', '/etc/passwd', 'a\nb', ' a.bin']) {
        await assert.rejects(collect(f.transport.read(name)), notFound, `read ${JSON.stringify(name)}`);
        await assert.rejects(f.transport.stat(name), notFound, `stat ${JSON.stringify(name)}`);
        await assert.rejects(f.transport.readText(name, 100), notFound, `readText ${JSON.stringify(name)}`);
        await assert.rejects(f.transport.write(name, 'evil'), notFound, `write ${JSON.stringify(name)}`);
        await assert.rejects(f.transport.remove(name), notFound, `remove ${JSON.stringify(name)}`);
      }
      assert.deepEqual((await f.rawNames()).filter((n) => !n.includes('/')).sort(), ['a.bin']);
      if (f.dir) assert.equal(readFileSync(join(dirname(f.dir), 'x'), 'utf8'), 'outside');
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

    it('write: bytes, text and a stream, each readable at once; replaces an existing file', async () => {
      const f = await create({ 'old.bin': Buffer.from('old content') });
      const bytes = randomBytes(70_001);
      assert.deepEqual(await f.transport.write('a.bin', bytes), { name: 'a.bin', size: bytes.length });
      assert.deepEqual(await collect(f.transport.read('a.bin')), bytes);
      await f.transport.write('latest.txt', 'app-20261125T193012.345Z-vacuum.db.gz');
      assert.equal(await f.transport.readText('latest.txt', 300), 'app-20261125T193012.345Z-vacuum.db.gz');
      async function* parts() {
        yield Buffer.from('new ');
        yield new Uint8Array(0);
        yield Buffer.from('content');
      }
      assert.equal((await f.transport.write('old.bin', parts())).size, 11);
      assert.equal(await f.transport.readText('old.bin', 100), 'new content');
      assert.equal((await f.transport.stat('old.bin'))?.size, 11);
      assert.equal((await f.transport.write('empty', new Uint8Array(0))).size, 0);
      assert.equal((await f.transport.stat('empty'))?.size, 0);
      assert.deepEqual((await f.rawNames()).sort(), ['a.bin', 'empty', 'latest.txt', 'old.bin']);
      if (f.dir) {
        for (const n of ['a.bin', 'latest.txt', 'old.bin']) assert.equal(statSync(join(f.dir, n)).mode & 0o777, 0o600, `${n} is 0600`);
      }
    });

    it('write: creates a missing directory (with parents, 0700 where modes exist)', async () => {
      const f = await create({ x: Buffer.from('x') });
      await f.removeAll();
      await f.transport.write('a.db.gz', 'abc');
      assert.equal(await f.transport.readText('a.db.gz', 10), 'abc');
      assert.deepEqual((await f.transport.list()).map((x) => x.name), ['a.db.gz']);
      if (f.dir) assert.equal(statSync(f.dir).mode & 0o777, 0o700);
    });

    it('write of a large stream with its size: same sha256, progress up to the size, streamed', async () => {
      const f = await create({});
      async function* chunks() {
        for (let off = 0; off < large.length; off += 1_000_003) yield large.subarray(off, Math.min(large.length, off + 1_000_003));
      }
      const seen: number[] = [];
      const r = await f.transport.write('large.bin', chunks(), { size: large.length, onProgress: (n) => seen.push(n) });
      assert.equal(r.size, large.length);
      assert.equal(seen.at(-1), large.length);
      assert.ok(seen.every((n, i) => i === 0 || n > seen[i - 1]!), 'progress only grows');
      assert.equal((await sha256Of(f.transport.read('large.bin'))).hex, sha256(large));
    });

    /** A source that yields `first`, then fails (or waits for `gate`) before the rest. */
    const failing = async function* (first: Buffer, fail: () => Promise<void>) {
      yield first;
      await fail();
      yield Buffer.from('never');
    };

    it('a write that fails part way leaves the old file and no temp file', async () => {
      const f = await create({ 'a.db.gz': Buffer.from('the old backup') });
      await assert.rejects(
        f.transport.write('a.db.gz', failing(randomBytes(3 * 1024 * 1024), async () => {
          throw new Error('source broke');
        })),
        /source broke/,
      );
      assert.equal(await f.transport.readText('a.db.gz', 100), 'the old backup');
      // A source shorter than the size it promised is not published either.
      await assert.rejects(f.transport.write('b.db.gz', Buffer.from('short'), { size: 10 }), (e) => isBackupError(e, ErrorCode.IO) && /expected 10/.test((e as Error).message));
      assert.equal(await f.transport.stat('b.db.gz'), undefined);
      assert.deepEqual(await f.rawNames(), ['a.db.gz']);
    });

    it('abort during a write: EABORTED, the old file stays, no temp file; the transport stays usable', async () => {
      const f = await create({ 'a.db.gz': Buffer.from('the old backup') });
      const ac = new AbortController();
      const writing = f.transport.write(
        'a.db.gz',
        failing(randomBytes(2 * 1024 * 1024), () => {
          ac.abort(new Error('user cancelled'));
          return new Promise((r) => setTimeout(r, 50));
        }),
        { signal: ac.signal },
      );
      await assert.rejects(writing, (e) => isBackupError(e, ErrorCode.ABORTED));
      assert.equal(await f.transport.readText('a.db.gz', 100), 'the old backup');
      assert.deepEqual(await f.rawNames(), ['a.db.gz']);
      await assert.rejects(f.transport.write('b', 'x', { signal: AbortSignal.abort() }), (e) => isBackupError(e, ErrorCode.ABORTED));
      await f.transport.write('a.db.gz', 'new');
      assert.equal(await f.transport.readText('a.db.gz', 100), 'new');
    });

    it('while a write is under way, readers see the old file under the name (never a partial one)', async () => {
      const f = await create({ 'a.db.gz': Buffer.from('the old backup') });
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let firstSent!: () => void;
      const sent = new Promise<void>((r) => (firstSent = r));
      const next = randomBytes(6 * 1024 * 1024);
      const writing = f.transport.write('a.db.gz', (async function* () {
        yield next.subarray(0, 5 * 1024 * 1024);
        firstSent();
        await gate;
        yield next.subarray(5 * 1024 * 1024);
      })());
      await sent;
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(await f.transport.readText('a.db.gz', 100), 'the old backup');
      assert.equal((await f.transport.stat('a.db.gz'))?.size, 14);
      assert.deepEqual((await f.transport.list()).map((x) => x.name).filter((n) => !n.includes('.tmp-')), ['a.db.gz']);
      release();
      await writing;
      assert.equal(sha256(await collect(f.transport.read('a.db.gz'))), sha256(next));
      assert.deepEqual(await f.rawNames(), ['a.db.gz']);
    });

    it('remove: true when it removed the file, false when there was none', async () => {
      const f = await create({ 'a.db.gz': Buffer.from('a'), 'b.db.gz': Buffer.from('b') });
      assert.equal(await f.transport.remove('a.db.gz'), true);
      assert.equal(await f.transport.stat('a.db.gz'), undefined);
      assert.equal(await f.transport.remove('a.db.gz'), false);
      assert.equal(await f.transport.remove('never-there'), false);
      assert.deepEqual((await f.transport.list()).map((x) => x.name), ['b.db.gz']);
      await f.removeAll();
      assert.equal(await f.transport.remove('b.db.gz'), false);
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
