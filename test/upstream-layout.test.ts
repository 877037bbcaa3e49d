/**
 * verify, restore, list and prune of a directory as restinpieces-backup (2026) writes it - several
 * databases, `<label>-<basename>-<ts>.bck.gz` and plain `<label>-<basename>-<ts>.db` snapshots, a
 * `latest-<label>-<basename>` hard link, no latest.txt, no sidecars - made by the native sqlite3 and
 * gzip (test/helpers/upstream-layout.ts) and judged by the native sqlite3 (integrity_check, `.dump`).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ErrorCode, isBackupError, prune, restore, verify, listBackups } from '../src/index.js';
import { createWithCli, nativeCheck, nativeDump } from './helpers/databases.js';
import { requirePeer, run, sqlite3 } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';
import { addUpstreamSnapshot } from './helpers/upstream-layout.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const sb = (args: string[]) => run(process.execPath, [cli, '--no-timestamps', ...args], { allowFail: true });

function peers(t: TestContext): boolean {
  return requirePeer(t, 'sqlite3') && requirePeer(t, 'gzip');
}

describe('a restinpieces-backup directory', () => {
  const root = tempDir();
  let n = 0;
  /**
   * app: compressed at 01, plain at 02 (the link's target, newest); logs: plain at 01. Returns the
   * directory and the `.dump` of app as each snapshot saw it.
   */
  function layout(): { dir: string; app: string; logs: string; dumps: Record<string, string> } {
    const here = join(root, `case-${n++}`);
    mkdirSync(here);
    const app = join(here, 'app.db');
    const logs = join(here, 'logs.db');
    createWithCli(app, { rows: 120 });
    createWithCli(logs, { rows: 20 });
    const dir = join(here, 'backups');
    const dumps: Record<string, string> = {};
    const older = addUpstreamSnapshot(dir, 'app', app, '20260101T000000Z', true);
    dumps[older] = nativeDump(app, here);
    sqlite3(app, "INSERT INTO audit VALUES ('after the first snapshot', 'x');");
    const newer = addUpstreamSnapshot(dir, 'app', app, '20260102T000000Z', false);
    dumps[newer] = nativeDump(app, here);
    addUpstreamSnapshot(dir, 'logs', logs, '20260101T060000Z', false);
    return { dir, app, logs, dumps };
  }

  it('verify: a .bck.gz and a plain .db without sidecars are ok; the directory needs a database name when it holds several', async (t) => {
    if (!peers(t)) return;
    const { dir } = layout();
    const gz = await verify(join(dir, 'app-app.db-20260101T000000Z.bck.gz'));
    assert.deepEqual([gz.ok, gz.compressed, gz.checksum], [true, true, 'absent'], gz.messages.join('; '));
    const plain = await verify(join(dir, 'app-app.db-20260102T000000Z.db'));
    assert.deepEqual([plain.ok, plain.compressed, plain.checksum], [true, false, 'absent'], plain.messages.join('; '));
    await assert.rejects(verify(dir), (e: unknown) => {
      assert.ok(isBackupError(e, ErrorCode.BACKUP_NOT_FOUND), String(e));
      assert.match((e as Error).message, /several databases.*app-app\.db.*logs-logs\.db.*--db/);
      return true;
    });
    const chosen = await verify(dir, { dbName: 'app-app.db' });
    assert.deepEqual([chosen.ok, chosen.path, chosen.chosenBy], [true, join(dir, 'app-app.db-20260102T000000Z.db'), 'newest']);
    const cliRun = sb(['verify', dir]);
    assert.equal(cliRun.status, 1);
    assert.match(cliRun.stderr, /several databases .*: pass --db <name>.*\[EBACKUP_NOT_FOUND\]/);
    const ok = sb(['verify', dir, '--db', 'logs-logs.db']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^ok: .*logs-logs\.db-20260101T060000Z\.db \(\d+ pages, no sidecar\)$/m);
  });

  it('restore: the newest of a database from the directory, a .bck.gz and a plain .db, equal to the source (native .dump)', async (t) => {
    if (!peers(t)) return;
    const { dir, app, dumps } = layout();
    const out = join(dir, '..', 'out');
    mkdirSync(out);
    await assert.rejects(restore(dir, join(out, 'x.db')), /several databases/);
    const r = await restore(dir, join(out, 'newest.db'), { dbName: 'app-app.db' });
    assert.equal(r.backup, join(dir, 'app-app.db-20260102T000000Z.db'));
    assert.ok(nativeCheck(join(out, 'newest.db'), out));
    assert.equal(nativeDump(join(out, 'newest.db'), out), nativeDump(app, out));
    for (const name of Object.keys(dumps)) {
      const target = join(out, `${name}.restored`);
      await restore(join(dir, name), target);
      assert.ok(nativeCheck(target, out), name);
      assert.equal(nativeDump(target, out), dumps[name], name);
      assert.equal(statSync(target).mode & 0o777, 0o600);
    }
    const cliRun = sb(['restore', dir, join(out, 'cli.db'), '--db', 'app-app.db']);
    assert.equal(cliRun.status, 0, cliRun.stderr);
    assert.equal(nativeDump(join(out, 'cli.db'), out), nativeDump(app, out));
    // The source and the backup directory are untouched.
    assert.deepEqual(readdirSync(dir).sort(), [
      'app-app.db-20260101T000000Z.bck.gz',
      'app-app.db-20260102T000000Z.db',
      'latest-app-app.db',
      'latest-logs-logs.db',
      'logs-logs.db-20260101T060000Z.db',
    ]);
  });

  it('list: every snapshot by database (the latest-* links are not backups of their own)', async (t) => {
    if (!peers(t)) return;
    const { dir } = layout();
    const all = await listBackups(dir);
    assert.deepEqual(
      all.map((e) => [e.dbName, e.name]),
      [
        ['app-app.db', 'app-app.db-20260101T000000Z.bck.gz'],
        ['logs-logs.db', 'logs-logs.db-20260101T060000Z.db'],
        ['app-app.db', 'app-app.db-20260102T000000Z.db'],
      ],
    );
    const json = JSON.parse(sb(['list', dir, '--json']).stdout) as { backups: { name: string; dbName: string; latestLink?: string }[] };
    assert.deepEqual(json.backups.map((b) => b.name).sort(), all.map((e) => e.name).sort());
    assert.deepEqual(
      json.backups.filter((b) => b.latestLink !== undefined).map((b) => [b.name, b.latestLink]),
      [
        ['logs-logs.db-20260101T060000Z.db', 'latest-logs-logs.db'],
        ['app-app.db-20260102T000000Z.db', 'latest-app-app.db'],
      ],
    );
    assert.match(sb(['list', dir]).stdout, /app-app\.db-20260102T000000Z\.db {2}\(= latest-app-app\.db, no sidecar, rib\)$/m);
    const app = JSON.parse(sb(['list', dir, '--db', 'app-app.db', '--json']).stdout) as { backups: { name: string }[] };
    assert.equal(app.backups.length, 2);
  });

  it('prune: per database; never the file a latest-* link points to, nor the link; no policy keeps everything', async (t) => {
    if (!peers(t)) return;
    const { dir, app } = layout();
    // Two compressed snapshots after the plain one: the link still points to the plain one (02).
    sqlite3(app, "INSERT INTO audit VALUES ('third', 'x');");
    addUpstreamSnapshot(dir, 'app', app, '20260103T000000Z', true);
    addUpstreamSnapshot(dir, 'app', app, '20260104T000000Z', true);
    const before = readdirSync(dir).sort();
    const none = sb(['prune', dir]);
    assert.equal(none.status, 2, none.stderr);
    assert.deepEqual(readdirSync(dir).sort(), before, 'no policy: nothing removed');

    const r = await prune(dir, { keepLast: 1, keepDaily: 0, keepWeekly: 0 }, { now: new Date('2026-02-01T00:00:00Z') });
    assert.deepEqual(r.removed, ['app-app.db-20260101T000000Z.bck.gz', 'app-app.db-20260103T000000Z.bck.gz']);
    assert.deepEqual(readdirSync(dir).sort(), [
      'app-app.db-20260102T000000Z.db',
      'app-app.db-20260104T000000Z.bck.gz',
      'latest-app-app.db',
      'latest-logs-logs.db',
      'logs-logs.db-20260101T060000Z.db',
    ]);
    assert.equal(statSync(join(dir, 'latest-app-app.db')).ino, statSync(join(dir, 'app-app.db-20260102T000000Z.db')).ino);
    assert.ok(existsSync(join(dir, 'logs-logs.db-20260101T060000Z.db')), "one database's retention does not touch another's");
    const cliRun = sb(['prune', dir, '--keep-last', '1']);
    assert.equal(cliRun.status, 0, cliRun.stderr);
    assert.ok(existsSync(join(dir, 'app-app.db-20260102T000000Z.db')), 'the CLI keeps the link target too');
  });
});
