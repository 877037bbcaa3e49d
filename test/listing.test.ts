/**
 * latest.txt (read/write, tampered content), directory listing and pickLatest on real temp dirs
 * holding our names, both Go layouts, temp files, other databases and junk.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { isBackupError } from '../src/errors.js';
import { readLatest, writeLatest } from '../src/format/manifest.js';
import { listBackups, pickLatest } from '../src/api/listing.js';
import { backupFileName, LATEST_FILE, SIDECAR_SUFFIX } from '../src/format/naming.js';
import { listStore } from '../src/store/listing.js';
import { LocalTransport } from '../src/transport/local/local.js';
import { tempDir } from './helpers/tmp.js';

const root = tempDir();
let n = 0;
function freshDir(files: Record<string, string> = {}): string {
  const dir = join(root, `d${++n}`);
  mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

const at = (iso: string) => new Date(iso);
const APP1 = backupFileName('app', at('2026-11-20T10:00:00.000Z'), 'vacuum');
const APP2 = backupFileName('app', at('2026-11-21T10:00:00.000Z'), 'online');
const APP2B = backupFileName('app', at('2026-11-21T10:00:00.000Z'), 'online', 2);
const OTHER = backupFileName('my-app.v2', at('2026-11-22T10:00:00.000Z'), 'vacuum');
const GO_V1 = 'db-backup-2026-11-19T08-00-00Z.db.gz';
const GO_UP = 'app-2026-11-20T12-00-00Z-vacuum.bck.gz';

describe('latest.txt', () => {
  test('missing file: undefined', async () => {
    assert.equal(await readLatest(freshDir()), undefined);
    assert.equal(await readLatest(join(root, 'no-such-dir')), undefined);
  });

  test('with or without a trailing newline (the Go writer wrote none)', async () => {
    for (const content of [APP1, `${APP1}\n`, `${APP1}\r\n`]) {
      assert.equal(await readLatest(freshDir({ [LATEST_FILE]: content })), APP1, JSON.stringify(content));
    }
  });

  test('anything but a plain file name is rejected, naming the file', async () => {
    const tampered = [
      '',
      '\n',
      '../etc/passwd',
      `../${APP1}`,
      `/etc/${APP1}`,
      `sub/${APP1}`,
      `sub\\${APP1}`,
      '..',
      '.',
      `${APP1}\n${APP2}`,
      `${APP1}\n\n`,
      `${APP1}\r`,
      `${APP1}\0`,
      ` ${APP1}`,
      `C:${APP1}`,
      'x'.repeat(256),
      'a'.repeat(100_000),
    ];
    for (const content of tampered) {
      const dir = freshDir({ [LATEST_FILE]: content });
      await assert.rejects(readLatest(dir), (e: unknown) => {
        assert.ok(isBackupError(e, 'EBACKUP_NOT_FOUND'), `${JSON.stringify(content.slice(0, 40))}: got ${String(e)}`);
        assert.equal(e.path, join(dir, LATEST_FILE));
        assert.ok(e.message.includes(join(dir, LATEST_FILE)), e.message);
        return true;
      });
    }
    const notUtf8 = freshDir();
    writeFileSync(join(notUtf8, LATEST_FILE), Buffer.from([0x61, 0xff, 0x62]));
    await assert.rejects(readLatest(notUtf8), (e: unknown) => isBackupError(e, 'EBACKUP_NOT_FOUND'));
  });

  test('a directory where latest.txt should be: no manifest (as on every store), and writing it is EIO', async () => {
    const dir = freshDir({ [APP1]: 'a' });
    mkdirSync(join(dir, LATEST_FILE));
    assert.equal(await readLatest(dir), undefined);
    await assert.rejects(writeLatest(dir, APP1), (e: unknown) => isBackupError(e, 'EIO') && e.path === join(dir, LATEST_FILE));
  });

  test('writeLatest writes exactly the name, 0600, atomically, and only for an existing backup', async () => {
    const dir = freshDir({ [APP1]: 'gz', [APP2]: 'gz' });
    await writeLatest(dir, APP1);
    await writeLatest(dir, APP2);
    assert.equal(readFileSync(join(dir, LATEST_FILE), 'utf8'), APP2);
    if (process.platform !== 'win32') assert.equal(statSync(join(dir, LATEST_FILE)).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir).sort(), [APP1, APP2, LATEST_FILE].sort(), 'no temp file left');
    for (const bad of [APP2B, '../x', 'notes.txt', `${APP1}.tmp-0123456789ab`, `${APP1}${SIDECAR_SUFFIX}`]) {
      await assert.rejects(writeLatest(dir, bad), (e: unknown) => isBackupError(e, 'EBACKUP_NOT_FOUND'), bad);
    }
    assert.equal(readFileSync(join(dir, LATEST_FILE), 'utf8'), APP2, 'unchanged after refusals');
  });
});

describe('listBackups', () => {
  const mixed: Record<string, string> = {
    [APP1]: 'a1',
    [`${APP1}${SIDECAR_SUFFIX}`]: 'sum',
    [APP2]: 'a2-longer',
    [APP2B]: 'a2b',
    [OTHER]: 'other',
    [GO_V1]: 'go1',
    [GO_UP]: 'goup',
    [`${APP2}.tmp-0123456789ab`]: 'partial',
    [`${backupFileName('app', at('2030-01-01T00:00:00.000Z'), 'vacuum')}.tmp-abcdefabcdef`]: 'newest but partial',
    'app.lock': '123',
    'notes.txt': 'hello',
    'app.db': 'not a backup',
    [LATEST_FILE]: APP1,
  };

  test('a mixed directory: only backups, oldest first, with sizes, sidecars and the latest flag', async () => {
    const dir = freshDir(mixed);
    const all = await listBackups(dir);
    assert.deepEqual(
      all.map((e) => [e.name, e.dbName, e.layout, e.counter, e.size, e.hasChecksum, e.isLatest]),
      [
        [GO_V1, undefined, 'go-v1', 1, 3, false, false],
        [APP1, 'app', 'ours', 1, 2, true, true],
        [GO_UP, 'app', 'go-upstream', 1, 4, false, false],
        [APP2, 'app', 'ours', 1, 9, false, false],
        [APP2B, 'app', 'ours', 2, 3, false, false],
        [OTHER, 'my-app.v2', 'ours', 1, 5, false, false],
      ],
    );
    assert.equal(all[1]!.path, join(dir, APP1));
    assert.equal(all[1]!.strategy, 'vacuum');
    assert.equal(all[2]!.time.toISOString(), '2026-11-20T12:00:00.000Z');
  });

  test('filtered by dbName: other databases and Go v1 files are left out', async () => {
    const dir = freshDir(mixed);
    assert.deepEqual((await listBackups(dir, { dbName: 'app' })).map((e) => e.name), [APP1, GO_UP, APP2, APP2B]);
    assert.deepEqual((await listBackups(dir, { dbName: 'my-app.v2' })).map((e) => e.name), [OTHER]);
    assert.deepEqual(await listBackups(dir, { dbName: 'my-app' }), []);
  });

  test('a missing directory is empty; a file is an error; symlinks and directories are skipped', async () => {
    assert.deepEqual(await listBackups(join(root, 'missing')), []);
    const dir = freshDir({ 'plain-file': 'x' });
    await assert.rejects(listBackups(join(dir, 'plain-file')), (e: unknown) => {
      return isBackupError(e, 'EIO') && e.path === join(dir, 'plain-file') && /not a directory/.test(e.message);
    });
    const links = freshDir({ [APP1]: 'a' });
    mkdirSync(join(links, APP2));
    symlinkSync(join(links, APP1), join(links, APP2B));
    assert.deepEqual((await listBackups(links)).map((e) => e.name), [APP1]);
  });

  test('a malformed latest.txt does not break the listing: nothing is flagged latest', async () => {
    const dir = freshDir({ [APP1]: 'a', [LATEST_FILE]: `../${APP1}` });
    const list = await listBackups(dir);
    assert.deepEqual(list.map((e) => [e.name, e.isLatest]), [[APP1, false]]);
  });
});

describe('pickLatest', () => {
  test('follows latest.txt, even to an older backup (newer ones may be unverified)', async () => {
    const dir = freshDir({ [APP1]: 'a', [APP2]: 'b', [LATEST_FILE]: `${APP1}\n` });
    const e = await pickLatest(dir);
    assert.equal(e?.name, APP1);
    assert.equal(e?.isLatest, true);
  });

  test('falls back to the newest by time when latest.txt is missing, names a missing file or is tampered', async () => {
    const contents = [undefined, backupFileName('app', at('2031-01-01T00:00:00.000Z'), 'vacuum'), '../../etc/passwd', ''];
    for (const latest of contents) {
      const files: Record<string, string> = { [APP1]: 'a', [APP2B]: 'c', [APP2]: 'b', [GO_V1]: 'old' };
      if (latest !== undefined) files[LATEST_FILE] = latest;
      const e = await pickLatest(freshDir(files));
      assert.equal(e?.name, APP2B, `latest.txt = ${String(latest)}`);
      assert.equal(e?.isLatest, false);
    }
  });

  test('never picks a temp file, a sidecar or another database\'s backup', async () => {
    const newerTemp = `${backupFileName('app', at('2030-01-01T00:00:00.000Z'), 'vacuum')}.tmp-0123456789ab`;
    const files = {
      [APP1]: 'a',
      [`${APP1}${SIDECAR_SUFFIX}`]: 's',
      [newerTemp]: 'partial',
      [OTHER]: 'other db, newer',
      'zzz-newest-by-name.db.gz': 'junk',
      [LATEST_FILE]: OTHER, // names a backup of another database
    };
    const dir = freshDir(files);
    const e = await pickLatest(dir, { dbName: 'app' });
    assert.equal(e?.name, APP1);
    assert.equal(e?.isLatest, false);
    // latest.txt naming a temp file: ignored, also without a dbName filter.
    writeFileSync(join(dir, LATEST_FILE), newerTemp);
    assert.equal((await pickLatest(dir))?.name, OTHER);
    assert.equal(await pickLatest(dir, { dbName: 'nope' }), undefined);
    assert.equal(await pickLatest(join(root, 'missing')), undefined);
  });

  test('a Go v1 directory: latest.txt without a newline', async () => {
    const older = 'db-backup-2026-11-18T08-00-00Z.db.gz';
    const dir = freshDir({ [older]: 'x', [GO_V1]: 'y', [LATEST_FILE]: older });
    assert.equal((await pickLatest(dir))?.name, older);
    writeFileSync(join(dir, LATEST_FILE), 'db-backup-2026-11-30T08-00-00Z.db.gz'); // names a missing file
    assert.equal((await pickLatest(dir))?.name, GO_V1);
  });
});

describe('restinpieces-backup (rib) directories', () => {
  const RIB_APP1 = 'app-app.db-20260101T000000Z.db';
  const RIB_APP2 = 'app-app.db-20260102T000000Z.bck.gz';
  const RIB_LOGS = 'my-logs-logs-2.db-20260103T000000Z.db';

  test('several databases share one directory: grouped by <label>-<basename>, links and sidecars not backups', async () => {
    const dir = freshDir({
      [RIB_APP1]: 'p1',
      [`${RIB_APP1}${SIDECAR_SUFFIX}`]: 'sum',
      [RIB_APP2]: 'c2',
      [RIB_LOGS]: 'logs',
      'latest-my-logs-logs-2.db': 'logs',
      'latest-app-app.db': 'p1',
      'latest-app-app.db.tmp-0123456789ab': 'partial link',
      [`${RIB_LOGS}.tmp-0123456789ab`]: 'partial',
      [APP1]: 'ours',
    });
    const all = await listBackups(dir);
    assert.deepEqual(
      all.map((e) => [e.name, e.dbName, e.layout, e.strategy, e.hasChecksum]),
      [
        [RIB_APP1, 'app-app.db', 'rib', undefined, true],
        [RIB_APP2, 'app-app.db', 'rib', undefined, false],
        [RIB_LOGS, 'my-logs-logs-2.db', 'rib', undefined, false],
        [APP1, 'app', 'ours', 'vacuum', false],
      ],
    );
    assert.deepEqual((await listBackups(dir, { dbName: 'app-app.db' })).map((e) => e.name), [RIB_APP1, RIB_APP2]);
    assert.deepEqual((await listBackups(dir, { dbName: 'my-logs-logs-2.db' })).map((e) => e.name), [RIB_LOGS]);
    assert.equal((await pickLatest(dir, { dbName: 'app-app.db' }))?.name, RIB_APP2, 'no latest.txt: the newest by name');
    const listing = await listStore(new LocalTransport(dir));
    assert.deepEqual([...listing.latestLinks].sort(), [
      ['app-app.db', 'latest-app-app.db'],
      ['my-logs-logs-2.db', 'latest-my-logs-logs-2.db'],
    ]);
    assert.deepEqual([...(await listStore(new LocalTransport(dir), { dbName: 'app-app.db' })).latestLinks], [['app-app.db', 'latest-app-app.db']]);
  });
});
