/**
 * runEvery, the `backup --every` scheduler. Intervals are tens of milliseconds and the machine is
 * noisy, so the tests assert counts and ordering (no overlap, skips reported, errors survived, abort
 * awaited), never tight timings; the only time bounds are an order of magnitude away from the limit.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultJitterMs, MAX_DEFAULT_JITTER_MS, runEvery, type SkipInfo } from '../src/cli/scheduler.js';

/** A promise and the function that resolves it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('defaultJitterMs', () => {
  it('is 10% of the interval, capped at 5 minutes', () => {
    assert.equal(defaultJitterMs(60_000), 6_000);
    assert.equal(defaultJitterMs(3_600_000), MAX_DEFAULT_JITTER_MS);
    assert.equal(MAX_DEFAULT_JITTER_MS, 300_000);
  });

  it('rejects a non-positive interval', () => {
    assert.throws(() => defaultJitterMs(0), RangeError);
    assert.throws(() => defaultJitterMs(Number.NaN), RangeError);
  });
});

describe('runEvery', () => {
  it('runs repeatedly, one run at a time, until aborted', async () => {
    const ac = new AbortController();
    const starts: number[] = [];
    let runs = 0;
    await runEvery(
      async () => {
        starts.push(++runs);
        if (runs === 4) ac.abort();
      },
      { intervalMs: 10, jitterMs: 0, signal: ac.signal },
    );
    assert.deepEqual(starts, [1, 2, 3, 4]);
  });

  it('never overlaps a run that outlasts the interval, and reports the skipped slots', async () => {
    const ac = new AbortController();
    const skips: SkipInfo[] = [];
    const events: string[] = [];
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    await runEvery(
      async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        events.push('start');
        await sleep(70); // 3.5 intervals
        events.push('end');
        active--;
        if (++runs === 3) ac.abort();
      },
      { intervalMs: 20, jitterMs: 0, signal: ac.signal, onSkip: (s) => (skips.push(s), events.push('skip')) },
    );
    assert.equal(maxActive, 1);
    assert.equal(runs, 3);
    // After each of the first two runs: skipped slots reported, then the next run; no second start before an end.
    assert.deepEqual(events, ['start', 'end', 'skip', 'start', 'end', 'skip', 'start', 'end']);
    for (const s of skips) {
      assert.ok(s.skipped >= 2, `a 70 ms run must skip at least 2 slots of 20 ms, got ${s.skipped}`);
      assert.equal(s.intervalMs, 20);
      assert.ok(s.lastRunMs >= 60, `lastRunMs ${s.lastRunMs}`);
    }
  });

  it('reports no skip when runs fit in the interval', async () => {
    const ac = new AbortController();
    let skips = 0;
    let runs = 0;
    await runEvery(
      async () => {
        if (++runs === 3) ac.abort();
      },
      { intervalMs: 30, jitterMs: 0, signal: ac.signal, onSkip: () => skips++ },
    );
    assert.equal(runs, 3);
    assert.equal(skips, 0);
  });

  it('goes on after a run throws, reporting each error in order', async () => {
    const ac = new AbortController();
    const errors: unknown[] = [];
    let runs = 0;
    await runEvery(
      async () => {
        runs++;
        if (runs === 1) throw new Error('disk full');
        if (runs === 2) throw new Error('connection lost');
        if (runs === 4) ac.abort();
      },
      { intervalMs: 10, jitterMs: 0, signal: ac.signal, onError: (e) => errors.push(e) },
    );
    assert.equal(runs, 4);
    assert.deepEqual(
      errors.map((e) => (e as Error).message),
      ['disk full', 'connection lost'],
    );
  });

  it('also survives a job that throws synchronously', async () => {
    const ac = new AbortController();
    let runs = 0;
    let errors = 0;
    await runEvery(
      ((() => {
        if (++runs === 3) ac.abort();
        throw new Error('not async');
      }) as unknown as () => Promise<void>),
      { intervalMs: 10, jitterMs: 0, signal: ac.signal, onError: () => errors++ },
    );
    assert.equal(runs, 3);
    assert.equal(errors, 2, 'the failure of the aborted run is not reported');
  });

  it('on abort during a run, passes the abort to the job and resolves only after the job finished', async () => {
    const ac = new AbortController();
    const started = deferred();
    let jobSignal: AbortSignal | undefined;
    let sawAbort = false;
    let cleanedUp = false;
    let errors = 0;
    const done = runEvery(
      async (signal) => {
        jobSignal = signal;
        started.resolve();
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        sawAbort = signal.aborted;
        await sleep(50); // cleanup takes a while
        cleanedUp = true;
        throw new Error('aborted mid-backup');
      },
      { intervalMs: 60_000, jitterMs: 0, signal: ac.signal, onError: () => errors++ },
    );
    await started.promise;
    assert.equal(jobSignal!.aborted, false);
    ac.abort(new Error('SIGTERM'));
    await done;
    assert.ok(sawAbort, 'the job saw its signal abort');
    assert.ok(cleanedUp, 'runEvery resolved only after the job finished');
    assert.notEqual(jobSignal, ac.signal, 'the job gets a signal of its own');
    assert.equal((jobSignal!.reason as Error).message, 'SIGTERM', 'with the abort reason');
    assert.equal(errors, 0, 'the failure of an aborted run is the expected stop, not an error');
  });

  it('on abort during the wait, resolves promptly', async () => {
    const ac = new AbortController();
    let runs = 0;
    const ran = deferred();
    const done = runEvery(
      async () => {
        runs++;
        ran.resolve();
      },
      { intervalMs: 60_000, signal: ac.signal },
    );
    await ran.promise;
    await sleep(20); // now in the 60 s wait
    const t0 = performance.now();
    ac.abort();
    await done;
    assert.ok(performance.now() - t0 < 1000, 'resolved long before the next slot');
    assert.equal(runs, 1);
  });

  it('with runImmediately false, waits a first interval (and an early abort runs nothing)', async () => {
    const ac = new AbortController();
    let runs = 0;
    const done = runEvery(
      async () => {
        runs++;
      },
      { intervalMs: 60_000, signal: ac.signal, runImmediately: false },
    );
    await sleep(50);
    ac.abort();
    await done;
    assert.equal(runs, 0);
  });

  it('resolves without running when the signal is already aborted', async () => {
    let runs = 0;
    await runEvery(
      async () => {
        runs++;
      },
      { intervalMs: 10, signal: AbortSignal.abort() },
    );
    assert.equal(runs, 0);
  });

  it('waits for the jitter drawn from the injected random', async () => {
    // random() = 0: no jitter, runs follow every 10 ms slot despite a 60 s jitter range.
    const fast = new AbortController();
    let calls = 0;
    let runs = 0;
    await runEvery(
      async () => {
        if (++runs === 3) fast.abort();
      },
      { intervalMs: 10, jitterMs: 60_000, signal: fast.signal, random: () => (calls++, 0) },
    );
    assert.equal(runs, 3);
    assert.equal(calls, 2, 'one draw per run after the first');

    // random() near 1: the second run waits ~60 s, so it has not started after 300 ms.
    const slow = new AbortController();
    runs = 0;
    const done = runEvery(
      async () => {
        runs++;
      },
      { intervalMs: 10, jitterMs: 60_000, signal: slow.signal, random: () => 0.999 },
    );
    await sleep(300);
    slow.abort();
    await done;
    assert.equal(runs, 1);
  });

  it('waits correctly for intervals beyond the 24.8-day setTimeout limit', async () => {
    // A raw setTimeout(fn, 2^32) fires after 1 ms with a TimeoutOverflowWarning: the wait must be chunked.
    const ac = new AbortController();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    let runs = 0;
    const done = runEvery(
      async () => {
        runs++;
      },
      { intervalMs: 2 ** 32, jitterMs: 0, signal: ac.signal },
    );
    await sleep(100);
    ac.abort();
    await done;
    process.off('warning', onWarning);
    assert.equal(runs, 1);
    assert.deepEqual(warnings, []);
  });

  it('rejects invalid intervals and jitters', async () => {
    const signal = new AbortController().signal;
    const job = async () => {};
    await assert.rejects(runEvery(job, { intervalMs: 0, signal }), RangeError);
    await assert.rejects(runEvery(job, { intervalMs: Number.POSITIVE_INFINITY, signal }), RangeError);
    await assert.rejects(runEvery(job, { intervalMs: 10, jitterMs: -1, signal }), RangeError);
  });
});
