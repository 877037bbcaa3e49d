/**
 * Many databases from one config, in the restinpieces-backup shape: upstream's names and latest-
 * link, both strategies and both compression settings checked by the native sqlite3, frequency
 * ("not due"), a failing entry among good ones, per-entry retention, the nested [backup] form and
 * the refusal of a file mixing both shapes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { isBackupError } from '../src/errors.js';
import { backupEntries } from '../src/api/backup-entries.js';
import { parseConfig, requireBackupConfig } from '../src/config/config.js';
import { createWithCli, nativeCheck, nativeDump } from './helpers/databases.js';
import { requirePeer, run } from './helpers/peers.js';
import { startCli } from './helpers/cli-daemon.js';
import { tempDir } from './helpers/tmp.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const sb = (args: string[]) => run(process.execPath, [cli, ...args], { allowFail: true });
const root = tempDir();
let n = 0;
function fresh(): string {
  const d = join(root, `c${++n}`);
  mkdirSync(d);
  return d;
}
const jsonLines = (stdout: string) => stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const TS = String.raw`\d{8}T\d{6}Z`;

describe('config: the restinpieces-backup shape', () => {
  it('entries with upstream defaults: compression false, no retention keys keep everything', () => {
    const c = parseConfig(
      '[vacuum.app]\nsource_path = "/data/app.db"\ndest_path = "/data/backups"\nfrequency = "24h"\n' +
        '[online.logs]\nsource_path = "logs.db"\ndest_path = "b"\nfrequency = "6h"\npages_per_step = 7\nsleep_interval = "5ms"\ncompression = true\nkeep_last = 3\n',
      { baseDir: '/base' },
    );
    assert.equal(c.sourcePath, undefined);
    assert.deepEqual(
      c.entries!.map((e) => [e.label, e.strategy, e.dbName, e.sourcePath, e.destPath, e.frequencyMs, e.compression, e.pagesPerStep, e.sleepIntervalMs, e.keepLast]),
      [
        ['app', 'vacuum', 'app-app.db', '/data/app.db', '/data/backups', 86_400_000, false, 100, 10, 0],
        ['logs', 'online', 'logs-logs.db', '/base/logs.db', '/base/b', 21_600_000, true, 7, 5, 3],
      ],
    );
    const nested = parseConfig('[backup.vacuum.app]\nsource_path = "/a.db"\ndest_path = "/d"\n');
    assert.equal(nested.entries![0]!.dbName, 'app-a.db');
    // The single-database API says what to call instead of "source_path: required".
    assert.throws(() => requireBackupConfig(nested), (e: unknown) => isBackupError(e, 'ECONFIG') && /run them with backupEntries/.test(e.message));
  });

  it('refuses a file mixing both shapes, saying why; entry mistakes are named', () => {
    const refused = (text: string, re: RegExp) =>
      assert.throws(() => parseConfig(text), (e: unknown) => isBackupError(e, 'ECONFIG') && re.test(e.message), text);
    const entry = '[vacuum.app]\nsource_path = "/a.db"\ndest_path = "/d"\n';
    refused(`source_path = "/x.db"\nbackup_dir = "/b"\n${entry}`, /mixes two config shapes.*\(source_path, backup_dir\)/);
    refused(`[db_backup_config]\nsource_path = "/x.db"\n${entry}`, /mixes two config shapes.*\[db_backup_config\]/);
    refused(`verify = "quick"\n[backup.vacuum.app]\nsource_path = "/a.db"\ndest_path = "/d"\n`, /mixes two config shapes/);
    refused(`${entry}pages_per_step = 5\n`, /vacuum\.app\.pages_per_step.*only used by \[online/);
    refused('[online.x]\nsource_path = "/a.db"\n', /online\.x\.dest_path.*required/);
    refused(`${entry}backup_dir = "/e"\n`, /did you mean "vacuum\.app\.dest_path"/);
    refused('[vacuum.a-b]\nsource_path = "/c.db"\ndest_path = "/d"\n[online.a]\nsource_path = "/b-c.db"\ndest_path = "/d"\n', /same file names \("a-b-c\.db-<time>/);
    refused('[vacuum."my app"]\nsource_path = "/c.db"\ndest_path = "/d"\n', /letters, digits/);
  });
});

describe('backup --config with many entries', () => {
  it('both strategies, plain and gzip: upstream names, sidecars, the latest- hard link, native sqlite3 agrees; a second run is not due', (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const d = fresh();
    createWithCli(join(d, 'app.db'));
    createWithCli(join(d, 'logs.db'), { journalMode: 'wal', rows: 50 });
    const entries = [
      ['vacuum', 'app', 'app.db', false],
      ['vacuum', 'appz', 'app.db', true],
      ['online', 'logs', 'logs.db', false],
      ['online', 'logsz', 'logs.db', true],
    ] as const;
    const config = entries
      .map(([s, label, src, gz]) => `[${s}.${label}]\nsource_path = "${src}"\ndest_path = "backups"\nfrequency = "1h"\ncompression = ${gz}\n`)
      .join('');
    writeFileSync(join(d, 'c.toml'), config);
    const first = sb(['backup', '--config', join(d, 'c.toml'), '--json']);
    assert.equal(first.status, 0, first.stderr);
    const results = jsonLines(first.stdout);
    assert.deepEqual(results.map((r) => [r.label, r.status, r.ok]), entries.map(([, label]) => [label, 'published', true]));
    const dir = join(d, 'backups');
    const scratch = fresh();
    for (const [i, [, label, src, gz]] of entries.entries()) {
      const r = results[i]!;
      assert.match(r.name, new RegExp(`^${label}-${src.replace('.', '\\.')}-${TS}${gz ? '\\.bck\\.gz' : '\\.db'}$`));
      const file = join(dir, r.name);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(readFileSync(`${file}.sha256`, 'utf8'), `${sha(file)}  ${r.name}\n`);
      let db = file;
      if (gz) {
        db = join(scratch, `${label}.db`);
        writeFileSync(db, gunzipSync(readFileSync(file)));
      }
      assert.ok(nativeCheck(db, scratch), `${r.name}: native integrity_check`);
      assert.equal(nativeDump(db, scratch), nativeDump(join(d, src), scratch), `${r.name}: .dump equals the source's`);
      const link = join(dir, `latest-${label}-${src}`);
      if (gz) assert.ok(!existsSync(link), 'no latest- link for compressed snapshots');
      else assert.equal(statSync(link).ino, statSync(file).ino, `${link} is a hard link to the newest .db`);
    }
    assert.ok(!existsSync(join(dir, 'latest.txt')), 'no latest.txt in a directory several databases share');
    const before = readdirSync(dir).sort();
    const second = sb(['backup', '--config', join(d, 'c.toml'), '--no-timestamps']);
    assert.equal(second.status, 0, second.stderr);
    assert.equal(second.stdout.match(/^\[(vacuum|online)\.\w+\] not due/gm)?.length, 4, second.stdout);
    assert.deepEqual(readdirSync(dir).sort(), before, 'a run inside frequency writes nothing');
  });

  it('a failing entry does not stop the others: exit 1, the others published', (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const d = fresh();
    createWithCli(join(d, 'app.db'), { rows: 20 });
    writeFileSync(
      join(d, 'c.toml'),
      '[vacuum.a]\nsource_path = "app.db"\ndest_path = "b"\n' +
        '[vacuum.broken]\nsource_path = "missing.db"\ndest_path = "b"\n' +
        '[online.c]\nsource_path = "app.db"\ndest_path = "b"\ncompression = true\n',
    );
    const r = sb(['backup', '-c', join(d, 'c.toml'), '--json']);
    assert.equal(r.status, 1, r.stderr);
    const results = jsonLines(r.stdout);
    assert.deepEqual(results.map((x) => [x.label, x.status, x.ok]), [['a', 'published', true], ['broken', 'failed', false], ['c', 'published', true]]);
    assert.equal(results[1]!.error.code, 'ESOURCE_NOT_FOUND');
    assert.match(r.stderr, /missing\.db" does not exist \[ESOURCE_NOT_FOUND\]/);
    assert.deepEqual(
      readdirSync(join(d, 'b')).filter((f) => !f.endsWith('.sha256')).map((f) => f.replace(new RegExp(TS), 'TS')).sort(),
      ['a-app.db-TS.db', 'c-app.db-TS.bck.gz', 'latest-a-app.db'],
    );
  });

  it('the nested [backup] form, and a mixed-shape file refused with exit 2', (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const d = fresh();
    createWithCli(join(d, 'app.db'), { rows: 5 });
    writeFileSync(join(d, 'nested.toml'), '[backup.vacuum.app]\nsource_path = "app.db"\ndest_path = "b"\ncompression = true\n');
    const ok = sb(['backup', '-c', join(d, 'nested.toml'), '--no-timestamps']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`^\\[vacuum\\.app\\] published .*/app-app\\.db-${TS}\\.bck\\.gz$`, 'm'));
    writeFileSync(join(d, 'mixed.toml'), 'source_path = "app.db"\nbackup_dir = "x"\n[vacuum.app]\nsource_path = "app.db"\ndest_path = "b"\n');
    const mixed = sb(['backup', '-c', join(d, 'mixed.toml')]);
    assert.equal(mixed.status, 2, mixed.stderr);
    assert.match(mixed.stderr, /mixes two config shapes/);
    assert.ok(!existsSync(join(d, 'x')));
  });
});

describe('backup --every with entries', () => {
  it('a tick runs what is due: one backup, then "not due" until the frequency has passed; SIGTERM stops with exit 0', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const d = fresh();
    createWithCli(join(d, 'app.db'), { rows: 5 });
    writeFileSync(join(d, 'c.toml'), '[vacuum.app]\nsource_path = "app.db"\ndest_path = "b"\nfrequency = "1h"\n');
    const run = startCli(t, ['backup', '-c', join(d, 'c.toml'), '--every', '300ms', '--jitter', '0', '--json']);
    await run.waitFor('two not-due ticks', () => (run.stdout.match(/"not-due"/g)?.length ?? 0) >= 2);
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0, run.stderr);
    const statuses = jsonLines(run.stdout).map((r) => r.status);
    assert.equal(statuses[0], 'published', run.stdout);
    assert.ok(statuses.slice(1).length >= 2 && statuses.slice(1).every((s) => s === 'not-due'), run.stdout);
    assert.equal(readdirSync(join(d, 'b')).filter((f) => /Z\.db$/.test(f)).length, 1);
  });
});

describe('backupEntries (API)', () => {
  it('frequency, the latest- link moving to the newest, and retention per entry', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const d = fresh();
    createWithCli(join(d, 'app.db'), { rows: 5 });
    const config = parseConfig(
      '[vacuum.kept]\nsource_path = "app.db"\ndest_path = "b"\nfrequency = "1h"\n' +
        '[vacuum.one]\nsource_path = "app.db"\ndest_path = "b"\nkeep_last = 1\n',
      { baseDir: d },
    );
    const at = (iso: string) => ({ now: () => new Date(iso) });
    const r1 = await backupEntries(config, at('2026-01-01T00:00:00Z'));
    assert.deepEqual(r1.map((o) => o.status), ['published', 'published']);
    const r2 = await backupEntries(config, at('2026-01-01T00:59:59Z'));
    assert.deepEqual(r2.map((o) => [o.status, o.newest, o.dueAt?.toISOString()]), [
      ['not-due', 'kept-app.db-20260101T000000Z.db', '2026-01-01T01:00:00.000Z'],
      ['published', undefined, undefined],
    ]);
    const r3 = await backupEntries(config, at('2026-01-01T01:00:00Z'));
    assert.deepEqual(r3.map((o) => [o.status, o.result?.name, o.result?.pruned]), [
      ['published', 'kept-app.db-20260101T010000Z.db', []],
      ['published', 'one-app.db-20260101T010000Z.db', ['one-app.db-20260101T005959Z.db']],
    ]);
    const b = join(d, 'b');
    assert.deepEqual(readdirSync(b).filter((f) => !f.endsWith('.sha256')).sort(), [
      'kept-app.db-20260101T000000Z.db',
      'kept-app.db-20260101T010000Z.db',
      'latest-kept-app.db',
      'latest-one-app.db',
      'one-app.db-20260101T010000Z.db',
    ]);
    assert.equal(statSync(join(b, 'latest-kept-app.db')).ino, statSync(join(b, 'kept-app.db-20260101T010000Z.db')).ino);
    assert.equal(statSync(join(b, 'latest-kept-app.db')).nlink, 2);
    assert.equal(statSync(join(b, 'kept-app.db-20260101T000000Z.db')).nlink, 1, 'the older snapshot is no longer linked');
    // The same second again: refused, never overwritten.
    const again = await backupEntries(config, at('2026-01-01T01:00:00Z'));
    assert.equal(again[1]!.status, 'failed');
    assert.ok(isBackupError(again[1]!.error, 'EDEST_EXISTS'), String(again[1]!.error));
  });
});
