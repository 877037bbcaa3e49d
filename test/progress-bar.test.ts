/**
 * The terminal progress line: its formatting (pure), its throttling and no-TTY silence (a fake
 * stream), and what really reaches a terminal (a child process on a pty made by util-linux `script`).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createProgressDisplay,
  formatEta,
  formatRate,
  formatSize,
  renderLine,
  type ProgressLineState,
} from '../src/cli/progress-bar.js';
import { mib, Output } from '../src/cli/output.js';
import { ptyUnavailableReason, runInPty } from './helpers/pty.js';
import { tempDir } from './helpers/tmp.js';

const MIB = 1024 * 1024;
const SGR = /\x1b\[[0-9;]*m/;
const SGR_ALL = /\x1b\[[0-9;]*m/g;
const visible = (s: string) => s.replace(SGR_ALL, '');

function fakeStream(isTTY: boolean | undefined, columns?: number) {
  const writes: string[] = [];
  return {
    writes,
    stream: { ...(isTTY === undefined ? {} : { isTTY }), ...(columns ? { columns } : {}), write: (s: string) => (writes.push(s), true) },
  };
}

/** A clock the test moves by hand. */
function fakeClock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe('progress line formatting', () => {
  it('formatEta: seconds, m:ss, h:mm; rounds up; unknown is undefined', () => {
    assert.equal(formatEta(0), '0s');
    assert.equal(formatEta(12), '12s');
    assert.equal(formatEta(11.2), '12s');
    assert.equal(formatEta(59.5), '1m00s');
    assert.equal(formatEta(65), '1m05s');
    assert.equal(formatEta(3599), '59m59s');
    assert.equal(formatEta(3600), '1h00m');
    assert.equal(formatEta(3 * 3600 + 7 * 60 + 59), '3h07m');
    for (const bad of [NaN, Infinity, -1]) assert.equal(formatEta(bad), undefined);
  });

  it('formatSize: the one size style of human output - bytes, then KiB, MiB, GiB with one decimal', () => {
    assert.equal(formatSize(0), '0 bytes');
    assert.equal(formatSize(1023), '1023 bytes');
    assert.equal(formatSize(1536), '1.5 KiB');
    assert.equal(formatSize(12.3 * MIB), '12.3 MiB');
    assert.equal(formatSize(5 * 1024 * MIB), '5.0 GiB');
    assert.equal(mib(4 * MIB), '4.0 MiB', 'the results use the same style');
    assert.equal(mib(169), '169 bytes');
  });

  it('formatRate: a size per second, pages/s whole', () => {
    assert.equal(formatRate(1.5 * MIB, 'bytes'), '1.5 MiB/s');
    assert.equal(formatRate(0, 'bytes'), '0 bytes/s');
    assert.equal(formatRate(300 * 1024, 'bytes'), '300.0 KiB/s');
    assert.equal(formatRate(1234.4, 'pages'), '1234 pages/s');
    assert.equal(formatRate(NaN, 'pages'), undefined);
  });

  it('renderLine: phase, bar, percent, MiB, rate (since the phase started) and ETA', () => {
    const line = renderLine({ phase: 'vacuum', done: 4 * MIB, total: 10 * MIB, unit: 'bytes', elapsedMs: 2000 }, 80, false);
    assert.match(line, /^vacuum \[#+-+\] 40% 4\.0\/10\.0 MiB 2\.0 MiB\/s eta 3s$/);
    const pages = renderLine({ phase: 'online', done: 100, total: 1000, unit: 'pages', elapsedMs: 65_000 / 9 }, 80, false);
    assert.match(pages, / 10% 100\/1000 pages 14 pages\/s eta 1m05s$/);
  });

  it('renderLine: never more than 100% of the total, in the percent or the amount', () => {
    const over = renderLine({ phase: 'verify', done: 6.2 * MIB, total: 5.8 * MIB, unit: 'bytes', elapsedMs: 1000 }, 120, false);
    assert.match(over, /\[#+\] 100% 6\.2\/6\.2 MiB /);
    const pages = renderLine({ phase: 'online', done: 1200, total: 1000, unit: 'pages', elapsedMs: 1000 }, 120, false);
    assert.match(pages, / 100% 1200\/1200 pages /);
    assert.match(renderLine({ phase: 'p', done: 300 * 1024, total: 200 * 1024, unit: 'bytes', elapsedMs: 1000 }, 120, false), / 300\.0\/300\.0 KiB /);
  });

  it('the plain progress lines off a terminal: never over 100%, sizes in the same style', () => {
    const { writes, stream } = fakeStream(false);
    const out = new Output({ stdout: { write: () => true }, stderr: stream, env: {} }, { json: false, quiet: false, verbose: false }, 1);
    const events = [
      { phase: 'verify', bytesDone: 2 * MIB, bytesTotal: 5.8 * MIB },
      { phase: 'verify', bytesDone: 6.2 * MIB, bytesTotal: 5.8 * MIB },
    ];
    for (const e of events) {
      out.setProgressInterval(1);
      const until = Date.now() + 3;
      while (Date.now() < until); // the next line is due
      out.progress(e);
    }
    assert.equal(writes.length, 2, writes.join(''));
    assert.match(writes[0]!, /\] verify 34% \(2\.0 MiB of 5\.8 MiB\)\n$/);
    assert.match(writes[1]!, /\] verify 100% \(6\.2 MiB of 6\.2 MiB\)\n$/);
  });

  it('renderLine: the bar fills with progress and 100% only when done', () => {
    const at = (done: number) => renderLine({ phase: 'p', done, total: 1000, unit: 'pages', elapsedMs: 1000 }, 80, false);
    assert.match(at(0), /\[-+\] 0% /);
    assert.match(at(999), /\[#+-\] 99% /);
    assert.match(at(1000), /\[#+\] 100% /);
    assert.match(at(1000), /eta 0s$/);
  });

  it('renderLine never reaches the last column, at any width and state', () => {
    const states: ProgressLineState[] = [
      { phase: 'vacuum', done: 12.3 * MIB, total: 27 * MIB, unit: 'bytes', elapsedMs: 4000 },
      { phase: 'download', done: 5e9, unit: 'bytes', elapsedMs: 1 },
      { phase: 'online', done: 123_456, total: 9_999_999, unit: 'pages', elapsedMs: 1 },
      { phase: 'a-very-long-phase-name-that-will-not-fit-anywhere-narrow', done: 1, total: 2, unit: 'pages', elapsedMs: 10 },
      { phase: 'connect', unit: 'bytes', elapsedMs: 0 },
    ];
    let sawBar = false;
    for (const state of states) {
      for (let columns = 1; columns <= 200; columns++) {
        for (const colour of [false, true]) {
          const line = renderLine(state, columns, colour);
          assert.ok(visible(line).length <= columns - 1, `${columns} columns: ${JSON.stringify(line)}`);
          sawBar ||= line.includes('[#');
        }
      }
    }
    assert.ok(sawBar, 'some width drew a bar');
    // Wide terminals get a bar no wider than MAX_BAR; the line is not padded out.
    assert.ok(renderLine(states[0]!, 200, false).length < 100);
  });

  it('renderLine with an unknown total: no bar, percent or ETA; done and rate', () => {
    const line = renderLine({ phase: 'download', done: 3 * MIB, unit: 'bytes', elapsedMs: 1500 }, 80, false);
    assert.equal(line, 'download 3.0 MiB 2.0 MiB/s');
    assert.equal(renderLine({ phase: 'connect', unit: 'bytes', elapsedMs: 0 }, 80, false), 'connect');
  });

  it('renderLine colours only the phase, and only when asked', () => {
    const state: ProgressLineState = { phase: 'vacuum', done: 1, total: 2, unit: 'pages', elapsedMs: 10 };
    const coloured = renderLine(state, 80, true);
    assert.match(coloured, /^\x1b\[1;36mvacuum\x1b\[0m /);
    assert.equal(visible(coloured), renderLine(state, 80, false));
    assert.doesNotMatch(renderLine(state, 80, false), /\x1b/);
  });
});

describe('createProgressDisplay', () => {
  const update = { phase: 'vacuum', done: 1 * MIB, total: 4 * MIB, unit: 'bytes' } as const;

  it('off a TTY: inactive, and writes nothing at all', () => {
    for (const isTTY of [false, undefined]) {
      const { stream, writes } = fakeStream(isTTY, 80);
      const d = createProgressDisplay({ stream, env: {} });
      assert.equal(d.active, false);
      d.update(update);
      d.update({ ...update, done: update.total });
      d.clear();
      d.done();
      assert.deepEqual(writes, []);
    }
  });

  it('on a TTY: \\r + line + erase-to-end-of-line, coloured unless NO_COLOR', () => {
    const { stream, writes } = fakeStream(true, 60);
    const d = createProgressDisplay({ stream, env: {} });
    assert.equal(d.active, true);
    d.update(update);
    assert.equal(writes.length, 1);
    assert.match(writes[0]!, /^\r.*vacuum.* 25% .*\x1b\[K$/);
    assert.match(writes[0]!, SGR);
    assert.ok(visible(writes[0]!).length - '\r\x1b[K'.length <= 59);

    // NO_COLOR="" counts as unset (no-color.org); any other value removes every SGR code.
    const empty = fakeStream(true);
    createProgressDisplay({ stream: empty.stream, env: { NO_COLOR: '' } }).update(update);
    assert.match(empty.writes[0]!, SGR);
    const plain = fakeStream(true);
    createProgressDisplay({ stream: plain.stream, env: { NO_COLOR: '1' } }).update(update);
    assert.equal(plain.writes.length, 1);
    assert.doesNotMatch(plain.writes[0]!, SGR);
    assert.match(plain.writes[0]!, /^\rvacuum .*\x1b\[K$/);
  });

  it('throttles redraws, except on a phase change or a finished phase', () => {
    const clock = fakeClock();
    const { stream, writes } = fakeStream(true, 80);
    const d = createProgressDisplay({ stream, env: {}, now: clock.now, minIntervalMs: 100 });
    d.update({ ...update, done: 0 });
    clock.advance(50);
    d.update({ ...update, done: 1 * MIB });
    assert.equal(writes.length, 1, 'too soon: not drawn');
    clock.advance(50);
    d.update({ ...update, done: 2 * MIB });
    assert.equal(writes.length, 2, 'interval passed: drawn');
    // 2 MiB in the 100 ms since the phase began
    assert.match(writes[1]!, / 50% 2\.0\/4\.0 MiB 20\.0 MiB\/s eta 1s/);
    clock.advance(1);
    d.update({ ...update, done: 4 * MIB });
    assert.equal(writes.length, 3, 'done === total: drawn at once');
    assert.match(writes[2]!, / 100% /);
    clock.advance(1);
    d.update({ phase: 'integrity', done: 0, unit: 'pages' });
    assert.equal(writes.length, 4, 'new phase: drawn at once');
    assert.match(writes[3]!, /integrity.* 0 pages\x1b\[K$/, 'a new phase starts its own rate clock (none yet)');
  });

  it('clear() erases the line and the next update redraws at once; done() stops drawing', () => {
    const clock = fakeClock();
    const { stream, writes } = fakeStream(true, 80);
    const d = createProgressDisplay({ stream, env: {}, now: clock.now });
    d.clear();
    assert.deepEqual(writes, [], 'nothing drawn, nothing to erase');
    d.update(update);
    d.clear();
    assert.equal(writes.at(-1), '\r\x1b[K');
    clock.advance(1);
    d.update({ ...update, done: 2 * MIB });
    assert.equal(writes.length, 3, 'redrawn right after clear()');
    d.done();
    assert.equal(writes.at(-1), '\r\x1b[K');
    assert.equal(d.active, false);
    clock.advance(1000);
    d.update({ phase: 'other', done: 1, total: 1, unit: 'pages' });
    d.clear();
    d.done();
    assert.equal(writes.length, 4, 'nothing after done()');
  });

  it('uses 80 columns when the stream reports 0 (a pty nobody sized)', () => {
    const { stream, writes } = fakeStream(true);
    const wide = { ...stream, columns: 0 };
    createProgressDisplay({ stream: wide, env: { NO_COLOR: '1' } }).update({ ...update, phase: 'x'.repeat(100) });
    assert.equal(writes[0], `\r${'x'.repeat(79)}\x1b[K`);
  });
});

describe('progress display on a real terminal', { skip: ptyUnavailableReason() }, () => {
  const dir = tempDir('sqlite-backup-pty-');
  const moduleUrl = new URL('../src/cli/progress-bar.js', import.meta.url).href;
  const child = join(dir, 'progress-child.mjs');
  writeFileSync(
    child,
    [
      `import { createProgressDisplay } from ${JSON.stringify(moduleUrl)};`,
      `const d = createProgressDisplay({ stream: process.stderr, minIntervalMs: 0 });`,
      `process.stdout.write('active=' + d.active + '\\n');`,
      `const MIB = 1024 * 1024;`,
      `for (const done of [1, 5, 10]) d.update({ phase: 'vacuum', done: done * MIB, total: 10 * MIB, unit: 'bytes' });`,
      `d.done();`,
      `process.stdout.write('finished\\n');`,
    ].join('\n'),
  );
  const { NO_COLOR: _ignored, ...envWithoutNoColor } = process.env;

  it('redraws one line in place, in colour', async () => {
    const r = await runInPty(process.execPath, [child], { cwd: dir, env: envWithoutNoColor, columns: 60 });
    assert.equal(r.status, 0, r.output + r.stderr);
    assert.match(r.output, /active=true\r\n/, 'stdout is a terminal too');
    const draws = r.output.match(/\r[^\r\n]*\x1b\[K/g) ?? [];
    // three draws, then done()'s erase
    assert.equal(draws.length, 4, JSON.stringify(r.output));
    assert.match(draws[0]!, / 10% /);
    assert.match(draws[1]!, / 50% /);
    assert.match(draws[2]!, /\[#+\] 100% 10\.0\/10\.0 MiB/);
    assert.equal(draws[3], '\r\x1b[K');
    for (const d of draws) assert.ok(visible(d).length - '\r\x1b[K'.length <= 59, `fits 60 columns: ${JSON.stringify(d)}`);
    assert.match(r.output, SGR);
    // The pty turns '\n' into '\r\n'; the line was erased before the ordinary output that follows.
    assert.ok(r.output.endsWith('\r\x1b[Kfinished\r\n'), JSON.stringify(r.output));
  });

  it('NO_COLOR=1: the same line without any SGR code', async () => {
    const r = await runInPty(process.execPath, [child], { cwd: dir, env: { ...envWithoutNoColor, NO_COLOR: '1' } });
    assert.equal(r.status, 0, r.output + r.stderr);
    assert.match(r.output, /\r[^\r\n]* 100% [^\r\n]*\x1b\[K/);
    assert.doesNotMatch(r.output, SGR, JSON.stringify(r.output));
  });

  it('stderr piped (no terminal): nothing written to it', async () => {
    const proc = spawn(process.execPath, [child], { cwd: dir, env: envWithoutNoColor, stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (b: Buffer) => (stdout += b));
    proc.stderr.on('data', (b: Buffer) => (stderr += b));
    const status = await new Promise<number | null>((resolve) => proc.on('close', resolve));
    assert.equal(status, 0, stderr);
    assert.equal(stdout, 'active=false\nfinished\n');
    assert.equal(stderr, '');
  });
});
