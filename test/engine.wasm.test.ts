/**
 * WasmEngine: the shared contract suite, plus what is specific to running sqlite-wasm in a worker:
 * cancellation, a free main thread, progress, and online-backup restarts against a native writer.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { WasmEngine, type EngineProgress } from '../src/engine/index.js';
import { isBackupError } from '../src/errors.js';
import { testEngine } from './engine.shared.js';
import { requirePeer } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';
import { createLarge, createWithCli, nativeCheck } from './helpers/databases.js';
import { startWriter } from './helpers/writer.js';

testEngine({ name: 'WasmEngine (sqlite-wasm in a worker, node:fs VFS)', create: () => new WasmEngine() });
testEngine({
  name: 'WasmEngine without read-ahead, 1 MiB cache',
  create: () => new WasmEngine({ readAheadBytes: 0, cacheSizeKiB: 1024 }),
});

describe('WasmEngine in a worker thread', () => {
  const dir = tempDir();
  let large: string;
  let engine: WasmEngine;
  let n = 0;
  const out = (): string => {
    const d = join(dir, `out-${++n}`);
    mkdirSync(d);
    return join(d, 'snap.db');
  };

  before(() => {
    engine = new WasmEngine();
    large = join(dir, 'large.db');
    if (existsSync('/usr/bin/sqlite3') || process.env.CI) createLarge(large, 40);
  });
  after(() => engine.close());

  it('reports progress and keeps the main event loop free during a long VACUUM INTO', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const progress: EngineProgress[] = [];
    const h = monitorEventLoopDelay({ resolution: 5 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    h.enable();
    const started = Date.now();
    const r = await engine.vacuumInto(large, out(), { onProgress: (p) => progress.push(p) });
    const elapsed = Date.now() - started;
    h.disable();
    clearInterval(timer);
    const p99 = h.percentile(99) / 1e6;
    t.diagnostic(`vacuumInto of ${(statSync(large).size / 1e6).toFixed(1)} MB took ${elapsed} ms; ` +
      `event loop p99 ${p99.toFixed(1)} ms, max ${(h.max / 1e6).toFixed(1)} ms, ${ticks} ticks, ${progress.length} progress events`);
    // Run on this thread, the 40 MB VACUUM INTO would block the loop for its whole duration (~0.5 s+).
    // The bound is loose on purpose: other test files load both cores meanwhile. The bench holds the
    // tight figure (p99 < 50 ms).
    assert.ok(p99 < 200, `event-loop delay p99 ${p99} ms: the operation must not run on the main thread`);
    assert.ok(ticks >= elapsed / 5 / 10, `timer ticked ${ticks} times in ${elapsed} ms`);
    assert.ok(progress.length >= 2, 'progress must be reported during the operation');
    const last = progress[progress.length - 1]!;
    assert.equal(last.op, 'vacuum');
    assert.equal(last.totalBytes, statSync(large).size);
    assert.ok(last.bytesRead >= statSync(large).size * 0.9, `read ${last.bytesRead} of ${last.totalBytes}`);
    assert.equal(r.bytes, statSync(r.dest).size);
  });

  for (const op of ['vacuumInto', 'onlineBackup'] as const) {
    it(`${op}: abort mid-operation rejects with EABORTED and leaves no file; the engine stays usable`, async (t) => {
      if (!requirePeer(t, 'sqlite3')) return;
      const dest = out();
      const ac = new AbortController();
      let events = 0;
      await assert.rejects(
        engine[op](large, dest, {
          signal: ac.signal,
          onProgress: () => {
            if (++events === 1) ac.abort();
          },
        }),
        (e) => isBackupError(e, 'EABORTED'),
      );
      assert.deepEqual(readdirSync(join(dest, '..')), [], 'no snapshot, journal or temp file may remain');
      const check = await engine.integrityCheck(large, { mode: 'quick' });
      assert.equal(check.ok, true);
    });
  }

  it('abort of a stuck worker terminates it, removes the partial file, and a new worker takes over', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const impatient = new WasmEngine({ abortGraceMs: 0 });
    try {
      const dest = out();
      const ac = new AbortController();
      const p = impatient.vacuumInto(large, dest, { signal: ac.signal, onProgress: () => ac.abort() });
      await assert.rejects(p, (e) => isBackupError(e, 'EABORTED'));
      assert.deepEqual(readdirSync(join(dest, '..')), []);
      assert.equal((await impatient.integrityCheck(large, { mode: 'quick' })).ok, true);
    } finally {
      await impatient.close();
    }
  });

  it('close() during an operation rejects it and removes the partial snapshot', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const closing = new WasmEngine();
    const dest = out();
    let closed: Promise<void> | undefined;
    const p = closing.vacuumInto(large, dest, { onProgress: () => void (closed ??= closing.close()) });
    await assert.rejects(p, (e) => isBackupError(e, 'EABORTED'));
    await closed;
    assert.deepEqual(readdirSync(join(dest, '..')), []);
  });

  it('a terminated call never removes a destination that existed before it', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const impatient = new WasmEngine({ abortGraceMs: 0 });
    try {
      const dest = out();
      writeFileSync(dest, 'precious');
      const ac = new AbortController();
      const p = impatient.vacuumInto(large, dest, { signal: ac.signal });
      ac.abort();
      await assert.rejects(p, (e) => isBackupError(e, 'EABORTED') || isBackupError(e, 'EDEST_EXISTS'));
      assert.equal(readFileSync(dest, 'utf8'), 'precious');
    } finally {
      await impatient.close();
    }
  });

  it('an already-aborted signal does nothing', async () => {
    const dest = out();
    await assert.rejects(
      engine.vacuumInto(large, dest, { signal: AbortSignal.abort() }),
      (e) => isBackupError(e, 'EABORTED'),
    );
    assert.equal(existsSync(dest), false);
  });

  it('integrityCheck can be aborted', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const ac = new AbortController();
    await assert.rejects(
      engine.integrityCheck(large, { signal: ac.signal, onProgress: () => ac.abort() }),
      (e) => isBackupError(e, 'EABORTED'),
    );
  });

  it('calls queue: concurrent calls on one engine all complete', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const src = join(dir, 'small.db');
    createWithCli(src, { rows: 100 });
    const results = await Promise.all([1, 2, 3].map(() => engine.vacuumInto(src, out())));
    for (const r of results) assert.ok(nativeCheck(r.dest, dir));
  });

  it('onlineBackup gives up with EBACKUP_RESTARTS when a native writer keeps changing the source', async (t) => {
    if (!requirePeer(t, 'python3') || !requirePeer(t, 'sqlite3')) return;
    const src = join(dir, 'busy.db');
    createWithCli(src, { rows: 2000, pageSize: 1024 });
    // Pauses between commits, so that the engine's hot-journal guard (a write in progress) lets
    // most attempts through; the ones that hit a commit are retried.
    const writer = startWriter(src, { maxSeconds: 60, pauseMs: 20 });
    try {
      await writer.ready;
      let outcome: unknown;
      let dest = '';
      for (let attempt = 0; attempt < 200; attempt++) {
        dest = out();
        outcome = await engine
          .onlineBackup(src, dest, { pagesPerStep: 5, sleepMs: 20, maxRestarts: 2 })
          .catch((e: unknown) => e);
        // The engine reads the live files without locks (that is what copyLive is for): a page read
        // mid-commit can look corrupt. Like a hot journal, that is a commit caught in flight: retry.
        const tornRead = isBackupError(outcome, 'ESQLITE') && ((outcome as { sqliteCode?: number }).sqliteCode ?? 0) % 256 === 11;
        if (!isBackupError(outcome, 'ESOURCE_HOT_JOURNAL') && !tornRead) break;
      }
      assert.ok(isBackupError(outcome, 'EBACKUP_RESTARTS'), String(outcome));
      assert.match((outcome as Error).message, /restarted 3 times/);
      assert.deepEqual(readdirSync(join(dest, '..')), []);
    } finally {
      await writer.stop();
    }
    // Control: with the writer gone, the same settings complete without a restart.
    const ok = await engine.onlineBackup(src, out(), { pagesPerStep: 5, sleepMs: 0, maxRestarts: 0 });
    assert.equal(ok.restarts, 0);
    assert.ok(nativeCheck(ok.dest, dir));
  });

  it('finds its worker and wasm where a bundler put them (workerUrl, wasmPath)', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const src = join(dir, 'located.db');
    createWithCli(src, { rows: 10 });
    const wasmPath = fileURLToPath(import.meta.resolve('@sqlite.org/sqlite-wasm/sqlite3.wasm'));
    const located = new WasmEngine({ workerUrl: new URL('../src/engine/worker.js', import.meta.url), wasmPath });
    try {
      assert.equal((await located.integrityCheck(src)).ok, true);
    } finally {
      await located.close();
    }
    // A wrong wasmPath: a typed error that names the path and says what to do.
    const lost = new WasmEngine({ wasmPath: join(dir, 'moved', 'sqlite3.wasm') });
    try {
      await assert.rejects(lost.integrityCheck(src), (e: unknown) => {
        assert.ok(isBackupError(e, 'EENGINE_LOAD'), String(e));
        assert.match((e as Error).message, /moved\/sqlite3\.wasm.*ENOENT.*pass its location as wasmPath/);
        return true;
      });
    } finally {
      await lost.close();
    }
  });

  it('warms up on a database in memory: no file read, written or left in its temp dir; checks work after it', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const temp = join(dir, 'warm-temp');
    mkdirSync(temp);
    const warm = new WasmEngine({ tempDir: temp });
    try {
      await warm.warmUp();
      const s = await warm.stats();
      assert.deepEqual([s.readCalls, s.bytesWritten, s.openFiles], [0, 0, 0]);
      assert.deepEqual(readdirSync(temp), []);
      const src = join(dir, 'after-warm-up.db');
      createWithCli(src, { rows: 50 });
      assert.equal((await warm.integrityCheck(src)).ok, true);
    } finally {
      await warm.close();
    }
  });

  it('rejects bad options before starting', () => {
    assert.throws(() => new WasmEngine({ cacheSizeKiB: 1 << 20 }), RangeError);
    assert.throws(() => engine.onlineBackup('a', 'b', { pagesPerStep: 0 }), RangeError);
    assert.throws(() => engine.onlineBackup('a', 'b', { maxRestarts: -1 }), RangeError);
  });
});
