/**
 * Live snapshots (copy-and-validate): the acceptance rule case by case, the source left untouched,
 * errors for what cannot be validated, and no temp file left behind. The concurrent-writer stress
 * test is in live-stress.test.ts.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, statSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WasmEngine, snapshotLive, isBackupError, ErrorCode } from '../src/index.js';
import { judgeCopy, RACY_MARGIN_MS } from '../src/engine/live-copy.js';
import type { LiveState } from '../src/engine/live-state.js';
import { tempDir } from './helpers/tmp.js';
import { requirePeer, sqlite3 } from './helpers/peers.js';
import { createWalWithUncheckpointedFrames, createWithCli, fingerprint, nativeCheck, nativeDump } from './helpers/databases.js';

const MS = 1_000_000n;

function state(over: Partial<LiveState> = {}): LiveState {
  return {
    observedAtNs: 10_000n * MS,
    db: { size: 8192, mtimeNs: 1_000n * MS, ino: 7n },
    headerWal: false,
    changeCounter: 5,
    walHeader: undefined,
    journalHot: false,
    journal: undefined,
    ...over,
  };
}

describe('judgeCopy: the acceptance rule', () => {
  const walHeader = Buffer.alloc(32, 1);
  it('rollback mode: accepts only an unchanged counter, file and no hot journal', () => {
    assert.deepEqual(judgeCopy(state(), state(), false), { ok: true });
    assert.deepEqual(judgeCopy(state(), state({ changeCounter: 6 }), false), { ok: false, reason: 'change-counter' });
    assert.deepEqual(judgeCopy(state({ journalHot: true }), state(), false), { ok: false, reason: 'hot-journal' });
    assert.deepEqual(judgeCopy(state(), state({ journalHot: true }), false), { ok: false, reason: 'hot-journal' });
    const moved = state({ db: { size: 8192, mtimeNs: 1_001n * MS, ino: 7n } });
    assert.deepEqual(judgeCopy(state(), moved, false), { ok: false, reason: 'db-changed' });
    assert.deepEqual(judgeCopy(state(), state({ headerWal: true }), false), { ok: false, reason: 'mode-changed' });
  });
  it('WAL mode with a -wal: accepts only an identical -wal header', () => {
    const before = state({ headerWal: true, walHeader });
    assert.deepEqual(judgeCopy(before, state({ headerWal: true, walHeader: Buffer.from(walHeader) }), true), { ok: true });
    const restarted = Buffer.from(walHeader);
    restarted[16] ^= 1; // salt-1
    assert.deepEqual(judgeCopy(before, state({ headerWal: true, walHeader: restarted }), true), { ok: false, reason: 'wal-restarted' });
    assert.deepEqual(judgeCopy(before, state({ headerWal: true }), true), { ok: false, reason: 'wal-restarted' });
    // A checkpoint may rewrite page 1 (and the counter): that alone is no reason to reject.
    const ckpt = state({ headerWal: true, walHeader, changeCounter: 9, db: { size: 9999, mtimeNs: 2n, ino: 7n } });
    assert.deepEqual(judgeCopy(before, ckpt, true), { ok: true });
  });
  it('WAL mode without a -wal: needs an unchanged, not recently written db and still no -wal', () => {
    const before = state({ headerWal: true });
    assert.deepEqual(judgeCopy(before, state({ headerWal: true }), false), { ok: true });
    assert.deepEqual(judgeCopy(before, state({ headerWal: true, walHeader }), false), { ok: false, reason: 'wal-appeared' });
    const touched = state({ headerWal: true, db: { size: 8192, mtimeNs: 3n, ino: 7n } });
    assert.deepEqual(judgeCopy(before, touched, false), { ok: false, reason: 'db-changed' });
    const recent = state({ headerWal: true, db: { size: 8192, mtimeNs: 10_000n * MS - BigInt(RACY_MARGIN_MS - 1) * MS, ino: 7n } });
    assert.deepEqual(judgeCopy(recent, recent, false), { ok: false, reason: 'db-recently-written' });
  });
});

describe('snapshotLive', () => {
  const dir = tempDir();
  const engine = new WasmEngine();
  after(() => engine.close());
  let n = 0;
  const out = (): string => {
    // Each test writes into its own directory, so "nothing else is left" can be checked exactly.
    const d = join(dir, `out-${n++}`);
    mkdirSync(d, { mode: 0o700 });
    return d;
  };

  for (const strategy of ['vacuum', 'online'] as const) {
    it(`${strategy}: a WAL database with uncheckpointed frames, source files byte-identical afterwards`, async (t) => {
      if (!requirePeer(t, 'python3') || !requirePeer(t, 'sqlite3')) return;
      const src = join(dir, `wal-${strategy}.db`);
      createWalWithUncheckpointedFrames(src);
      const expected = nativeDump(src, out());
      const before = fingerprint(src);
      assert.ok(before['-wal']!.exists && before['-shm']!.exists, 'fixture has -wal and -shm');
      const work = out();
      const dest = join(work, 'snap.db');
      const r = await snapshotLive(engine, src, dest, { strategy });
      assert.equal(r.sourceJournalMode, 'wal');
      assert.equal(r.copy.journalMode, 'wal');
      assert.equal(r.copy.attempts, 1);
      assert.ok(r.copy.walBytes > 0);
      assert.deepEqual(fingerprint(src), before, 'db, -wal, -shm, -journal unchanged (bytes and mtime)');
      assert.deepEqual(readdirSync(work), ['snap.db'], 'the private copy is gone');
      assert.ok(nativeCheck(dest, out()));
      assert.equal(nativeDump(dest, out()), expected);
    });
  }

  it('a rollback-journal database, source untouched', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const src = join(dir, 'rollback.db');
    createWithCli(src, { rows: 200 });
    writeFileSync(`${src}-journal`, ''); // a TRUNCATE-mode leftover: empty, not hot
    const before = fingerprint(src);
    const work = out();
    const r = await snapshotLive(engine, src, join(work, 'snap.db'));
    assert.equal(r.copy.journalMode, 'rollback');
    assert.deepEqual(fingerprint(src), before);
    assert.deepEqual(readdirSync(work), ['snap.db']);
    assert.equal(nativeDump(join(work, 'snap.db'), out()), nativeDump(src, out()));
  });

  it('the private copy goes to workDir when given, and is removed there too', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const src = join(dir, 'work.db');
    createWithCli(src, { rows: 50 });
    const work = out();
    const target = out();
    const seen: string[] = [];
    await snapshotLive(engine, src, join(target, 'snap.db'), {
      workDir: work,
      onProgress: () => seen.push(...readdirSync(work)),
    });
    assert.deepEqual(readdirSync(work), []);
    assert.deepEqual(readdirSync(target), ['snap.db']);
    assert.ok(seen.every((f) => f.startsWith('snap.db.source.tmp-')), `only our temp names: ${seen.join(', ')}`);
  });

  it('a crashed writer\'s hot journal: ESOURCE_HOT_JOURNAL with the recovery hint, nothing written', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const src = join(dir, 'hot.db');
    createWithCli(src, { rows: 20 });
    writeFileSync(`${src}-journal`, Buffer.concat([Buffer.from('d9d505f920a163d7', 'hex'), Buffer.alloc(600)]));
    const before = fingerprint(src);
    const work = out();
    await assert.rejects(snapshotLive(engine, src, join(work, 'snap.db'), { maxAttempts: 3 }), (e: unknown) => {
      assert.ok(isBackupError(e, ErrorCode.SOURCE_HOT_JOURNAL), String(e));
      assert.match((e as Error).message, /open it once with sqlite3/);
      assert.equal((e as { path?: string }).path, src);
      return true;
    });
    assert.deepEqual(fingerprint(src), before);
    assert.deepEqual(readdirSync(work), []);
  });

  it('a source that changes on every attempt: ESNAPSHOT_BUSY naming attempts and reasons, never hangs', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const src = join(dir, 'busy.db');
    createWithCli(src, { rows: 20 });
    writeFileSync(`${src}-journal`, Buffer.from('d9d505f920a163d7', 'hex'));
    // A "writer" whose hot journal keeps changing: alive, never done.
    const toucher = spawn(process.execPath, [
      '-e',
      `const fs=require('fs');setInterval(()=>fs.appendFileSync(${JSON.stringify(`${src}-journal`)},'x'),1)`,
    ]);
    t.after(() => toucher.kill('SIGKILL'));
    while (statSync(`${src}-journal`).size < 12) await new Promise((r) => setTimeout(r, 10));
    const work = out();
    const started = Date.now();
    await assert.rejects(snapshotLive(engine, src, join(work, 'snap.db'), { maxAttempts: 6, maxBackoffMs: 20 }), (e: unknown) => {
      assert.ok(isBackupError(e, ErrorCode.SNAPSHOT_BUSY), String(e));
      assert.match((e as Error).message, /6 attempts/);
      assert.match((e as Error).message, /hot-journal x6/);
      return true;
    });
    assert.ok(Date.now() - started < 5000, 'bounded');
    assert.deepEqual(readdirSync(work), []);
  });

  it('missing source and non-database: clear errors, nothing created', async () => {
    const work = out();
    await assert.rejects(snapshotLive(engine, join(dir, 'nope.db'), join(work, 'a.db')), (e: unknown) =>
      isBackupError(e, ErrorCode.SOURCE_NOT_FOUND),
    );
    const text = join(dir, 'text.db');
    writeFileSync(text, 'hello, I am not a database'.repeat(10));
    await assert.rejects(snapshotLive(engine, text, join(work, 'b.db')), (e: unknown) => isBackupError(e, ErrorCode.NOT_A_DATABASE));
    assert.deepEqual(readdirSync(work), []);
  });

  it('abort: AbortError, private copy and snapshot removed', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const src = join(dir, 'abort.db');
    createWithCli(src, { rows: 2000 });
    const work = out();
    const ac = new AbortController();
    const p = snapshotLive(engine, src, join(work, 'snap.db'), { signal: ac.signal });
    ac.abort();
    await assert.rejects(p, (e: unknown) => isBackupError(e, ErrorCode.ABORTED));
    assert.deepEqual(readdirSync(work), []);
    sqlite3(src, 'PRAGMA quick_check');
  });
});
