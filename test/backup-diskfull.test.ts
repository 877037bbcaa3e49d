/**
 * backup() on a full disk: backup_dir is a small tmpfs that runs out of space at a chosen step - the
 * private copy of the source, VACUUM INTO, gzip, the sidecar, latest.txt - either because it is too
 * small or because a filler file takes the free space at that step. Every time: EIO with errno
 * ENOSPC and "disk full" in the message, nothing left behind (no temp file, no lock), the previous
 * latest.txt and its backup intact and verifiable, the source unchanged, and once space is back the
 * next backup succeeds.
 */
import assert from 'node:assert/strict';
import { copyFileSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import { backup, type BackupPhase } from '../src/api/backup.js';
import { parseConfig } from '../src/config/config.js';
import { readLatest } from '../src/format/manifest.js';
import { verify } from '../src/api/verify.js';
import { WasmEngine } from '../src/engine/index.js';
import { ErrorCode, isBackupError } from '../src/errors.js';
import { createLarge, fingerprint } from './helpers/databases.js';
import { withTmpfs } from './helpers/mounts.js';
import { requirePeer, run } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const PAGE = 4096;
const root = tempDir('sqlite-backup-diskfull-');
const source = join(root, 'app.db');
// Shared by the runs that are not under test (the previous and the recovering backups) and by
// verify(): saves a worker and a wasm compile each. The failing runs use their own, as by default.
const engine = new WasmEngine();
after(() => engine.close());

const configFor = (dir: string) =>
  parseConfig(`source_path = ${JSON.stringify(source)}\nbackup_dir = ${JSON.stringify(dir)}\nkeep_last = 5\n`);

function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Takes all free space of the file system of `dir` but `leave` bytes, with `<dir>/filler`. */
function fill(dir: string, leave: number): void {
  const n = freeBytes(dir) - leave;
  if (n > 0) writeFileSync(join(dir, 'filler'), Buffer.alloc(n));
  assert.ok(freeBytes(dir) <= leave + PAGE, `filled to ${freeBytes(dir)} free, wanted ${leave}`);
}

/** The failure every full disk must give: EIO, errno ENOSPC, "disk full", naming a file in `dir`. */
function assertDiskFull(t: TestContext, e: unknown, dir: string, step: string): true {
  assert.ok(isBackupError(e), `${step}: expected a BackupError, got ${String(e)}`);
  t.diagnostic(`${step}: ${e.code} ${e.errno} ${e.message}`);
  assert.equal(e.code, ErrorCode.IO, `${step}: ${e.message}`);
  assert.equal(e.errno, 'ENOSPC', `${step}: ${e.message}`);
  assert.match(e.message, /disk full/, `${step}: the message must say "disk full": ${e.message}`);
  assert.ok(e.path?.startsWith(`${dir}/`), `${step}: the error names ${e.path}, not a file in ${dir}`);
  return true;
}

/** latest.txt still names `name`, which is complete: verify(), gzip -t, sha256sum -c. */
async function assertIntact(dir: string, name: string, step: string): Promise<void> {
  assert.equal(await readLatest(dir), name, `${step}: latest.txt changed`);
  assert.ok((await verify(join(dir, name), { engine })).ok, `${step}: the previous backup does not verify`);
  run('gzip', ['-t', join(dir, name)]);
  run('sha256sum', ['--check', '--strict', `${name}.sha256`], { cwd: dir });
}

const peers = (t: TestContext): boolean => requirePeer(t, 'sqlite3') && requirePeer(t, 'gzip') && requirePeer(t, 'sha256sum');

describe('backup() on a full disk', () => {
  let sourceSize = 0;
  let before: ReturnType<typeof fingerprint>;
  const prepare = (): void => {
    if (sourceSize > 0) return;
    createLarge(source, 2); // random blobs: the .gz is ~3/4 of the database
    sourceSize = statSync(source).size;
    before = fingerprint(source);
  };

  it('a tmpfs with room for one run but not for the next snapshot', async (t) => {
    if (!peers(t)) return;
    prepare();
    const mnt = join(root, 'small');
    // A run needs the private copy and the snapshot at once (2 x the database); after it the
    // directory keeps the .gz (~3/4 of it). 2.25 x fits the first run, not the second's snapshot.
    const size = Math.ceil((2.25 * sourceSize) / PAGE) * PAGE;
    await withTmpfs(t, mnt, `size=${size},mode=0700`, async () => {
      const dir = join(mnt, 'backups');
      const first = await backup(configFor(dir), { engine });
      const files = readdirSync(dir).sort();
      // The free-space check (free-space.test.ts) refuses it before any work, naming the directory.
      await assert.rejects(backup(configFor(dir)), (e: unknown) => {
        assert.ok(isBackupError(e) && e.errno === 'ENOSPC' && e.path === dir, `second run: ${String(e)}`);
        assert.match(e.message, /not enough free space .*\(disk full\)/);
        return true;
      });
      assert.deepEqual(readdirSync(dir).sort(), files, 'nothing may be left behind: no temp file, no lock');
      await assertIntact(dir, first.name, 'second run');
      assert.deepEqual(fingerprint(source), before);
    });
  });

  it('pages the VFS buffered and flushed later fail as the write they are, not as the call that flushed them', async (t) => {
    if (!peers(t)) return;
    prepare();
    const reference = join(root, 'reference.db');
    rmSync(reference, { force: true });
    const size = (await engine.vacuumInto(source, reference)).bytes;
    rmSync(reference, { force: true });
    // The VFS writes 1 MiB at a time; the last, partial MiB is written by the flush at fsync. Room for
    // the full MiBs and half of that tail makes exactly that flush fail.
    const MiB = 1024 * 1024;
    const tail = size % MiB;
    assert.ok(tail > 64 * 1024, `the snapshot (${size} bytes) must end in a partial MiB`);
    const mnt = join(root, 'tail');
    await withTmpfs(t, mnt, `size=${Math.ceil((size + MiB) / PAGE) * PAGE},mode=0700`, async () => {
      fill(mnt, size - tail + Math.floor(tail / 2));
      const dest = join(mnt, 'out.db');
      await assert.rejects(engine.vacuumInto(source, dest), (e: unknown) => {
        assertDiskFull(t, e, mnt, 'last flush');
        assert.match((e as Error).message, new RegExp(`: write "${dest}" failed \\(disk full\\)`));
        return true;
      });
    });
  });

  interface Step {
    step: string;
    /** Phase at whose first event the disk is filled... */
    at: BackupPhase;
    /** ...leaving this many bytes free (the database's size is `s`, the .gz's `g`). */
    leave: (s: number, g: number) => number;
    /** Keep the snapshot's blocks allocated after the job removes it (see the sidecar step). */
    pinSnapshot?: boolean;
  }

  const STEPS: Step[] = [
    { step: 'private copy of the source', at: 'snapshot', leave: (s) => s / 2 },
    // Room for the private copy, not for the VACUUM INTO target beside it.
    { step: 'VACUUM INTO', at: 'snapshot', leave: (s) => 1.25 * s },
    { step: 'gzip', at: 'compress', leave: (_s, g) => g / 3 },
    // The job removes the snapshot right after the .gz is complete, which would free the disk again
    // before the sidecar is written: a hard link outside backup_dir keeps its blocks in use.
    { step: 'sidecar', at: 'compressed', leave: () => 0, pinSnapshot: true },
    { step: 'latest.txt', at: 'sidecar', leave: () => 0 },
  ];

  it('filled at each step: the private copy, VACUUM INTO, gzip, the sidecar, latest.txt', async (t) => {
    if (!peers(t)) return;
    prepare();
    // A previous backup, made once on a normal disk and copied in for each step.
    const template = join(root, 'previous');
    const previous = await backup(configFor(template), { engine });
    const gzSize = previous.gzBytes;
    const mnt = join(root, 'fillable');
    const size = Math.ceil((3 * sourceSize + 2 * gzSize) / PAGE) * PAGE + 64 * PAGE;
    await withTmpfs(t, mnt, `size=${size},mode=0700`, async () => {
      const failures: string[] = [];
      for (const s of STEPS) {
        const dir = join(mnt, 'backups');
        mkdirSync(dir, { mode: 0o700 });
        for (const f of readdirSync(template)) copyFileSync(join(template, f), join(dir, f));
        const files = readdirSync(dir).sort();
        let filled = false;
        try {
          await assert.rejects(
            backup(configFor(dir), {
              onProgress: (p) => {
                if (filled || p.phase !== s.at) return;
                filled = true;
                if (s.pinSnapshot) {
                  const snap = readdirSync(dir).find((f) => /^app\.snapshot\.tmp-[0-9a-f]+$/.test(f));
                  assert.ok(snap, `no snapshot in ${readdirSync(dir).join(' ')}`);
                  linkSync(join(dir, snap), join(mnt, 'pinned-snapshot'));
                }
                fill(mnt, Math.floor(s.leave(sourceSize, gzSize)));
              },
            }),
            (e: unknown) => assertDiskFull(t, e, dir, s.step),
          );
          assert.ok(filled, `${s.step}: the phase ${s.at} never came`);
          assert.deepEqual(readdirSync(dir).sort(), files, `${s.step}: nothing may be left behind (no temp file, no lock)`);
          await assertIntact(dir, previous.name, s.step);
          assert.deepEqual(fingerprint(source), before, `${s.step}: the source changed`);

          // Space is back: the next run works and leaves only backups, sidecars and latest.txt.
          rmSync(join(mnt, 'filler'), { force: true });
          rmSync(join(mnt, 'pinned-snapshot'), { force: true });
          const next = await backup(configFor(dir), { engine });
          assert.deepEqual(readdirSync(dir).sort(), [...files, next.name, `${next.name}.sha256`].sort(), `${s.step}: after recovery`);
          assert.equal(readFileSync(join(dir, 'latest.txt'), 'utf8'), next.name);
        } catch (e) {
          failures.push(`disk full during ${s.step}: ${(e as Error).message}`);
        } finally {
          rmSync(join(mnt, 'filler'), { force: true });
          rmSync(join(mnt, 'pinned-snapshot'), { force: true });
          rmSync(dir, { recursive: true, force: true });
        }
      }
      assert.equal(failures.length, 0, `${failures.length} of ${STEPS.length} steps failed:\n${failures.join('\n')}`);
    });
  });
});
