/**
 * The backup job end to end on real files: the directory layout of the README's "The backup directory" exactly, permissions,
 * latest.txt, sidecars checked by sha256sum, contents checked by the native sqlite3 CLI, retention,
 * refusals, Go-layout directories, the job handler. Crash and disk-full runs: backup-crash/-diskfull.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  backup,
  createBackupHandler,
  listBackups,
  parseConfig,
  pickLatest,
  restore,
  verify,
  WasmEngine,
  isBackupError,
  ErrorCode,
  JOB_TYPE,
  type Config,
} from '../src/index.js';
import { tempDir } from './helpers/tmp.js';
import { requirePeer, run, sqlite3 } from './helpers/peers.js';
import {
  corruptBtreePage,
  createLarge,
  createWalWithUncheckpointedFrames,
  createWithCli,
  fingerprint,
  nativeDump,
} from './helpers/databases.js';

const NAME = /^app-\d{8}T\d{6}\.\d{3}Z-(vacuum|online)(-\d+)?\.db\.gz$/;

function config(dir: string, extra = ''): Config {
  return parseConfig(`source_path = "app.db"\nbackup_dir = "backups"\n${extra}`, { baseDir: dir });
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

/** gunzip with the system gzip and dump with the system sqlite3: two independent tools. */
function dumpOfBackup(gz: string, scratch: string): string {
  const db = join(scratch, `unzipped-${Math.random().toString(16).slice(2)}.db`);
  run('sh', ['-c', 'gzip -dc "$1" > "$2"', 'sh', gz, db]);
  return sqlite3(db, '.dump').stdout;
}

describe('backup job', () => {
  const root = tempDir();
  const engine = new WasmEngine();
  after(() => engine.close());
  let n = 0;
  const project = (): string => {
    const d = join(root, `p${n++}`);
    mkdirSync(d);
    return d;
  };

  it('one backup: exactly <name>.db.gz, its .sha256 and latest.txt; 0600 files in a 0700 dir; contents equal', async (t) => {
    if (!requirePeer(t, 'sqlite3') || !requirePeer(t, 'gzip') || !requirePeer(t, 'sha256sum')) return;
    const dir = project();
    createWithCli(join(dir, 'app.db'), { rows: 300 });
    const before = fingerprint(join(dir, 'app.db'));
    const r = await backup(config(dir), { engine });
    const backups = join(dir, 'backups');
    assert.match(r.name, NAME);
    assert.deepEqual(readdirSync(backups).sort(), [r.name, `${r.name}.sha256`, 'latest.txt'].sort());
    assert.equal(readFileSync(join(backups, 'latest.txt'), 'utf8'), r.name, 'latest.txt holds exactly the name');
    assert.equal(mode(backups), 0o700);
    for (const f of readdirSync(backups)) assert.equal(mode(join(backups, f)), 0o600, f);
    run('sha256sum', ['-c', `${r.name}.sha256`], { cwd: backups });
    assert.equal(statSync(r.path).size, r.gzBytes);
    assert.equal(r.strategy, 'vacuum');
    assert.equal(r.integrity, 'full');
    assert.equal(dumpOfBackup(r.path, dir), nativeDump(join(dir, 'app.db'), project()));
    assert.deepEqual(fingerprint(join(dir, 'app.db')), before, 'the source is never written');
  });

  it('many backups: unique names within one millisecond, retention keeps keep_last, latest is the newest', async (t) => {
    if (!requirePeer(t, 'sqlite3') || !requirePeer(t, 'sha256sum')) return;
    const dir = project();
    createWithCli(join(dir, 'app.db'), { rows: 20 });
    const frozen = new Date('2026-11-25T19:30:12.345Z');
    const names: string[] = [];
    for (let i = 0; i < 5; i++) names.push((await backup(config(dir, 'keep_last = 3'), { engine, now: () => frozen })).name);
    assert.deepEqual(names, [
      'app-20261125T193012.345Z-vacuum.db.gz',
      'app-20261125T193012.345Z-vacuum-2.db.gz',
      'app-20261125T193012.345Z-vacuum-3.db.gz',
      'app-20261125T193012.345Z-vacuum-4.db.gz',
      'app-20261125T193012.345Z-vacuum-5.db.gz',
    ]);
    const backups = join(dir, 'backups');
    const kept = names.slice(2);
    assert.deepEqual(readdirSync(backups).sort(), [...kept, ...kept.map((k) => `${k}.sha256`), 'latest.txt'].sort());
    assert.equal(readFileSync(join(backups, 'latest.txt'), 'utf8'), names[4]);
    run('sha256sum', ['-c', ...kept.map((k) => `${k}.sha256`)], { cwd: backups });
  });

  it('online strategy with quick verify, from a WAL source whose last commit is only in the -wal', async (t) => {
    if (!requirePeer(t, 'python3') || !requirePeer(t, 'sqlite3')) return;
    const dir = project();
    createWalWithUncheckpointedFrames(join(dir, 'app.db'));
    const before = fingerprint(join(dir, 'app.db'));
    const r = await backup(config(dir, 'strategy = "online"\nverify = "quick"\npages_per_step = 7\nsleep_interval = "0s"'), { engine });
    assert.match(r.name, /-online\.db\.gz$/);
    assert.equal(r.integrity, 'quick');
    const restored = join(dir, 'restored.db');
    await restore(r.path, restored, { engine });
    assert.equal(sqlite3(restored, "SELECT count(*) FROM audit WHERE at = 'only-in-wal'").stdout.trim(), '1');
    assert.deepEqual(fingerprint(join(dir, 'app.db')), before, 'db, -wal and -shm untouched');
  });

  it('online: sleep_interval is accepted and has no effect (the steps copy a private copy nobody waits for)', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const dir = project();
    createWithCli(join(dir, 'app.db'), { rows: 300 });
    const pages = Number(sqlite3(join(dir, 'app.db'), 'PRAGMA page_count').stdout.trim());
    assert.ok(pages >= 20, `${pages} pages`);
    // One page per step and a pause of 1 s after each: honoured, that would take `pages` seconds.
    const started = Date.now();
    const r = await backup(config(dir, 'strategy = "online"\npages_per_step = 1\nsleep_interval = "1s"'), { engine });
    const ms = Date.now() - started;
    assert.match(r.name, /-online\.db\.gz$/);
    assert.ok(ms < (pages * 1000) / 2, `${ms} ms for ${pages} pages`);
  });

  it('missing source: ESOURCE_NOT_FOUND and no backup directory created; not a database: ENOTADB, nothing left', async () => {
    const dir = project();
    await assert.rejects(backup(config(dir), { engine }), (e: unknown) => isBackupError(e, ErrorCode.SOURCE_NOT_FOUND));
    assert.deepEqual(readdirSync(dir), []);
    writeFileSync(join(dir, 'app.db'), 'not a database at all, just text'.repeat(20));
    await assert.rejects(backup(config(dir), { engine }), (e: unknown) => isBackupError(e, ErrorCode.NOT_A_DATABASE));
    assert.deepEqual(readdirSync(dir).sort(), ['app.db']);
  });

  it('a damaged source: the snapshot fails integrity_check, nothing is published, the previous backup stays', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const dir = project();
    const src = join(dir, 'app.db');
    sqlite3(src, `CREATE TABLE t(x TEXT); CREATE INDEX t_x ON t(x);
      WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000) INSERT INTO t SELECT hex(randomblob(20)) FROM c;`);
    const first = await backup(config(dir, 'strategy = "online"'), { engine });
    // Scribble over a page of the index (the table stays readable): the online backup copies the
    // page as it is, and only the integrity check of the snapshot can notice.
    corruptBtreePage(src, 't_x', { fromEnd: 300 });
    await assert.rejects(backup(config(dir, 'strategy = "online"'), { engine }), (e: unknown) => {
      assert.ok(isBackupError(e, ErrorCode.INTEGRITY), String(e));
      assert.match((e as Error).message, /nothing was published/);
      return true;
    });
    const backups = join(dir, 'backups');
    assert.deepEqual(readdirSync(backups).sort(), [first.name, `${first.name}.sha256`, 'latest.txt'].sort());
    assert.equal(readFileSync(join(backups, 'latest.txt'), 'utf8'), first.name);
  });

  it('abort during compression: EABORTED, the directory is as before', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const dir = project();
    createLarge(join(dir, 'app.db'), 12);
    const first = await backup(config(dir), { engine });
    const ac = new AbortController();
    const p = backup(config(dir), {
      engine,
      signal: ac.signal,
      onProgress: (pr) => pr.phase === 'compress' && pr.bytesDone && ac.abort(),
    });
    await assert.rejects(p, (e: unknown) => isBackupError(e, ErrorCode.ABORTED));
    const backups = join(dir, 'backups');
    assert.deepEqual(readdirSync(backups).sort(), [first.name, `${first.name}.sha256`, 'latest.txt'].sort());
  });

  it('a directory written by the Go versions is listed, restorable, and gets our backups next to its own', async (t) => {
    if (!requirePeer(t, 'sqlite3') || !requirePeer(t, 'gzip')) return;
    const dir = project();
    const backups = join(dir, 'backups');
    mkdirSync(backups);
    const go1 = join(dir, 'go1.db');
    const go2 = join(dir, 'go2.db');
    sqlite3(go1, "CREATE TABLE v(x); INSERT INTO v VALUES ('go v1');");
    sqlite3(go2, "CREATE TABLE v(x); INSERT INTO v VALUES ('go upstream');");
    const gz = (src: string, name: string): void => void run('sh', ['-c', 'gzip -c "$1" > "$2"', 'sh', src, join(backups, name)]);
    gz(go1, 'db-backup-2025-01-02T15-04-05Z.db.gz');
    gz(go2, 'app-2025-03-04T05-06-07Z-online.bck.gz');
    writeFileSync(join(backups, 'latest.txt'), 'db-backup-2025-01-02T15-04-05Z.db.gz'); // Go wrote no newline
    const listed = await listBackups(backups);
    assert.deepEqual(
      listed.map((e) => [e.name, e.layout, e.isLatest]),
      [
        ['db-backup-2025-01-02T15-04-05Z.db.gz', 'go-v1', true],
        ['app-2025-03-04T05-06-07Z-online.bck.gz', 'go-upstream', false],
      ],
    );
    assert.equal((await pickLatest(backups))?.name, 'db-backup-2025-01-02T15-04-05Z.db.gz');
    for (const [name, text] of [
      ['db-backup-2025-01-02T15-04-05Z.db.gz', 'go v1'],
      ['app-2025-03-04T05-06-07Z-online.bck.gz', 'go upstream'],
    ] as const) {
      assert.equal((await verify(join(backups, name), { engine })).ok, true);
      const target = join(dir, `restored-${text.replace(' ', '-')}.db`);
      await restore(join(backups, name), target, { engine });
      assert.equal(sqlite3(target, 'SELECT x FROM v').stdout.trim(), text);
    }
    createWithCli(join(dir, 'app.db'), { rows: 10 });
    const ours = await backup(config(dir), { engine });
    assert.equal(readFileSync(join(backups, 'latest.txt'), 'utf8'), ours.name);
    assert.deepEqual(
      (await listBackups(backups)).map((e) => e.name),
      ['db-backup-2025-01-02T15-04-05Z.db.gz', 'app-2025-03-04T05-06-07Z-online.bck.gz', ours.name],
      'the Go files are kept, ours is the newest',
    );
  });

  it(`job handler: "${JOB_TYPE}" jobs from a config file, wrong job types refused, abort honoured`, async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const dir = project();
    createWithCli(join(dir, 'app.db'), { rows: 10 });
    const file = join(dir, 'backup.toml');
    writeFileSync(file, 'source_path = "app.db"\nbackup_dir = "backups"\n');
    const handler = createBackupHandler(file, { engine });
    const r = await handler.handle({ type: JOB_TYPE, id: 1 });
    if (Array.isArray(r)) assert.fail('a single-database config resolves with one BackupResult');
    assert.equal(readFileSync(join(dir, 'backups', 'latest.txt'), 'utf8'), r.name);
    await assert.rejects(handler.handle({ type: 'send_mail' }), (e: unknown) => isBackupError(e, ErrorCode.CONFIG));
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(handler.handle({ type: JOB_TYPE }, { signal: ac.signal }), (e: unknown) => isBackupError(e, ErrorCode.ABORTED));
    assert.equal(readdirSync(join(dir, 'backups')).length, 3, 'still one backup, its sidecar and latest.txt');
  });
});
