/**
 * Retention: the pure GFS plan (last / daily / ISO weekly, latest protected, per-database groups)
 * and prune on real temp dirs (dry run, exact removals with sidecars, sha256sum -c afterwards).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { isBackupError } from '../src/errors.js';
import type { BackupEntry } from '../src/api/listing.js';
import { backupFileName, LATEST_FILE, parseBackupName, SIDECAR_SUFFIX } from '../src/format/naming.js';
import {
  DEFAULT_RETENTION,
  describeRetention,
  isoWeekKey,
  KEEP_ALL,
  planPrune,
  prune,
  resolveRetention,
  utcDayKey,
  utcHourKey,
  utcMonthKey,
  utcYearKey,
  type RetentionPolicy,
} from '../src/api/retention.js';
import { python, requirePeer, run } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const name = (iso: string, db = 'app', counter = 1) => backupFileName(db, new Date(iso), 'vacuum', counter);

function entry(fileName: string, isLatest = false): BackupEntry {
  const parsed = parseBackupName(fileName);
  assert.ok(parsed, fileName);
  return { ...parsed, path: `/backups/${fileName}`, size: 1, mtimeMs: 0, hasChecksum: false, isLatest };
}

// The tests' dates must not depend on the machine's clock: `now` is fixed after all of them.
const NOW = new Date('2100-01-01T00:00:00.000Z');

function plan(names: string[], policy: RetentionPolicy, options: Parameters<typeof planPrune>[2] = {}) {
  const p = planPrune(names.map((n) => entry(n)), policy, { now: NOW, ...options });
  return { keep: p.keep.map((k) => k.entry.name), remove: p.remove.map((e) => e.name), reasons: new Map(p.keep.map((k) => [k.entry.name, k.reasons])) };
}

const policy = (keepLast: number, keepDaily = 0, keepWeekly = 0): RetentionPolicy => ({ keepLast, keepDaily, keepWeekly });

describe('calendar keys', () => {
  test('UTC day and ISO week, across year boundaries', () => {
    assert.equal(utcDayKey(new Date('2026-11-25T23:59:59.999Z')), '2026-11-25');
    const weeks: [string, string][] = [
      ['2024-12-29T23:00:00Z', '2024-W52'], // Sunday
      ['2024-12-30T00:00:00Z', '2025-W01'], // Monday: week 1 of 2025 starts in 2024
      ['2025-01-05T12:00:00Z', '2025-W01'],
      ['2026-12-31T12:00:00Z', '2026-W53'], // 2026 has 53 weeks
      ['2027-01-03T23:59:59Z', '2026-W53'], // Sunday in January, still 2026's last week
      ['2027-01-04T00:00:00Z', '2027-W01'],
      ['2021-01-03T00:00:00Z', '2020-W53'],
      ['0050-01-01T00:00:00Z', '0049-W52'], // two-digit years are not 1900s years
    ];
    for (const [iso, want] of weeks) assert.equal(isoWeekKey(new Date(iso)), want, iso);
  });

  test('UTC hour, month and year: one instant either side of each boundary', () => {
    const cases: [string, string, string, string][] = [
      // instant, hour, month, year
      ['2026-11-25T13:59:59.999Z', '2026-11-25T13', '2026-11', '2026'],
      ['2026-11-25T14:00:00.000Z', '2026-11-25T14', '2026-11', '2026'],
      ['2026-11-30T23:59:59.999Z', '2026-11-30T23', '2026-11', '2026'],
      ['2026-12-01T00:00:00.000Z', '2026-12-01T00', '2026-12', '2026'],
      ['2026-12-31T23:59:59.999Z', '2026-12-31T23', '2026-12', '2026'],
      ['2027-01-01T00:00:00.000Z', '2027-01-01T00', '2027-01', '2027'],
      ['2028-02-29T23:30:00.000Z', '2028-02-29T23', '2028-02', '2028'], // leap day
      // The key is UTC, not the machine's zone: 23:30 at UTC-5 is the next UTC day, month and year.
      ['2026-12-31T23:30:00.000-05:00', '2027-01-01T04', '2027-01', '2027'],
    ];
    for (const [iso, hour, month, year] of cases) {
      const d = new Date(iso);
      assert.deepEqual([utcHourKey(d), utcMonthKey(d), utcYearKey(d)], [hour, month, year], iso);
    }
  });

  test('ISO weeks agree with python3 isocalendar for every day of 2019-2028 and odd years', (t) => {
    if (!requirePeer(t, 'python3')) return;
    const days: string[] = [];
    for (let ms = Date.UTC(2019, 0, 1); ms < Date.UTC(2029, 0, 1); ms += 86_400_000) days.push(new Date(ms).toISOString().slice(0, 10));
    days.push('0001-01-01', '0099-12-31', '1900-01-01', '9999-12-31');
    const want = python(
      'import sys, datetime\n' +
        'for s in sys.argv[1:]:\n' +
        '    y, w, _ = datetime.date.fromisoformat(s).isocalendar()\n' +
        '    print(f"{y:04d}-W{w:02d}")',
      days,
    ).stdout.trim().split('\n');
    // Late in the UTC day too: the key must not depend on the time of day.
    assert.deepEqual(days.map((d) => isoWeekKey(new Date(`${d}T23:59:59.999Z`))), want);
    assert.deepEqual(days.map((d) => isoWeekKey(new Date(`${d}T00:00:00.000Z`))), want);
  });
});

describe('planPrune', () => {
  test('keepLast only: the newest N stay, oldest first in both lists', () => {
    const names = Array.from({ length: 6 }, (_, i) => name(`2026-11-2${i}T10:00:00.000Z`));
    names.push(name('2026-11-25T10:00:00.000Z', 'app', 2)); // same millisecond, counter 2: newer
    const p = plan([...names].reverse(), policy(3));
    assert.deepEqual(p.keep, [names[4], names[5], names[6]]);
    assert.deepEqual(p.remove, names.slice(0, 4));
    assert.deepEqual(p.reasons.get(names[6]!), ['last']);
  });

  test('daily: the newest of each of the last N days that have backups', () => {
    const names = [
      name('2026-11-01T09:00:00.000Z'),
      name('2026-11-02T09:00:00.000Z'),
      name('2026-11-02T21:00:00.000Z'),
      name('2026-11-04T01:00:00.000Z'),
      name('2026-11-04T23:59:59.999Z'),
      name('2026-11-07T12:00:00.000Z'), // days 3, 5, 6 have none: they do not count
      name('2026-11-08T00:00:00.000Z'),
      name('2026-11-08T06:00:00.000Z'),
    ];
    const p = plan(names, policy(1, 3));
    assert.deepEqual(p.keep, [names[4], names[5], names[7]]);
    assert.deepEqual(p.reasons.get(names[7]!), ['last', 'daily 2026-11-08']);
    assert.deepEqual(p.reasons.get(names[5]!), ['daily 2026-11-07']);
    assert.deepEqual(p.reasons.get(names[4]!), ['daily 2026-11-04']);
    assert.equal(p.remove.length, 5);
  });

  test('weekly: ISO weeks across a year boundary (2026 has a week 53 that ends in 2027)', () => {
    const names = [
      name('2026-12-20T10:00:00.000Z'), // Sun, 2026-W51
      name('2026-12-24T10:00:00.000Z'), // 2026-W52
      name('2026-12-27T10:00:00.000Z'), // Sun, 2026-W52 (newest of its week)
      name('2026-12-28T10:00:00.000Z'), // Mon, 2026-W53
      name('2026-12-31T10:00:00.000Z'), // 2026-W53
      name('2027-01-03T10:00:00.000Z'), // Sun, 2026-W53 (newest of its week)
      name('2027-01-04T10:00:00.000Z'), // Mon, 2027-W01
      name('2027-01-05T10:00:00.000Z'), // 2027-W01
    ];
    const p = plan(names, policy(1, 0, 3));
    assert.deepEqual(p.keep, [names[2], names[5], names[7]]);
    assert.deepEqual(p.reasons.get(names[5]!), ['weekly 2026-W53']);
    assert.deepEqual(p.reasons.get(names[2]!), ['weekly 2026-W52']);
    assert.deepEqual(p.remove, [names[0], names[1], names[3], names[4], names[6]]);
    // daily + weekly together: the union, each reason recorded once per bucket.
    const both = plan(names, policy(1, 2, 2));
    assert.deepEqual(both.keep, [names[5], names[6], names[7]]);
    assert.deepEqual(both.reasons.get(names[7]!), ['last', 'daily 2027-01-05', 'weekly 2027-W01']);
  });

  test('hourly: the newest of each of the last N UTC hours that have backups, across a day and year boundary', () => {
    const names = [
      name('2026-12-31T22:10:00.000Z'),
      name('2026-12-31T22:50:00.000Z'), // newest of hour 22
      name('2026-12-31T23:00:00.000Z'),
      name('2026-12-31T23:59:59.999Z'), // newest of hour 23 (and of the day, month, year)
      name('2027-01-01T00:00:00.000Z'), // a new hour, day, month and year
      name('2027-01-01T00:30:00.000Z'),
      name('2027-01-01T02:00:00.000Z'), // hour 01 has none: it does not count
    ];
    const p = plan(names, { ...policy(1), keepHourly: 3 });
    assert.deepEqual(p.keep, [names[3], names[5], names[6]]);
    assert.deepEqual(p.reasons.get(names[6]!), ['last', 'hourly 2027-01-01T02']);
    assert.deepEqual(p.reasons.get(names[5]!), ['hourly 2027-01-01T00']);
    assert.deepEqual(p.reasons.get(names[3]!), ['hourly 2026-12-31T23']);
    const four = plan(names, { ...policy(1), keepHourly: 4 });
    assert.deepEqual(four.keep, [names[1], names[3], names[5], names[6]]);
  });

  test('monthly and yearly: the newest of each month / year that has backups, calendar boundaries in UTC', () => {
    const names = [
      name('2024-06-30T12:00:00.000Z'),
      name('2024-12-31T23:59:59.999Z'), // newest of 2024 and of 2024-12
      name('2025-01-01T00:00:00.000Z'),
      name('2025-01-31T23:59:59.999Z'), // newest of 2025-01
      name('2025-02-01T00:00:00.000Z'), // 2025-02 (newest: alone)
      name('2025-11-30T23:59:59.999Z'), // newest of 2025-11 and of 2025 (months 03-10 have none)
      name('2026-02-28T10:00:00.000Z'),
      name('2026-03-01T00:00:00.000Z'), // newest of 2026-03 and 2026
    ];
    const monthly = plan(names, { ...policy(1), keepMonthly: 4 });
    assert.deepEqual(monthly.keep, [names[4], names[5], names[6], names[7]]);
    assert.deepEqual(monthly.reasons.get(names[5]!), ['monthly 2025-11']);
    const yearly = plan(names, { ...policy(1), keepYearly: 3 });
    assert.deepEqual(yearly.keep, [names[1], names[5], names[7]]);
    assert.deepEqual(yearly.reasons.get(names[1]!), ['yearly 2024']);
    assert.deepEqual(yearly.reasons.get(names[7]!), ['last', 'yearly 2026']);
    // All rules together: the union; the latest stays whatever the rules say.
    const all = planPrune(
      names.map((n, i) => entry(n, i === 0)),
      { keepLast: 1, keepHourly: 1, keepDaily: 1, keepWeekly: 1, keepMonthly: 2, keepYearly: 2 },
      { now: NOW },
    );
    assert.deepEqual(all.keep.map((k) => k.entry.name), [names[0], names[5], names[6], names[7]]);
    assert.deepEqual(all.keep[0]!.reasons, ['latest']);
  });

  test('the latest backup is never removed, however old', () => {
    const names = [name('2020-01-01T00:00:00.000Z'), name('2026-11-01T00:00:00.000Z'), name('2026-11-02T00:00:00.000Z')];
    const flagged = planPrune([entry(names[0]!, true), entry(names[1]!), entry(names[2]!)], policy(1), { now: NOW });
    assert.deepEqual(flagged.keep.map((k) => [k.entry.name, k.reasons]), [[names[0], ['latest']], [names[2], ['last']]]);
    assert.deepEqual(flagged.remove.map((e) => e.name), [names[1]]);
    const byOption = plan(names, policy(1), { latestName: names[1]! });
    assert.deepEqual(byOption.remove, [names[0]]);
  });

  test('keepLast 0 keeps everything, whatever keepDaily/keepWeekly say', () => {
    const names = Array.from({ length: 5 }, (_, i) => name(`2026-0${i + 1}-01T00:00:00.000Z`));
    const p = plan(names, policy(0, 1, 1));
    assert.deepEqual(p.keep, names);
    assert.deepEqual(p.remove, []);
    assert.deepEqual(p.reasons.get(names[0]!), ['keep-all']);
  });

  test('each database is planned on its own (Go v1 files form their own group)', () => {
    const a = Array.from({ length: 4 }, (_, i) => name(`2026-11-1${i}T00:00:00.000Z`, 'app'));
    const b = Array.from({ length: 3 }, (_, i) => name(`2026-10-1${i}T00:00:00.000Z`, 'app-logs'));
    const goUp = 'app-2026-11-20T00-00-00Z-vacuum.bck.gz'; // same database as ours: same group
    const v1 = ['db-backup-2026-09-01T00-00-00Z.db.gz', 'db-backup-2026-09-02T00-00-00Z.db.gz', 'db-backup-2026-09-03T00-00-00Z.db.gz'];
    const p = plan([...a, ...b, goUp, ...v1], policy(2));
    assert.deepEqual(p.keep, [v1[1], v1[2], b[1], b[2], a[3], goUp]);
    assert.deepEqual(p.remove, [v1[0], b[0], a[0], a[1], a[2]]);
  });

  test('backups dated after now are kept and use up no slot; the input is not modified', () => {
    const names = [name('2026-11-01T00:00:00.000Z'), name('2026-11-02T00:00:00.000Z'), name('2030-01-01T00:00:00.000Z')];
    const entries = names.map((n) => entry(n));
    const copy = structuredClone(entries);
    const p = planPrune(entries, policy(1), { now: new Date('2026-11-03T00:00:00.000Z') });
    assert.deepEqual(p.keep.map((k) => [k.entry.name, k.reasons]), [[names[1], ['last']], [names[2], ['future']]]);
    assert.deepEqual(p.remove.map((e) => e.name), [names[0]]);
    assert.deepEqual(entries, copy);
  });

  test('invalid policies are ECONFIG', () => {
    for (const bad of [policy(-1), policy(1.5), policy(1, -1), policy(1, 0, NaN), { keepLast: 1 } as RetentionPolicy, { ...policy(1), keepHourly: -1 }, { ...policy(1), keepYearly: 0.5 }]) {
      assert.throws(() => planPrune([], bad), (e: unknown) => isBackupError(e, 'ECONFIG'), JSON.stringify(bad));
    }
  });
});

describe('resolveRetention: the one rule for where a policy comes from', () => {
  test("backup: backup's documented default for every missing key", () => {
    assert.deepEqual(resolveRetention('backup', {}), { ...KEEP_ALL, keepLast: 30 });
    assert.deepEqual(DEFAULT_RETENTION.keepLast, 30);
    assert.deepEqual(resolveRetention('backup', { keepLast: 0 }), KEEP_ALL);
    assert.deepEqual(resolveRetention('backup', { keepDaily: 7, keepMonthly: undefined }), { ...DEFAULT_RETENTION, keepDaily: 7 });
  });

  test('push: each missing key inherits the top level', () => {
    const top = resolveRetention('backup', { keepLast: 7, keepDaily: 3 });
    assert.deepEqual(resolveRetention('push', {}, top), top);
    assert.deepEqual(resolveRetention('push', { keepLast: 2, keepYearly: 1 }, top), { ...top, keepLast: 2, keepYearly: 1 });
  });

  test('restinpieces-backup shape: no retention keys keeps everything; with keys, read as at the top level', () => {
    assert.deepEqual(resolveRetention('restinpieces', {}), KEEP_ALL);
    assert.deepEqual(resolveRetention('restinpieces', { keepDaily: 7 }), { ...DEFAULT_RETENTION, keepDaily: 7 });
  });

  test('prune: no flag and no config for the place is no policy; flags win over the inherited policy', () => {
    assert.equal(resolveRetention('prune', {}, undefined), undefined);
    const fromConfig = resolveRetention('backup', { keepLast: 0 });
    assert.deepEqual(resolveRetention('prune', {}, fromConfig), KEEP_ALL, "the config's keep_last = 0 keeps all");
    assert.deepEqual(resolveRetention('prune', { keepLast: 3 }, fromConfig), { ...KEEP_ALL, keepLast: 3 });
    assert.deepEqual(resolveRetention('prune', { keepHourly: 5 }, undefined), { ...DEFAULT_RETENTION, keepHourly: 5 });
  });

  test('describeRetention names keep_last and the keys that are set', () => {
    assert.equal(describeRetention({ ...KEEP_ALL, keepLast: 7, keepMonthly: 12 }), 'keep_last=7, keep_monthly=12');
    assert.equal(describeRetention(KEEP_ALL), 'keep_last=0: everything is kept');
  });
});

describe('prune on a directory', () => {
  const root = tempDir();
  let n = 0;
  const day = (d: number, db = 'app') => name(`2026-11-${String(d).padStart(2, '0')}T12:00:00.000Z`, db);
  // Sidecars whose backup is gone (a crash between the two unlinks, or a manual rm).
  const ORPHAN = `${name('2026-10-31T13:00:00.000Z')}${SIDECAR_SUFFIX}`;
  const ORPHAN_OTHER = `${name('2026-10-31T13:00:00.000Z', 'other')}${SIDECAR_SUFFIX}`;

  /** A directory with real sha256sum sidecars, temp/lock/unknown files, another database, Go files. */
  function setUp(): { dir: string; files: string[] } {
    const dir = join(root, `p${++n}`);
    mkdirSync(dir);
    const write = (file: string, content: string) => writeFileSync(join(dir, file), content, { mode: 0o600 });
    const withSidecar = (file: string) => {
      write(file, `gz of ${file}`);
      write(file + SIDECAR_SUFFIX, `${createHash('sha256').update(`gz of ${file}`).digest('hex')}  ${file}\n`);
    };
    for (const d of [1, 2, 3, 4, 5, 6]) withSidecar(day(d));
    write(day(7), 'no sidecar'); // newest app backup, sidecar missing
    for (const d of [1, 2, 3]) withSidecar(day(d, 'other'));
    write(`${day(8)}.tmp-0123456789ab`, 'partial');
    write(`${day(8)}${SIDECAR_SUFFIX}.tmp-0123456789ab`, 'partial sidecar');
    write(ORPHAN, 'orphan sidecar of app');
    write(ORPHAN_OTHER, 'orphan sidecar of other');
    write('unknown.sha256', 'not ours');
    write('app.lock', String(process.pid));
    write('notes.txt', 'keep me');
    write('db-backup-2026-10-01T00-00-00Z.db.gz', 'go v1');
    write(LATEST_FILE, day(1)); // the oldest app backup is the one latest.txt names
    return { dir, files: readdirSync(dir).sort() };
  }

  test('dry run reports the plan and removes nothing', async () => {
    const { dir, files } = setUp();
    const r = await prune(dir, policy(2), { dryRun: true, dbName: 'app', now: NOW });
    assert.equal(r.dryRun, true);
    // day 7 has no sidecar: never published, it takes no slot (a dry run does not verify it).
    assert.deepEqual(r.removed, [day(2), day(3), day(4)]);
    assert.deepEqual(r.kept, [day(1), day(5), day(6)]);
    assert.deepEqual(r.unverified, [day(7)]);
    assert.deepEqual(r.removedSidecars, [
      ...[2, 3, 4].map((d) => day(d) + SIDECAR_SUFFIX),
      ORPHAN,
    ]);
    assert.deepEqual(readdirSync(dir).sort(), files);
  });

  test('removes exactly the planned backups and their sidecars; everything else stays', async (t) => {
    const { dir, files } = setUp();
    const r = await prune(dir, policy(2), { dbName: 'app', now: NOW });
    assert.equal(r.dryRun, false);
    // day 7 has no sidecar: it takes no slot, and app.lock (a live holder: our pid) means a backup
    // of app may be writing it right now, so it is left unverified (prune.test.ts settles such files).
    assert.deepEqual([r.discarded, r.adopted, r.unverified], [[], [], [day(7)]]);
    const gone = new Set([...r.removed, ...r.removedSidecars]);
    assert.equal(gone.size, 7);
    assert.deepEqual(readdirSync(dir).sort(), files.filter((f) => !gone.has(f)));
    // Every sidecar left still has its backup: sha256sum -c passes for all of ours.
    if (requirePeer(t, 'sha256sum')) {
      const sidecars = readdirSync(dir).filter((f) => f.endsWith(SIDECAR_SUFFIX) && f !== 'unknown.sha256' && f !== ORPHAN_OTHER);
      assert.equal(sidecars.length, 6); // app days 1, 5 and 6, other days 1-3
      run('sha256sum', ['-c', '--strict', ...sidecars], { cwd: dir });
    }
    // A second run has nothing left to do.
    const again = await prune(dir, policy(2), { dbName: 'app', now: NOW });
    assert.deepEqual([again.removed, again.removedSidecars, again.unverified], [[], [], [day(7)]]);
  });

  test('without dbName every database is pruned on its own; latestName protects too', async () => {
    const { dir } = setUp();
    const r = await prune(dir, policy(1), { latestName: day(3), now: NOW });
    assert.deepEqual(r.kept, ['db-backup-2026-10-01T00-00-00Z.db.gz', day(1), day(3), day(3, 'other'), day(6)]);
    assert.deepEqual(r.removed, [day(1, 'other'), day(2), day(2, 'other'), day(4), day(5)]);
    assert.deepEqual(r.unverified, [day(7)]);
    const left = readdirSync(dir);
    for (const f of ['notes.txt', 'app.lock', 'unknown.sha256', LATEST_FILE, `${day(8)}.tmp-0123456789ab`, `${day(8)}${SIDECAR_SUFFIX}.tmp-0123456789ab`]) {
      assert.ok(left.includes(f), `${f} untouched`);
    }
    assert.ok(!left.includes(ORPHAN) && !left.includes(ORPHAN_OTHER), 'orphan sidecars of both databases removed');
    assert.ok(r.removedSidecars.includes(ORPHAN) && r.removedSidecars.includes(ORPHAN_OTHER));
  });

  test('keepLast 0 turns pruning off: nothing is removed, not even orphan sidecars', async () => {
    const { dir, files } = setUp();
    const r = await prune(dir, policy(0, 1, 1), { now: NOW });
    assert.deepEqual([r.removed, r.removedSidecars], [[], []]);
    assert.equal(r.kept.length, 10);
    assert.deepEqual(r.unverified, [day(7)], 'kept, but not counted as a backup');
    assert.deepEqual(readdirSync(dir).sort(), files);
  });

  test('a tampered latest.txt stops prune before it removes anything; a missing dir is a no-op', async () => {
    const { dir, files } = setUp();
    writeFileSync(join(dir, LATEST_FILE), `../${day(1)}`);
    await assert.rejects(prune(dir, policy(1)), (e: unknown) => isBackupError(e, 'EBACKUP_NOT_FOUND') && e.path === join(dir, LATEST_FILE));
    assert.deepEqual(readdirSync(dir).sort(), files);
    assert.deepEqual(await prune(join(root, 'missing'), policy(1)), {
      removed: [],
      kept: [],
      removedSidecars: [],
      unverified: [],
      adopted: [],
      discarded: [],
      dryRun: false,
    });
  });
});
