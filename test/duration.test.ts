/**
 * Durations as operators write and read them: days accepted wherever a duration is parsed (the
 * library, config keys, CLI flags), `--jitter` no longer than `--every`, and durations printed
 * rounded for people. The Go grammar itself is checked in config.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/index.js';
import { humanDuration, parseDuration } from '../src/config/duration.js';
import { requirePeer, run, sqlite3 } from './helpers/peers.js';
import { startCli } from './helpers/cli-daemon.js';
import { tempDir } from './helpers/tmp.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
// A bounded wait: a check that regressed into starting the scheduler must fail, not hang.
const sb = (args: string[], cwd: string) => run(process.execPath, [cli, ...args], { allowFail: true, cwd, timeout: 60_000 });

describe('durations', () => {
  const dir = tempDir();

  it('parseDuration accepts days, alone and with other units', () => {
    const cases: [string, number][] = [['1d', 86_400_000], ['2d12h', 216_000_000], ['1.5d', 129_600_000], ['-1d', -86_400_000], ['1d30m', 88_200_000]];
    for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
    assert.throws(() => parseDuration('1w'), /unknown unit "w".*units: ns, us, ms, s, m, h, d\)/);
    assert.throws(() => parseDuration('3'), /missing unit.*units: ns, us, ms, s, m, h, d\)/);
  });

  it('config keys with durations accept days', () => {
    const c = parseConfig('lock_timeout = "1d"\nprogress_log_interval = "2d"\n[pull]\nidle_timeout = "1d"\n');
    assert.equal(c.lockTimeoutMs, 86_400_000);
    assert.equal(c.progressLogIntervalMs, 2 * 86_400_000);
    assert.equal(c.pull!.idleTimeoutMs, 86_400_000);
  });

  it('humanDuration: two units at most, rounded, never a raw count', () => {
    const cases: [number, string][] = [
      [0, '0ms'], [0.4, '0ms'], [850, '850ms'], [999.6, '1s'], [1000, '1s'], [1540, '1.5s'], [9_960, '10s'],
      [45_200, '45s'], [59_600, '1m'], [61_000, '1m 1s'], [300_000, '5m'], [3_599_600, '1h'],
      [7_512_345, '2h 5m'], [3_600_000, '1h'], [86_400_000, '1d'], [86_400_000 + 4 * 3_600_000 + 1_700_000, '1d 4h'],
      [26 * 3_600_000, '1d 2h'], [2 * 86_400_000 - 1000, '2d'], [400 * 86_400_000, '400d'], [-90_000, '-1m 30s'],
    ];
    for (const [ms, text] of cases) assert.equal(humanDuration(ms), text, String(ms));
  });

  it('backup --every 1d runs, and says its schedule in rounded units', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const d = join(dir, 'every');
    mkdirSync(d);
    sqlite3(join(d, 'app.db'), 'CREATE TABLE t(x); INSERT INTO t VALUES (1);');
    writeFileSync(join(d, 'sqlite-backup.toml'), 'source_path = "app.db"\nbackup_dir = "backups"\n');
    const run = startCli(t, ['backup', '--every', '1d', '--json'], { cwd: d });
    await run.waitFor('a backup', () => run.stdout.includes('"ok":true'));
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0, run.stderr);
    // 10% of a day is capped at 5 minutes; "24h0m0s" / "300s" would be the unrounded forms.
    assert.match(run.stderr, /backing up every 1d \(each start up to 5m late, at random\)/);
  });

  it('--jitter longer than --every is a usage error (exit 2), before any backup', () => {
    const d = join(dir, 'jitter');
    mkdirSync(d);
    writeFileSync(join(d, 'sqlite-backup.toml'), 'source_path = "app.db"\nbackup_dir = "backups"\n');
    const r = sb(['backup', '--every', '1h', '--jitter', '2h'], d);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--jitter 2h is longer than --every 1h/);
    assert.match(r.stderr, /hint: run "sqlite-backup backup --help"/);
    // Equal is allowed: the next check (the config file) is what fails here.
    const equal = sb(['backup', '--every', '1h', '--jitter', '1h', '-c', 'missing.toml'], d);
    assert.match(equal.stderr, /missing\.toml" does not exist/);
    assert.doesNotMatch(equal.stderr, /longer than/);
    assert.equal(sb(['backup', '--every', '1x'], d).status, 2);
  });
});
