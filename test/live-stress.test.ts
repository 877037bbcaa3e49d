/**
 * The core safety promise under load: a backup is never torn, while a native writer (python3's
 * sqlite3) commits continuously into the source in WAL, DELETE, TRUNCATE and PERSIST journal modes.
 *
 * Every snapshot gets a native integrity_check AND the ledger's invariants (balances sum to zero,
 * recorded row count == actual): a torn copy can pass integrity_check, only the invariants catch it.
 * The second half runs the same loop with validation switched off and must find torn snapshots:
 * that is what shows this test can fail.
 *
 * Bounded to about a minute. SOAK_SECONDS=<n> runs each mode for n seconds instead.
 */
import { after, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { WasmEngine, snapshotLive, isBackupError, ErrorCode, type SnapshotStrategy } from '../src/index.js';
import { tempDir } from './helpers/tmp.js';
import { requirePeer } from './helpers/peers.js';
import { checkLedger, startLedgerWriter, type LedgerJournalMode } from './helpers/ledger.js';

const SOAK = Number(process.env.SOAK_SECONDS ?? 0);
const SECONDS_PER_MODE = SOAK > 0 ? SOAK : 9;
const UNVALIDATED_MAX_SECONDS = SOAK > 0 ? SOAK : 12;

interface Tally {
  attempted: number;
  published: number;
  /** Copies thrown away and retried (inside published or busy backups). */
  retried: number;
  failedBusy: number;
  torn: number;
  commits: number;
}

async function backupLoop(
  t: TestContext,
  engine: WasmEngine,
  dir: string,
  mode: LedgerJournalMode,
  opts: { seconds: number; validate: boolean; stopAtFirstTorn?: boolean },
): Promise<Tally> {
  const db = join(dir, `${mode}-${opts.validate ? 'on' : 'off'}.db`);
  const out = join(dir, `out-${mode}-${opts.validate ? 'on' : 'off'}`);
  mkdirSync(out, { mode: 0o700 });
  const writer = startLedgerWriter(db, {
    journalMode: mode,
    seconds: opts.seconds + 30,
    // Unvalidated: checkpoint more often, so that the window a torn WAL copy needs is common.
    checkpointEvery: opts.validate ? 25 : 5,
  });
  const tally: Tally = { attempted: 0, published: 0, retried: 0, failedBusy: 0, torn: 0, commits: 0 };
  try {
    await writer.ready;
    const deadline = Date.now() + opts.seconds * 1000;
    for (let i = 0; Date.now() < deadline; i++) {
      const strategy: SnapshotStrategy = i % 2 === 0 ? 'vacuum' : 'online';
      const dest = join(out, `snap-${i}.db`);
      tally.attempted++;
      try {
        const r = await snapshotLive(engine, db, dest, {
          strategy,
          sleepMs: 0,
          pagesPerStep: 64,
          unsafeSkipValidation: !opts.validate,
        });
        tally.retried += r.copy.attempts - 1;
        const verdict = checkLedger(dest);
        if (verdict.ok) tally.published++;
        else {
          tally.torn++;
          if (tally.torn <= 2) t.diagnostic(`${mode} torn snapshot (${strategy}): ${JSON.stringify(verdict)}`);
        }
      } catch (e) {
        if (isBackupError(e, ErrorCode.SNAPSHOT_BUSY)) tally.failedBusy++;
        // Unvalidated copies can be so torn that SQLite itself refuses them: that is a torn copy too.
        else if (!opts.validate && isBackupError(e) && ['ESQLITE', 'ENOTADB'].includes(e.code)) tally.torn++;
        else throw e;
      }
      rmSync(dest, { force: true });
      if (opts.stopAtFirstTorn && tally.torn > 0) break;
    }
  } finally {
    await writer.stop();
  }
  tally.commits = writer.commits();
  assert.deepEqual(readdirSync(out), [], 'no private copy or snapshot left behind');
  return tally;
}

describe('live snapshots under a native writer', { concurrency: false }, () => {
  const dir = tempDir();
  const engine = new WasmEngine();
  after(() => engine.close());

  for (const mode of ['wal', 'delete', 'truncate', 'persist'] as const) {
    it(`${mode}: no torn backup in ${SECONDS_PER_MODE} s of continuous commits`, async (t) => {
      if (!requirePeer(t, 'python3') || !requirePeer(t, 'sqlite3')) return;
      const tally = await backupLoop(t, engine, dir, mode, { seconds: SECONDS_PER_MODE, validate: true });
      t.diagnostic(`${mode}: ${JSON.stringify(tally)}`);
      assert.equal(tally.torn, 0, 'a published snapshot failed integrity_check or the ledger invariants');
      assert.ok(tally.commits > 100, `the writer really wrote (${tally.commits} commits)`);
      assert.ok(tally.published >= 3, `backups get through a busy writer (${tally.published} published)`);
    });
  }

  for (const mode of ['wal', 'delete'] as const) {
    it(`${mode}, validation switched off: the same checks find torn snapshots`, async (t) => {
      if (!requirePeer(t, 'python3') || !requirePeer(t, 'sqlite3')) return;
      const tally = await backupLoop(t, engine, dir, mode, {
        seconds: UNVALIDATED_MAX_SECONDS,
        validate: false,
        stopAtFirstTorn: SOAK === 0,
      });
      t.diagnostic(`${mode} unvalidated: ${JSON.stringify(tally)}`);
      assert.ok(tally.torn > 0, `without validation, torn snapshots must appear (${JSON.stringify(tally)})`);
    });
  }
});
