/**
 * Go duration strings (`time.ParseDuration`), because the Go version stores `sleep_interval` and
 * friends that way and its documents must load unchanged: "300ms", "1.5s", "1m30s", "2h", "10us",
 * "10µs", "0". Same grammar and the same results as Go (checked against go1.19's time.ParseDuration):
 * an optional sign, then one or more `<decimal><unit>` pairs; a bare "0" is the only number without a
 * unit. Go counts whole nanoseconds (fractions of a nanosecond are truncated) in an int64, so we do
 * too, then return milliseconds, which is what Node's timers take.
 *
 * One extension over Go: the unit `d` (24h), because backup schedules and ages are counted in days
 * ("--every 1d", "--max-age 2d"); every Go string still parses to the same value.
 */

const NS_PER_UNIT: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5 micro sign
  'μs': 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
  d: 86_400e9,
};

/** Go's limit: an int64 of nanoseconds (about 292 years). */
const MAX_NS = 2 ** 63;

const EXAMPLES = '"300ms", "1.5s" or "1m30s"';

/** One `<decimal><unit>` pair: digits with an optional fraction, then the unit (anything up to the next digit or dot). */
const PAIR = /^(\d*)(?:\.(\d*))?([^\d.]*)/;

/**
 * Parses a Go duration string into milliseconds (may be fractional: "10us" is 0.01, and negative:
 * "-1s" is -1000; callers decide which range they accept). Throws a `RangeError` whose message
 * explains what is wrong and shows valid examples.
 */
export function parseDuration(text: string): number {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw new RangeError(`expected a duration such as ${EXAMPLES}, got ${JSON.stringify(text)}`);

  let ns = 0;
  while (rest !== '') {
    const [whole, int = '', frac, unit = ''] = PAIR.exec(rest)!;
    if (int === '' && (frac === undefined || frac === '')) {
      throw new RangeError(`expected a duration such as ${EXAMPLES}, got ${JSON.stringify(text)}`);
    }
    if (unit === '') {
      throw new RangeError(
        `missing unit in ${JSON.stringify(text)}: write e.g. "${int || '0'}${frac ? `.${frac}` : ''}s" ` +
          `or "${int || '0'}${frac ? `.${frac}` : ''}ms" (units: ns, us, ms, s, m, h, d)`,
      );
    }
    const scale = NS_PER_UNIT[unit];
    if (scale === undefined) {
      throw new RangeError(`unknown unit ${JSON.stringify(unit)} in ${JSON.stringify(text)} (units: ns, us, ms, s, m, h, d)`);
    }
    // Like Go: the whole part exactly, the fraction truncated to whole nanoseconds.
    ns += Number(int || '0') * scale;
    if (frac) ns += Math.trunc(Number(`0.${frac}`) * scale);
    if (ns >= MAX_NS) throw new RangeError(`duration ${JSON.stringify(text)} is too long (Go's limit is about 292 years)`);
    rest = rest.slice(whole.length);
  }
  // `|| 0` turns -0 into 0 so callers and tests see one zero.
  return (sign * ns) / 1e6 || 0;
}

/**
 * Milliseconds as a Go duration string ("10ms", "15s", "1m30s", "0s"), the inverse of parseDuration
 * for the values we show (defaults, error messages). Sub-millisecond values print in microseconds.
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1) return `${round(ms * 1000)}us`;
  if (ms < 1000) return `${round(ms)}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = round((ms % 60_000) / 1000);
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}

/**
 * Milliseconds for people: the two largest non-zero units, rounded ("2h 5m", "3d 4h", "45s", "1.5s",
 * "850ms"), never a raw count like "7512.345s". Not parseable back (the space): use formatDuration
 * for values a user may paste into a config.
 */
export function humanDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${humanDuration(-ms)}`;
  if (ms < 999.5) return `${Math.round(ms)}ms`;
  if (ms < 10_000) {
    const s = Math.round(ms / 100) / 10;
    return s < 10 ? `${s}s` : '10s';
  }
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  const first = units.findIndex(([, size]) => ms >= size);
  const [bigName, big] = units[first]!;
  const [smallName, small] = units[first + 1] ?? units[first]!;
  const rounded = Math.round(ms / small) * small;
  // 59m 59.6s rounds to 60m: say "1h".
  if (first > 0 && rounded >= units[first - 1]![1]) return humanDuration(rounded);
  const hi = Math.floor(rounded / big);
  const lo = Math.round((rounded - hi * big) / small);
  return lo === 0 || small === big ? `${hi}${bigName}` : `${hi}${bigName} ${lo}${smallName}`;
}

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
