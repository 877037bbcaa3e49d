/**
 * The backup store over a Transport (src/store), on a LocalTransport: the publish order and its
 * clean-up, one reading of latest.txt for every reader, retention that never removes what latest.txt
 * names, and the sweep of temp files dead runs left (by age on remote stores).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { backupFileName } from '../src/format/naming.js';
import { findLatest, listStore } from '../src/store/listing.js';
import { publishBackup } from '../src/store/publish.js';
import { pruneStore } from '../src/store/prune.js';
import { sweepTemps } from '../src/store/sweep.js';
import { isBackupError } from '../src/errors.js';
import { LocalTransport } from '../src/transport/local/local.js';
import { tempDir } from './helpers/tmp.js';

const root = tempDir();
let n = 0;
const fresh = (files: Record<string, string> = {}) => {
  const dir = join(root, `s${++n}`);
  mkdirSync(dir);
  for (const [k, v] of Object.entries(files)) writeFileSync(join(dir, k), v);
  return { dir, t: new LocalTransport(dir) };
};
const name = (iso: string, db = 'app') => backupFileName(db, new Date(iso), 'vacuum');
const hex = (s: string) => createHash('sha256').update(s).digest('hex');
const A = name('2026-11-01T00:00:00.000Z');
const B = name('2026-11-02T00:00:00.000Z');
const C = name('2026-11-03T00:00:00.000Z');

describe('publishBackup', () => {
  it('writes the file, its sidecar, then latest.txt; sha256sum format', async () => {
    const { dir, t } = fresh({ [A]: 'old', 'latest.txt': A });
    await publishBackup(t, { name: B, sha256: hex('new backup'), size: 10, data: 'new backup' });
    assert.equal(readFileSync(join(dir, 'latest.txt'), 'utf8'), B);
    assert.equal(readFileSync(join(dir, `${B}.sha256`), 'utf8'), `${hex('new backup')}  ${B}\n`);
    assert.deepEqual(readdirSync(dir).sort(), [A, B, `${B}.sha256`, 'latest.txt'].sort());
  });

  it('a source shorter than its size: nothing published, nothing left, latest.txt unchanged', async () => {
    const { dir, t } = fresh({ [A]: 'old', 'latest.txt': A });
    await assert.rejects(publishBackup(t, { name: B, sha256: hex('x'), size: 99, data: 'short' }), (e: unknown) => isBackupError(e, 'EIO'));
    assert.deepEqual(readdirSync(dir).sort(), [A, 'latest.txt']);
    assert.equal(readFileSync(join(dir, 'latest.txt'), 'utf8'), A);
  });

  it('a failure after the upload (the sidecar write) removes the uploaded file; latest.txt keeps naming the old one', async () => {
    const { dir, t } = fresh({ [A]: 'old', 'latest.txt': A });
    const failing = Object.assign(Object.create(t) as LocalTransport, {
      write: (nm: string, data: string, o: object) => (nm.endsWith('.sha256') ? Promise.reject(new Error('disk gone')) : t.write(nm, data, o)),
    });
    await assert.rejects(publishBackup(failing, { name: B, sha256: hex('abc'), size: 3, data: 'abc' }), /disk gone/);
    assert.deepEqual(readdirSync(dir).sort(), [A, 'latest.txt']);
  });

  it('an existing file is published in place when its size matches; a wrong size is refused', async () => {
    const { dir, t } = fresh({ [A]: 'abc' });
    await assert.rejects(publishBackup(t, { name: A, sha256: hex('abc'), size: 4 }), /holds 3 bytes/);
    assert.ok(!readdirSync(dir).includes('latest.txt'));
    await publishBackup(t, { name: A, sha256: hex('abc'), size: 3 });
    assert.equal(readFileSync(join(dir, 'latest.txt'), 'utf8'), A);
  });
});

describe('latest and listing: one rule for every reader', () => {
  it('latest.txt naming a missing, unrecognised or malformed name: no entry is latest, the newest is chosen, the problem is kept', async () => {
    for (const manifest of ['notes.txt', '../x', name('2099-01-01T00:00:00.000Z'), `${A}\nmore`]) {
      const { t } = fresh({ [A]: 'a', [B]: 'b', 'latest.txt': manifest });
      const listing = await listStore(t);
      assert.equal(listing.backups.some((e) => e.isLatest), false, manifest);
      assert.equal((await findLatest(t))?.name, B, manifest);
      if (manifest !== name('2099-01-01T00:00:00.000Z')) assert.ok(listing.latestProblem, `${manifest}: a problem`);
    }
    const { t } = fresh({ [A]: 'a', [B]: 'b', 'latest.txt': `${A}\n` });
    const latest = await findLatest(t);
    assert.equal(latest?.name, A);
    assert.equal(latest?.isLatest, true);
  });
});

describe('pruneStore', () => {
  it('never removes what latest.txt names, even when retention would; orphan sidecars go', async () => {
    const { dir, t } = fresh({ [A]: 'a', [`${A}.sha256`]: 's', [B]: 'b', [`${B}.sha256`]: 's', [C]: 'c', [`${C}.sha256`]: 's', 'latest.txt': A, [`${name('2026-10-01T00:00:00.000Z')}.sha256`]: 'orphan' });
    const r = await pruneStore(t, { keepLast: 1, keepDaily: 0, keepWeekly: 0 }, { now: new Date('2027-01-01') });
    assert.deepEqual(r.removed, [B]);
    assert.deepEqual(readdirSync(dir).sort(), [A, `${A}.sha256`, C, `${C}.sha256`, 'latest.txt'].sort());
  });

  it('a backup without sidecar (a killed run, never published) takes no slot and is not removed by count', async () => {
    // A published (latest), B published, C renamed into place but its sidecar never written.
    const { dir, t } = fresh({ [A]: 'a', [`${A}.sha256`]: 's', [B]: 'b', [`${B}.sha256`]: 's', [C]: 'c', 'latest.txt': A });
    const r = await pruneStore(t, { keepLast: 2, keepDaily: 0, keepWeekly: 0 }, { now: new Date('2027-01-01') });
    assert.deepEqual([r.removed, r.kept, r.unverified], [[], [A, B], [C]]);
    assert.deepEqual(readdirSync(dir).sort(), [A, `${A}.sha256`, B, `${B}.sha256`, C, 'latest.txt'].sort());
    // Go layouts never had sidecars: theirs count as usual.
    const go = 'db-backup-2026-11-04T00-00-00Z.db.gz';
    const g = fresh({ [A]: 'a', [`${A}.sha256`]: 's', [go]: 'g', 'latest.txt': A });
    const rg = await pruneStore(g.t, { keepLast: 1, keepDaily: 0, keepWeekly: 0 }, { now: new Date('2027-01-01') });
    assert.deepEqual([rg.kept, rg.unverified], [[A, go], []]);
  });

  it('a malformed latest.txt stops the prune (it cannot tell what to protect)', async () => {
    const { dir, t } = fresh({ [A]: 'a', [B]: 'b', 'latest.txt': '../evil' });
    await assert.rejects(pruneStore(t, { keepLast: 1, keepDaily: 0, keepWeekly: 0 }), (e: unknown) => isBackupError(e, 'EBACKUP_NOT_FOUND'));
    assert.equal(readdirSync(dir).length, 3);
  });
});

describe('sweepTemps', () => {
  it("removes this database's temps (backup, sidecar, latest.txt, extra bases); others' and young remote ones stay", async () => {
    const files = {
      [`${A}.tmp-aaaaaaaaaaaa`]: 'x',
      [`${A}.sha256.tmp-bbbbbbbbbbbb`]: 'x',
      [`${A}.latest.tmp-cccccccccccc`]: 'x',
      'app.snapshot.tmp-dddddddddddd': 'x',
      [`${name('2026-11-01T00:00:00.000Z', 'other')}.tmp-eeeeeeeeeeee`]: 'x',
      [A]: 'keep',
    };
    const { dir, t } = fresh(files);
    const old = new Date(Date.now() - 7 * 3600_000);
    utimesSync(join(dir, `${A}.tmp-aaaaaaaaaaaa`), old, old);
    // Remote rule: only temps older than the limit.
    assert.deepEqual(await sweepTemps(t, 'app', { olderThanMs: 6 * 3600_000 }), [`${A}.tmp-aaaaaaaaaaaa`]);
    // Local rule (under the lock): every temp of this database, plus the extra bases.
    const removed = await sweepTemps(t, 'app', { alsoBases: ['app.snapshot'] });
    assert.deepEqual(removed.sort(), [`${A}.latest.tmp-cccccccccccc`, `${A}.sha256.tmp-bbbbbbbbbbbb`, 'app.snapshot.tmp-dddddddddddd'].sort());
    assert.deepEqual(readdirSync(dir).sort(), [A, `${name('2026-11-01T00:00:00.000Z', 'other')}.tmp-eeeeeeeeeeee`].sort());
  });
});
