/**
 * The CLI's live progress line: one line on a terminal, redrawn in place (`\r` + line + erase to end
 * of line), throttled, sized to the terminal width. Anywhere else (a pipe, a file, a CI log) it
 * writes nothing at all, so logs keep only the plain progress lines the commands print themselves.
 * Colour follows https://no-color.org: off when NO_COLOR is set to anything but the empty string.
 */
import { formatSize, sizeUnit } from '../units.js';

export type ProgressUnit = 'bytes' | 'pages';

export interface ProgressUpdate {
  phase: string;
  /** Bytes or pages done so far in this phase. */
  done?: number;
  /** Bytes or pages this phase will reach; unknown -> no bar, percent or ETA. */
  total?: number;
  unit: ProgressUnit;
}

/** What the display needs of a stream: process.stderr, or a test's fake. */
export interface ProgressStream {
  isTTY?: boolean;
  /** Terminal width; 0 or missing (a pty nobody sized) means DEFAULT_COLUMNS. */
  columns?: number;
  write(s: string): boolean;
}

export interface ProgressDisplayOptions {
  stream: ProgressStream;
  /** Where NO_COLOR is looked up. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Clock in milliseconds (tests pass a fake). @default Date.now */
  now?: () => number;
  /** Least time between two redraws of the same phase. @default 100 */
  minIntervalMs?: number;
}

export interface ProgressDisplay {
  /** Records the progress and redraws if due (phase change, finished phase, or minIntervalMs passed). */
  update(p: ProgressUpdate): void;
  /** Erases the line, so an ordinary stderr line prints cleanly; the next update redraws at once. */
  clear(): void;
  /** Erases the line and stops drawing for good. */
  done(): void;
  /** True while drawing on a terminal (false off a TTY, and after done()). */
  readonly active: boolean;
}

/** The state renderLine draws: an update plus the time since its phase started. */
export interface ProgressLineState extends ProgressUpdate {
  elapsedMs: number;
}

export const DEFAULT_COLUMNS = 80;
export const DEFAULT_MIN_INTERVAL_MS = 100;

const ERASE_TO_EOL = '\x1b[K';
const PHASE_STYLE = '\x1b[1;36m'; // bold cyan
const RESET = '\x1b[0m';
const MIN_BAR = 5; // narrower than this says nothing; drop the bar instead
const MAX_BAR = 30;

/** `12s`, `1m05s`, `2h03m`; undefined when unknown (NaN, infinite, negative). Rounds up: never `0s` early. */
export function formatEta(seconds: number): string | undefined {
  if (!Number.isFinite(seconds) || seconds < 0) return undefined;
  const s = Math.ceil(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad2(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${pad2(Math.floor((s % 3600) / 60))}m`;
}

export { formatSize };

/** `3.2 MiB/s` or `450 pages/s`; undefined when unknown. */
export function formatRate(perSecond: number, unit: ProgressUnit): string | undefined {
  if (!Number.isFinite(perSecond) || perSecond < 0) return undefined;
  return unit === 'bytes' ? `${formatSize(Math.round(perSecond))}/s` : `${Math.round(perSecond)} pages/s`;
}

/**
 * `12.3/27.0 MiB` (both in the total's unit), `120/500 pages`, or just the done part when the total is
 * unknown. Never more done than the total: a total that was an estimate grows to what was done.
 */
export function formatAmount(done: number, total: number | undefined, unit: ProgressUnit): string {
  if (unit === 'pages') return total === undefined ? `${Math.round(done)} pages` : `${Math.round(done)}/${Math.round(Math.max(total, done))} pages`;
  if (total === undefined) return formatSize(done);
  const whole = Math.max(total, done);
  const { divisor, suffix } = sizeUnit(whole);
  const n = (v: number) => (divisor === 1 ? String(v) : (v / divisor).toFixed(1));
  return `${n(done)}/${n(whole)} ${suffix}`;
}

/**
 * One progress line, at most `columns - 1` characters wide (escape codes not counted): writing into
 * the last column makes some terminals wrap, and the next `\r` would then redraw on a new line.
 * When the terminal is narrow the least useful parts go first: the bar, then ETA, rate, amount, percent;
 * the phase name is cut only when it alone is too wide.
 */
export function renderLine(state: ProgressLineState, columns: number, colour: boolean): string {
  const width = Math.max(0, Math.floor(columns) - 1);
  const { done, unit } = state;
  const total = state.total !== undefined && state.total >= 0 ? state.total : undefined;
  const phase = state.phase.slice(0, width);
  let ratio: number | undefined;
  const wanted: string[] = []; // in display order, which is also priority order
  if (done !== undefined) {
    if (total !== undefined) {
      ratio = total === 0 ? 1 : Math.min(1, Math.max(0, done / total));
      // floor: 100% only when the phase is really finished
      wanted.push(`${Math.floor(ratio * 100)}%`);
    }
    wanted.push(formatAmount(done, total, unit));
    const perSecond = state.elapsedMs > 0 ? done / (state.elapsedMs / 1000) : NaN;
    if (perSecond > 0) {
      wanted.push(formatRate(perSecond, unit)!);
      const left = total === undefined ? undefined : formatEta(Math.max(0, total - done) / perSecond);
      if (left !== undefined) wanted.push(`eta ${left}`);
    }
  }
  const shown: string[] = [];
  let used = phase.length;
  for (const part of wanted) {
    const cost = (used > 0 ? 1 : 0) + part.length;
    if (used + cost > width) break; // keep the order: no rate without the amount before it
    shown.push(part);
    used += cost;
  }
  if (ratio !== undefined) {
    const room = width - used - 3; // ' [' ... ']'
    if (room >= MIN_BAR) {
      const size = Math.min(MAX_BAR, room);
      const filled = Math.floor(ratio * size);
      shown.unshift(`[${'#'.repeat(filled)}${'-'.repeat(size - filled)}]`);
    }
  }
  const styled = colour && phase ? `${PHASE_STYLE}${phase}${RESET}` : phase;
  return [...(styled ? [styled] : []), ...shown].join(' ');
}

/** Whether colour may be used for this environment (https://no-color.org: set and non-empty disables). */
export function colourAllowed(env: NodeJS.ProcessEnv): boolean {
  const v = env.NO_COLOR;
  return v === undefined || v === '';
}

export function createProgressDisplay(options: ProgressDisplayOptions): ProgressDisplay {
  const { stream } = options;
  if (stream.isTTY !== true) return INACTIVE;
  const now = options.now ?? Date.now;
  const minIntervalMs = options.minIntervalMs ?? DEFAULT_MIN_INTERVAL_MS;
  const colour = colourAllowed(options.env ?? process.env);
  let finished = false;
  let drawn = false; // something is on the line that clear() must erase
  let phase: string | undefined;
  let phaseStart = 0;
  let lastDraw = -Infinity;

  const erase = () => {
    if (!drawn) return;
    stream.write(`\r${ERASE_TO_EOL}`);
    drawn = false;
  };

  return {
    get active() {
      return !finished;
    },
    update(p) {
      if (finished) return;
      const t = now();
      const phaseChanged = p.phase !== phase;
      if (phaseChanged) {
        phase = p.phase;
        phaseStart = t;
      }
      const complete = p.total !== undefined && p.done === p.total;
      if (!phaseChanged && !complete && t - lastDraw < minIntervalMs) return;
      lastDraw = t;
      // Node sets columns to 0 on a pty nobody has sized (e.g. under `script` without a terminal).
      const columns = stream.columns && stream.columns > 0 ? stream.columns : DEFAULT_COLUMNS;
      stream.write(`\r${renderLine({ ...p, elapsedMs: t - phaseStart }, columns, colour)}${ERASE_TO_EOL}`);
      drawn = true;
    },
    clear() {
      if (finished) return;
      erase();
      lastDraw = -Infinity;
    },
    done() {
      if (finished) return;
      erase();
      finished = true;
    },
  };
}

const INACTIVE: ProgressDisplay = {
  active: false,
  update() {},
  clear() {},
  done() {},
};

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}
