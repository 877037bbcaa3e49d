/**
 * Free space is checked before a job writes anything (src/fs/free-space.ts): backup needs twice the
 * database (the private copy and the snapshot coexist), restore and pull at least the decoded
 * database. Not enough: EIO with errno ENOSPC naming the directory, a message with the needed and
 * available sizes, at once - before the snapshot phase - and nothing created.
 *
 * The real case runs on a small tmpfs (root only; CI runs as root): without the check the same backup
 * fails late, in the snapshot phase, after writing the private copy. The other cases inject what
 * statfs answers, which is what makes the exact boundary testable.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import { backup, type BackupPhase } from '../src/api/backup.js';
import { parseConfig } from '../src/config/config.js';
import { pull } from '../src/api/pull.js';
import { restore } from '../src/api/restore.js';
import { WasmEngine } from '../src/engine/index.js';
import { ErrorCode, isBackupError } from '../src/errors.js';
import { withSlack } from '../src/fs/free-space.js';
import { LocalTransport } from '../src/transport/local/local.js';
import { createLarge, fingerprint } from './helpers/databases.js';
import { withTmpfs } from './helpers/mounts.js';
import { requirePeer, run } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const PAGE = 4096;
const root = tempDir('sqlite-backup-freespace-');
const source = join(root, 'app.db');
const engine = new WasmEngine();
after(() => engine.close());

const configFor = (dir: string) => parseConfig(`source_path = ${JSON.stringify(source)}\nbackup_dir = ${JSON.stringify(dir)}\n`);

/** The up-front refusal: EIO, ENOSPC, the directory, both figures. */
function assertNoRoom(t: TestContext, e: unknown, dir: string): true {
  assert.ok(isBackupError(e), `expected a BackupError, got ${String(e)}`);
  t.diagnostic(`${e.code} ${e.errno} ${e.path}: ${e.message}`);
  assert.equal(e.code, ErrorCode.IO);
  assert.equal(e.errno, 'ENOSPC');
  assert.equal(e.path, dir);
  assert.match(e.message, /not enough free space .*\(disk full\): .* needs \d+(\.\d)? (bytes|KiB|MiB|GiB), \d+(\.\d)? (bytes|KiB|MiB|GiB) available/);
  return true;
}

describe('free space is checked before the work starts', () => {
  let sourceSize = 0;
  const prepare = (t: TestContext): boolean => {
    if (!requirePeer(t, 'sqlite3')) return false;
    if (sourceSize === 0) {
      createLarge(source, 3); // random blobs: the .gz is about 3/4 of the database
      sourceSize = statSync(source).size;
    }
    return true;
  };

  it('backup: one byte short of twice the database is refused before the snapshot, nothing created', async (t) => {
    if (!prepare(t)) return;
    const before = fingerprint(source);
    const needed = withSlack(2 * sourceSize);
    const asked: string[] = [];
    const probe = (free: number) => async (dir: string) => {
      asked.push(dir);
      return free;
    };

    // A backup_dir that does not exist yet: its parent is asked, and it is not created.
    const fresh = join(root, 'fresh', 'backups');
    const phases: BackupPhase[] = [];
    await assert.rejects(
      backup(configFor(fresh), { engine, freeSpace: probe(needed - 1), onProgress: (p) => phases.push(p.phase) }),
      (e: unknown) => assertNoRoom(t, e, fresh),
    );
    assert.deepEqual(asked, [root], 'the nearest existing directory is asked');
    assert.equal(phases.length, 0, `refused before any phase: ${phases.join(' ')}`);
    assert.equal(existsSync(join(root, 'fresh')), false, 'nothing may be created');

    // An existing one: checked after the lock (and the sweep of a killed run's leftovers).
    const dir = join(root, 'existing');
    mkdirSync(dir, { mode: 0o700 });
    phases.length = 0;
    await assert.rejects(
      backup(configFor(dir), { engine, freeSpace: probe(needed - 1), onProgress: (p) => phases.push(p.phase) }),
      (e: unknown) => assertNoRoom(t, e, dir),
    );
    assert.deepEqual(phases, ['lock'], 'refused before the snapshot');
    assert.deepEqual(readdirSync(dir), [], 'nothing left behind (no lock, no temp file)');
    assert.deepEqual(fingerprint(source), before);

    // Exactly enough: the backup runs.
    const ok = await backup(configFor(dir), { engine, freeSpace: probe(needed) });
    assert.ok(ok.gzBytes > 0);
  });

  it('backup on a real tmpfs too small for the private copy and the snapshot: refused at once, not after the copy', async (t) => {
    if (!prepare(t)) return;
    const mnt = join(root, 'small');
    // Room for one copy and a half: without the check the private copy is written, then VACUUM INTO
    // fills the disk (EIO ENOSPC naming a file inside the directory, in the snapshot phase).
    await withTmpfs(t, mnt, `size=${Math.ceil((1.5 * sourceSize) / PAGE) * PAGE},mode=0700`, async () => {
      const dir = join(mnt, 'backups');
      mkdirSync(dir, { mode: 0o700 });
      const phases: BackupPhase[] = [];
      await assert.rejects(backup(configFor(dir), { engine, onProgress: (p) => phases.push(p.phase) }), (e: unknown) => {
        assertNoRoom(t, e, dir);
        return true;
      });
      assert.ok(!phases.includes('snapshot'), `refused up front, not in a later phase: ${phases.join(' ')}`);
      assert.deepEqual(readdirSync(dir), []);
    });
  });

  it('restore: a backup whose database does not fit next to the target is refused, the target untouched', async (t) => {
    if (!prepare(t) || !requirePeer(t, 'gzip')) return;
    const dir = join(root, 'restore-src');
    const made = await backup(configFor(dir), { engine });
    const gz = made.path;
    const plainDb = join(root, 'plain.db');
    copyFileSync(source, plainDb);
    // A single-member gzip of another tool (gzip itself): its trailer's ISIZE gives the exact size.
    const foreign = join(root, 'foreign.db.gz');
    run('sh', ['-c', `gzip -c < "${source}" > "${foreign}"`]);
    const targets = join(root, 'targets');
    mkdirSync(targets);
    for (const [file, dbBytes] of [[gz, made.dbBytes], [foreign, sourceSize], [plainDb, sourceSize]] as const) {
      const target = join(targets, 'restored.db');
      await assert.rejects(restore(file, target, { engine, freeSpace: async () => dbBytes - 1 }), (e: unknown) =>
        assertNoRoom(t, e, targets),
      );
      assert.deepEqual(readdirSync(targets), [], `${file}: nothing created`);
      await restore(file, target, { engine, freeSpace: async () => dbBytes });
      assert.ok(existsSync(target));
      for (const f of readdirSync(targets)) rmSync(join(targets, f));
    }
  });

  it('pull: a backup that does not fit in local_dir with its database is refused before the download', async (t) => {
    if (!prepare(t)) return;
    const remote = join(root, 'pull-remote');
    const made = await backup(configFor(remote), { engine });
    const local = join(root, 'pull-local');
    const config = parseConfig(
      `[pull]\nhost = "unused"\nuser = "unused"\nremote_dir = "/unused"\nlocal_dir = ${JSON.stringify(local)}\n`,
    );
    const phases: string[] = [];
    // The .gz plus at least the database's compressed size: one byte short of that is refused.
    await assert.rejects(
      pull(config, { engine, transport: new LocalTransport(remote), freeSpace: async () => made.gzBytes, onProgress: (p) => phases.push(p.phase) }),
      (e: unknown) => assertNoRoom(t, e, local),
    );
    assert.ok(!phases.includes('download'), phases.join(' '));
    assert.deepEqual(readdirSync(local).filter((f) => !f.endsWith('.lock')), []);
    const r = await pull(config, { engine, transport: new LocalTransport(remote), freeSpace: async () => made.gzBytes + made.dbBytes });
    assert.equal(r.name, made.name);
  });
});
