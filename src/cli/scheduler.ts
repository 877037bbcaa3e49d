/**
 * The engine of `sqlite-backup backup --every <duration>`: runs a job on a fixed-rate schedule for
 * users without cron (or systemd timers), until a signal aborts it.
 *
 * Rules, each chosen for a backup daemon that runs for months:
 * - Fixed rate, like cron: run k is due at `start + k * interval` (plus jitter), counted from the start
 *   of the first run, so a run that takes 5 minutes does not push every later run 5 minutes back.
 * - Never two runs at once, never a burst of catch-up runs: slots that went by while a run was still
 *   going (or while the machine slept) are skipped, reported through `onSkip`, and the next run waits
 *   for the next slot. Catching up would hammer the database for backups nobody asked for.
 * - A run that throws is reported through `onError` and the schedule goes on: one full disk or one
 *   dropped connection must not silently end all later backups.
 * - Abort stops a wait at once. A running job is told through its own signal, and runEvery resolves
 *   only when that job has returned, so the caller never exits over a half-written backup.
 * - Times come from the monotonic clock: a wall-clock step (NTP, a manual change) neither fires a burst
 *   nor stalls the schedule.
 */
import { performance } from 'node:perf_hooks';

/** The largest jitter defaultJitterMs picks: 5 minutes. */
export const MAX_DEFAULT_JITTER_MS = 5 * 60_000;

/** setTimeout fires at once (with a warning) for delays above 2^31-1 ms (~24.8 days), so longer waits are chunked. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What onSkip receives: the previous run outlasted one or more slots. */
export interface SkipInfo {
  /** How many scheduled runs were dropped (>= 1). */
  skipped: number;
  /** How long the previous run took, in milliseconds (it can also be short, if the machine slept). */
  lastRunMs: number;
  intervalMs: number;
}

export interface RunEveryOptions {
  /** Time between the starts of two runs, in milliseconds (> 0). */
  intervalMs: number;
  /**
   * Each run after the first starts up to this many milliseconds after its slot, uniformly at random.
   * @default defaultJitterMs(intervalMs)
   */
  jitterMs?: number;
  /** Stops the schedule; a running job sees it through the signal it is given. */
  signal: AbortSignal;
  /** Source of randomness for the jitter, in [0, 1). @default Math.random */
  random?: () => number;
  /** Called when slots were skipped because a run outlasted them. */
  onSkip?: (info: SkipInfo) => void;
  /**
   * Called with whatever a run threw; the schedule goes on. Not called for a run that fails after
   * `signal` aborted (that is the expected way a job stops). An exception thrown by onError itself
   * ends runEvery (it is a bug in the caller, not a transient failure).
   * @default prints the error to stderr
   */
  onError?: (e: unknown) => void;
  /** Run at once instead of waiting for the first interval. @default true */
  runImmediately?: boolean;
}

/**
 * The default jitter: 10% of the interval, at most 5 minutes. Many hosts installed from the same
 * template share one schedule; without jitter they would all copy to the same backup disk or NFS/SFTP
 * server in the same second. 10% spreads them without moving a run far from its slot, and the 5-minute
 * cap keeps daily backups from wandering by hours.
 */
export function defaultJitterMs(intervalMs: number): number {
  checkDuration('intervalMs', intervalMs, false);
  return Math.round(Math.min(intervalMs * 0.1, MAX_DEFAULT_JITTER_MS));
}

/**
 * Runs `job` now (unless `runImmediately` is false) and then every `intervalMs` (+ jitter), one run at
 * a time, until `options.signal` aborts. Each run gets its own signal, which aborts with
 * `options.signal`; listeners a job leaves on it die with the run instead of piling up on the
 * long-lived one. Resolves once aborted and any running job has returned; rejects only for invalid
 * options (RangeError) or an exception thrown by onSkip/onError.
 */
export async function runEvery(job: (signal: AbortSignal) => Promise<void>, options: RunEveryOptions): Promise<void> {
  const { intervalMs, signal } = options;
  checkDuration('intervalMs', intervalMs, false);
  const jitterMs = options.jitterMs ?? defaultJitterMs(intervalMs);
  checkDuration('jitterMs', jitterMs, true);
  const random = options.random ?? Math.random;
  const onError = options.onError ?? reportError;

  const origin = performance.now();
  let slot = options.runImmediately === false ? 1 : 0;
  while (!signal.aborted) {
    // The first run starts on time (someone just started the daemon); later ones get the jitter.
    const jitter = slot === 0 ? 0 : random() * jitterMs;
    if (!(await sleepUntil(origin + slot * intervalMs + jitter, signal))) return;

    const started = performance.now();
    try {
      await runOnce(job, signal);
    } catch (e) {
      if (signal.aborted) return;
      onError(e);
    }
    if (signal.aborted) return;

    // The next slot whose time has not come yet; everything in between went by during the run.
    const ended = performance.now();
    const next = Math.max(slot + 1, Math.ceil((ended - origin) / intervalMs));
    if (next > slot + 1) options.onSkip?.({ skipped: next - slot - 1, lastRunMs: ended - started, intervalMs });
    slot = next;
  }
}

/** One run with its own signal, linked to the scheduler's for the run's duration only. */
async function runOnce(job: (signal: AbortSignal) => Promise<void>, signal: AbortSignal): Promise<void> {
  const run = new AbortController();
  const forward = () => run.abort(signal.reason);
  signal.addEventListener('abort', forward, { once: true });
  try {
    await job(run.signal);
  } finally {
    signal.removeEventListener('abort', forward);
  }
}

/** Waits until the monotonic clock reaches `deadline`: true when it did, false when `signal` aborted first. */
function sleepUntil(deadline: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const arm = () => {
      const left = deadline - performance.now();
      if (left <= 0) {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      } else {
        timer = setTimeout(arm, Math.min(Math.ceil(left), MAX_TIMER_MS));
      }
    };
    signal.addEventListener('abort', onAbort, { once: true });
    arm();
  });
}

function checkDuration(name: string, ms: number, zeroOk: boolean): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || (!zeroOk && ms === 0)) {
    throw new RangeError(`${name} must be a finite number of milliseconds ${zeroOk ? '>= 0' : '> 0'}, got ${String(ms)}`);
  }
}

function reportError(e: unknown): void {
  console.error(`sqlite-backup: scheduled run failed: ${e instanceof Error ? e.message : String(e)}`);
}
