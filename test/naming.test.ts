/**
 * Backup file names: sanitizing, formatting, strict parsing of our layout and the two Go layouts
 * (python3's strftime is the independent writer of the reference names and times).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isBackupError } from '../src/errors.js';
import {
  backupFileName,
  compareBackups,
  formatTimestamp,
  isValidDbName,
  LATEST_FILE,
  formatRibTimestamp,
  isPlainBackup,
  parseBackupName,
  parseRibLatestLink,
  ribBackupFileName,
  ribDbName,
  ribLatestLinkName,
  sanitizeDbName,
  SIDECAR_SUFFIX,
} from '../src/format/naming.js';
import { python, requirePeer } from './helpers/peers.js';

const T = new Date(Date.UTC(2026, 10, 25, 19, 30, 12, 345));

describe('sanitizeDbName', () => {
  test('file name without its last extension, unsafe characters replaced', () => {
    const cases: [string, string][] = [
      ['app.db', 'app'],
      ['/var/data/app.db', 'app'],
      ['my data.sqlite3', 'my_data'],
      ['archive.v2.db', 'archive.v2'],
      ['my-app_1.sqlite', 'my-app_1'],
      ['noext', 'noext'],
      ['app.', 'app'],
      ['C:\\data\\app.db', 'app'],
      ['caf\u00e9 \u{1F600}.db', 'caf___'], // é, space, emoji: one `_` per code point, not per UTF-16 unit
      ['a;rm -rf $HOME.db', 'a_rm_-rf__HOME'],
    ];
    for (const [input, want] of cases) assert.equal(sanitizeDbName(input), want, input);
  });

  test('hidden files, dots and dashes in front, empty input', () => {
    assert.equal(sanitizeDbName('/x/.hidden'), 'hidden');
    assert.equal(sanitizeDbName('/x/.hidden.db'), 'hidden');
    assert.equal(sanitizeDbName('-rf.db'), 'rf');
    assert.equal(sanitizeDbName(''), 'db');
    assert.equal(sanitizeDbName('/x/'), 'db');
    assert.equal(sanitizeDbName('..'), 'db');
    assert.equal(sanitizeDbName('\u00fc.db'), '_');
  });

  test('never yields a name that looks like a temp file, never too long', () => {
    assert.equal(sanitizeDbName('x.tmp-1.db'), 'x_tmp-1');
    assert.equal(sanitizeDbName('x.tmp.sqlite'), 'x_tmp');
    const long = sanitizeDbName(`${'a'.repeat(97)}.tmp-and-more.db`);
    assert.equal(long.length, 100);
    assert.ok(!`${long}-`.includes('.tmp-'), long);
    for (const input of ['x.tmp-1.db', 'x.tmp.sqlite', `${'a'.repeat(97)}.tmp-and-more.db`, '.hidden', 'my data.db']) {
      const db = sanitizeDbName(input);
      assert.ok(isValidDbName(db), `${input} -> ${db}`);
      assert.equal(parseBackupName(backupFileName(db, T, 'vacuum'))?.dbName, db, input);
    }
  });
});

describe('backupFileName and formatTimestamp', () => {
  test('the documented examples', () => {
    assert.equal(formatTimestamp(T), '20261125T193012.345Z');
    assert.equal(backupFileName('app', T, 'vacuum'), 'app-20261125T193012.345Z-vacuum.db.gz');
    assert.equal(backupFileName('app', T, 'vacuum', 1), 'app-20261125T193012.345Z-vacuum.db.gz');
    assert.equal(backupFileName('app', T, 'vacuum', 2), 'app-20261125T193012.345Z-vacuum-2.db.gz');
    assert.equal(formatTimestamp(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6))), '20260102T030405.006Z');
  });

  test('the timestamp is UTC and parses back with python3', (t) => {
    if (!requirePeer(t, 'python3')) return;
    const dates = [T, new Date(Date.UTC(1999, 11, 31, 23, 59, 59, 999)), new Date(Date.UTC(2028, 1, 29, 0, 0, 0, 1))];
    const out = python(
      'import sys, datetime\n' +
        'for s in sys.argv[1:]:\n' +
        '    d = datetime.datetime.strptime(s, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=datetime.timezone.utc)\n' +
        '    print(round(d.timestamp() * 1000))',
      dates.map(formatTimestamp),
    ).stdout.trim().split('\n');
    assert.deepEqual(out.map(Number), dates.map((d) => d.getTime()));
  });

  test('refuses what it could not parse back', () => {
    const bad: [() => string, string][] = [
      [() => backupFileName('my data', T, 'vacuum'), 'dbName with a space'],
      [() => backupFileName('', T, 'vacuum'), 'empty dbName'],
      [() => backupFileName('.app', T, 'vacuum'), 'hidden dbName'],
      [() => backupFileName('x.tmp', T, 'vacuum'), 'dbName that makes a temp-file name'],
      [() => backupFileName('a/b', T, 'vacuum'), 'path in dbName'],
      [() => backupFileName('app', T, 'Vacuum'), 'upper-case strategy'],
      [() => backupFileName('app', T, 'on-line'), 'strategy with a dash'],
      [() => backupFileName('app', T, 'vacuum', 0), 'counter 0'],
      [() => backupFileName('app', T, 'vacuum', 2.5), 'fractional counter'],
      [() => backupFileName('app', new Date(NaN), 'vacuum'), 'invalid date'],
      [() => formatTimestamp(new Date(Date.UTC(10000, 0, 1))), 'year 10000'],
    ];
    for (const [f, label] of bad) assert.throws(f, (e: unknown) => isBackupError(e, 'ECONFIG'), label);
  });
});

describe('parseBackupName', () => {
  test('round trips, dbNames with dashes and dots, counters', () => {
    const dbNames = ['app', 'my-app', 'my-app.v2', 'a-20261125T193012.345Z-vacuum', 'x-1', 'db-backup', '9', 'a_b'];
    for (const db of dbNames) {
      for (const strategy of ['vacuum', 'online']) {
        for (const counter of [1, 2, 17]) {
          const name = backupFileName(db, T, strategy, counter);
          assert.deepEqual(parseBackupName(name), { name, dbName: db, time: T, strategy, counter, layout: 'ours', encrypted: false }, name);
        }
      }
    }
  });

  test('Go v1 and Go upstream names written by python3 parse with the right times', (t) => {
    if (!requirePeer(t, 'python3')) return;
    const times = [Date.UTC(2025, 0, 2, 15, 4, 5), Date.UTC(2024, 1, 29, 23, 59, 59), Date.UTC(2000, 0, 1, 0, 0, 0)];
    const names = python(
      'import sys, datetime\n' +
        'for ms in sys.argv[1:]:\n' +
        '    ts = datetime.datetime.fromtimestamp(int(ms) / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H-%M-%SZ")\n' +
        '    print(f"db-backup-{ts}.db.gz")\n' +
        '    print(f"my-app.v2-{ts}-online.bck.gz")',
      times.map(String),
    ).stdout.trim().split('\n');
    times.forEach((ms, i) => {
      assert.deepEqual(parseBackupName(names[2 * i]!), {
        name: names[2 * i],
        dbName: undefined,
        time: new Date(ms),
        strategy: undefined,
        counter: 1,
        layout: 'go-v1',
        encrypted: false,
      });
      assert.deepEqual(parseBackupName(names[2 * i + 1]!), {
        name: names[2 * i + 1],
        dbName: 'my-app.v2',
        time: new Date(ms),
        strategy: 'online',
        counter: 1,
        layout: 'go-upstream',
        encrypted: false,
      });
    });
  });

  test('temp files, sidecars, the manifest, locks and junk are not backups', () => {
    const ours = backupFileName('app', T, 'vacuum');
    const junk = [
      `${ours}.tmp-0123456789ab`,
      `${ours}${SIDECAR_SUFFIX}`,
      `${ours}${SIDECAR_SUFFIX}.tmp-0123456789ab`,
      `x.tmp-1-20261125T193012.345Z-vacuum.db.gz`, // a dbName carrying the temp marker
      LATEST_FILE,
      'app.lock',
      'app.db',
      '',
      'README',
      `${ours}.bak`,
      `${ours}/`,
      `../${ours}`,
      `sub/${ours}`,
      ` ${ours}`,
      'app-20261125T193012.345Z-vacuum.db', // not gzipped
      'app-20261125T193012.345Z.db.gz', // no strategy
      'app-20261125T193012.34Z-vacuum.db.gz', // two-digit milliseconds
      'app-20261125T193012.345-vacuum.db.gz', // no Z
      'app-20261325T193012.345Z-vacuum.db.gz', // month 13
      'app-20260230T193012.345Z-vacuum.db.gz', // February 30
      'app-20261125T243012.345Z-vacuum.db.gz', // hour 24
      'app-20261125T193060.345Z-vacuum.db.gz', // second 60
      'app-20261125T193012.345Z-vacuum-1.db.gz', // we never write counter 1
      'app-20261125T193012.345Z-vacuum-02.db.gz', // nor a leading zero
      'app-20261125T193012.345Z-Vacuum.db.gz',
      '-20261125T193012.345Z-vacuum.db.gz', // empty dbName
      '.app-20261125T193012.345Z-vacuum.db.gz', // hidden
      'my app-20261125T193012.345Z-vacuum.db.gz', // unsanitized
      'db-backup-2025-01-02T15-04-05.db.gz', // Go v1 without Z
      'db-backup-2025-01-02T15:04:05Z.db.gz',
      'db-backup-2025-13-02T15-04-05Z.db.gz',
      'xdb-backup-2025-01-02T15-04-05Z.db.gz',
      'app-2025-01-02T15-04-05Z.bck.gz', // upstream without strategy
      'app-2025-01-02T15-04-05Z-online.bck', // not gzipped
      'my data-2025-01-02T15-04-05Z-online.bck.gz', // upstream with an unsafe base
      '-2025-01-02T15-04-05Z-online.bck.gz', // upstream from a `.hidden` source: empty base
      'app-2025-01-02T15-04-05Z-online.bck.gz.sha256',
    ];
    for (const name of junk) assert.equal(parseBackupName(name), undefined, JSON.stringify(name));
  });

  test('compareBackups orders by time, then counter, then name', () => {
    const names = [
      backupFileName('b', T, 'vacuum', 2),
      backupFileName('a', new Date(T.getTime() + 1), 'vacuum'),
      backupFileName('b', T, 'vacuum'),
      backupFileName('a', T, 'vacuum'),
      'db-backup-2026-11-25T19-30-12Z.db.gz',
    ];
    const sorted = names.map((n) => parseBackupName(n)!).sort(compareBackups).map((p) => p.name);
    assert.deepEqual(sorted, [
      'db-backup-2026-11-25T19-30-12Z.db.gz',
      'a-20261125T193012.345Z-vacuum.db.gz',
      'b-20261125T193012.345Z-vacuum.db.gz',
      'b-20261125T193012.345Z-vacuum-2.db.gz',
      'a-20261125T193012.346Z-vacuum.db.gz',
    ]);
  });
});

describe('restinpieces-backup (rib) layout', () => {
  const T0 = new Date(Date.UTC(2026, 0, 1, 0, 0, 0));

  test('names exactly as upstream: basename keeps its extension, whole seconds', () => {
    const db = ribDbName('app', '/data/app.db');
    assert.equal(db, 'app-app.db');
    assert.equal(ribBackupFileName(db, T0, true), 'app-app.db-20260101T000000Z.bck.gz');
    assert.equal(ribBackupFileName(db, T0, false), 'app-app.db-20260101T000000Z.db');
    assert.equal(ribBackupFileName(db, T, false), 'app-app.db-20261125T193012Z.db', 'milliseconds dropped');
    assert.equal(ribLatestLinkName(db), 'latest-app-app.db');
    assert.equal(formatRibTimestamp(T0), '20260101T000000Z');
  });

  test('encrypted names: .db.gz.age and .bck.gz.age parse with encrypted: true; nothing else takes .age', () => {
    const db = ribDbName('app', '/data/app.db');
    const rib = ribBackupFileName(db, T, true, { encrypted: true });
    assert.equal(rib, 'app-app.db-20261125T193012Z.bck.gz.age');
    assert.deepEqual(parseBackupName(rib), { name: rib, dbName: db, time: new Date(Math.floor(T.getTime() / 1000) * 1000), strategy: undefined, counter: 1, layout: 'rib', encrypted: true });
    assert.equal(isPlainBackup(parseBackupName(rib)!), false);
    const ours = backupFileName('app', T, 'vacuum', 2, { encrypted: true });
    assert.equal(ours, 'app-20261125T193012.345Z-vacuum-2.db.gz.age');
    assert.deepEqual(parseBackupName(ours), { name: ours, dbName: 'app', time: T, strategy: 'vacuum', counter: 2, layout: 'ours', encrypted: true });
    // Only gzip backups are encrypted: a plain rib .db, Go layouts, sidecars and temp files are not backups with .age.
    for (const name of ['app-app.db-20261125T193012Z.db.age', 'db-backup-2026-01-01T00-00-00Z.db.gz.age', `${ours}.sha256`, `${ours}.tmp-0123456789ab`, 'x.age', '.age']) {
      assert.equal(parseBackupName(name), undefined, name);
    }
    assert.throws(() => ribBackupFileName(db, T, false, { encrypted: true }), { code: 'ECONFIG' });
  });

  test('parsed from the right: dbName is everything left of the timestamp, dashes included', () => {
    for (const [label, src] of [
      ['app', '/data/app.db'],
      ['my-app', '/x/logs-2.sqlite3'],
      ['a', 'b-c.db'],
      ['latest', '/d/latest.db'],
      ['x', 'noext'],
    ] as const) {
      const db = ribDbName(label, src);
      for (const compressed of [true, false]) {
        const name = ribBackupFileName(db, T, compressed);
        const p = parseBackupName(name);
        assert.deepEqual(p, { name, dbName: db, time: new Date(Math.floor(T.getTime() / 1000) * 1000), strategy: undefined, counter: 1, layout: 'rib', encrypted: false }, name);
        assert.equal(isPlainBackup(p!), !compressed, name);
      }
      assert.equal(parseBackupName(ribLatestLinkName(db)), undefined, 'the link is not a backup');
      assert.equal(parseRibLatestLink(ribLatestLinkName(db)), db);
    }
    // The two readings of `a-b-c.db` are one dbName: the listing groups them together.
    assert.equal(ribDbName('a-b', 'c.db'), ribDbName('a', 'b-c.db'));
  });

  test('unambiguous against our layout and both Go layouts', () => {
    const cases: [string, string][] = [
      [backupFileName('app', T, 'vacuum'), 'ours'],
      ['db-backup-2025-01-02T15-04-05Z.db.gz', 'go-v1'],
      ['app-2025-01-02T15-04-05Z-online.bck.gz', 'go-upstream'],
      ['app-app.db-20250102T150405Z.bck.gz', 'rib'],
      ['app-app.db-20250102T150405Z.db', 'rib'],
      // a rib dbName that itself looks like our or Go's prefix stays one reading
      ['app-20250102T150405.123Z-vacuum.db.gz-x-20250102T150405Z.db', 'rib'],
    ];
    for (const [name, layout] of cases) assert.equal(parseBackupName(name)?.layout, layout, name);
    assert.equal(isPlainBackup(parseBackupName(backupFileName('app', T, 'vacuum'))!), false);
  });

  test('junk, temp files, sidecars and malformed rib names are not backups', () => {
    const junk = [
      'app-app.db-20250102T150405Z.db.sha256',
      'app-app.db-20250102T150405Z.bck.gz.sha256',
      'app-app.db-20250102T150405Z.db.tmp-0123456789ab',
      'latest-app-app.db',
      'latest-app-app.db.tmp-0123456789ab',
      'app-app.db-20250102T150405.123Z.db', // milliseconds: not rib
      'app-app.db-20250102T150405Z.bck', // not gzipped
      'app-app.db-20250102T150405Z.db.gz',
      'app-app.db-20251302T150405Z.db', // month 13
      'app-app.db-20250102T240405Z.db', // hour 24
      'app-app.db-2025012T150405Z.db',
      '-app.db-20250102T150405Z.db', // leading dash
      '.app-app.db-20250102T150405Z.db', // hidden
      'my app-app.db-20250102T150405Z.db', // unsafe character
      '20250102T150405Z.db', // no dbName
    ];
    for (const name of junk) assert.equal(parseBackupName(name), undefined, JSON.stringify(name));
    for (const name of ['latest-', 'latest-app.db.sha256', 'latest-x.tmp-0123456789ab', 'latest-a b', 'app-app.db', 'latest-app-app.db-20250102T150405Z.db']) {
      assert.equal(parseRibLatestLink(name), undefined, name);
    }
  });

  test('ribDbName refuses names we could not write safely', () => {
    for (const [label, src] of [
      ['', '/a.db'],
      ['app', '/data/'],
      ['my app', '/a.db'],
      ['app', '/d/caf\u00e9.db'],
      ['.x', '/a.db'],
      ['-x', '/a.db'],
      ['x', '/d/a.tmp-1.db'],
      ['x', `/d/${'a'.repeat(100)}.db`],
      ['x', '/d/y-20250102T150405Z.db'], // its latest- link would read as a backup
    ] as const) {
      assert.throws(() => ribDbName(label, src), (e: unknown) => isBackupError(e, 'ECONFIG'), `${label} ${src}`);
    }
  });
});
