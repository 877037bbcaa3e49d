/**
 * Crash safety of backup(): the job runs in a child process (fixtures/backup-child.ts) that SIGKILLs
 * itself at a chosen point - every phase boundary, the middle of the long phases, and inside each
 * atomic write (triggered by inotify on the temp file) - or is SIGKILLed by us after a delay.
 * After every kill, with a previous backup in the directory and on a first run:
 *   - latest.txt is absent (first run, not yet published) or names a complete backup: verify() ok,
 *     `gzip -t` ok, `sha256sum -c` of its sidecar ok;
 *   - nothing under a final name is partial: every *.db.gz passes `gzip -t`, every sidecar whose
 *     backup exists passes `sha256sum -c`;
 *   - the source database is unchanged (sha256, size, mtime of it and its side files);
 *   - the next backup(), in this process, succeeds and leaves only backups, sidecars and latest.txt.
 * Plus the lock: a second backup while one runs fails with ELOCKED naming the pid, or waits for it
 * with lock_timeout.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { backup } from '../src/api/backup.js';
import { loadConfig } from '../src/api/config.js';
import { readLatest } from '../src/api/manifest.js';
import { verify } from '../src/api/verify.js';
import { WasmEngine, type Engine } from '../src/engine/index.js';
import { ErrorCode, isBackupError } from '../src/errors.js';
import { createLarge, fingerprint, type FileFingerprint } from './helpers/databases.js';
import { requirePeer, run } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const CHILD = fileURLToPath(new URL('./fixtures/backup-child.js', import.meta.url));
const HOLDER = fileURLToPath(new URL('./fixtures/hold-lock.js', import.meta.url));
const BACKUP_NAME = /^app-\d{8}T\d{6}\.\d{3}Z-vacuum(?:-\d+)?\.db\.gz$/;

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
  ms: number;
}

/** Runs the fixture; `killAfterMs` SIGKILLs it from here instead of from inside. */
function runChild(configPath: string, spec: string, killAfterMs?: number): Promise<ChildRun> {
  const t0 = Date.now();
  const child = spawn(process.execPath, [CHILD, configPath, spec], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timers = [setTimeout(() => child.kill('SIGKILL'), 30_000)];
  if (killAfterMs !== undefined) timers.push(setTimeout(() => child.kill('SIGKILL'), killAfterMs));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      timers.forEach(clearTimeout);
      resolve({ code, signal, out, err, ms: Date.now() - t0 });
    });
  });
}

function writeConfig(dir: string, source: string, backupDir: string, extra = ''): string {
  const path = join(dir, 'backup.toml');
  // compression_level 0 (stored deflate blocks): crash safety is about the file protocol, which is
  // the same at every level; storing keeps each run short so ~40 kills fit in the time budget.
  writeFileSync(
    path,
    `source_path = ${JSON.stringify(source)}\nbackup_dir = ${JSON.stringify(backupDir)}\nkeep_last = 1\ncompression_level = 0\n${extra}`,
  );
  return path;
}

const gzipOk = (path: string): boolean => run('gzip', ['-t', path], { allowFail: true }).status === 0;
const sidecarOk = (dir: string, name: string): boolean =>
  run('sha256sum', ['--check', '--strict', `${name}.sha256`], { cwd: dir, allowFail: true }).status === 0;
const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/**
 * verify() memoised by the file's sha256: the source does not change and our gzip output is
 * deterministic, so most backups are byte-identical, and equal bytes get equal verdicts. `gzip -t`
 * and `sha256sum -c` still run on every file.
 */
const verdicts = new Map<string, Promise<boolean>>();
function verifyOk(path: string, engine: Engine): Promise<boolean> {
  const key = sha256(path);
  let v = verdicts.get(key);
  if (!v) verdicts.set(key, (v = verify(path, { engine }).then((r) => r.ok)));
  return v;
}

/** What a kill point leaves latest.txt naming: the old state, the new one, or either (timing). */
type Publication = 'old' | 'new' | 'either';

interface KillPoint {
  spec: string;
  /** Also run on a first run (see FIRST_RUN). */
  firstRun?: boolean;
  /** What the directory looks like at that moment, for the failure message. */
  why: string;
  latest: Publication;
  killAfterMs?: number;
}

const KILL_POINTS: KillPoint[] = [
  { spec: 'lock:1', firstRun: true, why: 'before the lock is taken', latest: 'old' },
  // The first file of the lock protocol to appear (its temp file, or the lock itself if created in place).
  { spec: String.raw`file:^app\.lock`, firstRun: true, why: 'lock being created', latest: 'old' },
  { spec: String.raw`file:^app\.lock$`, why: 'lock file in place, its temp maybe not yet removed', latest: 'old' },
  { spec: 'snapshot:1', firstRun: true, why: 'lock held, nothing written yet', latest: 'old' },
  { spec: String.raw`file:\.source\.tmp-`, why: 'private copy of the source being written', latest: 'old' },
  { spec: String.raw`file:^app\.snapshot\.tmp-[0-9a-f]+$`, why: 'VACUUM INTO target just created', latest: 'old' },
  { spec: 'snapshot@0', firstRun: true, why: 'mid-snapshot (first progress event)', latest: 'old' },
  { spec: 'verify:1', firstRun: true, why: 'snapshot complete, not yet checked', latest: 'old' },
  { spec: 'verify@0', why: 'integrity_check running', latest: 'old' },
  { spec: 'compress:1', firstRun: true, why: 'snapshot verified, gzip not started', latest: 'old' },
  { spec: 'compress:2', why: 'gzip temp file created, empty', latest: 'old' },
  { spec: 'compress@0.4', firstRun: true, why: 'gzip ~40% through', latest: 'old' },
  { spec: 'compress@0.8', why: 'gzip ~80% through', latest: 'old' },
  { spec: 'compressed:1', firstRun: true, why: '.gz complete under its final name, no sidecar yet', latest: 'old' },
  { spec: String.raw`file:\.sha256\.tmp-`, why: 'sidecar temp file being written', latest: 'old' },
  { spec: 'sidecar:1', firstRun: true, why: 'sidecar written, latest.txt not yet', latest: 'old' },
  // The kill lands in one of writeFileAtomic's awaits; before or after its rename is timing.
  { spec: String.raw`file:(^latest\.txt|\.latest)\.tmp-`, firstRun: true, why: 'latest.txt temp file being written', latest: 'either' },
  { spec: 'published:1', firstRun: true, why: 'latest.txt names the new backup', latest: 'new' },
  { spec: 'prune:1', why: 'published, retention not yet applied', latest: 'new' },
  { spec: 'done:1', firstRun: true, why: 'pruned, lock not yet released', latest: 'new' },
  { spec: 'exit', why: 'backup() resolved (lock released)', latest: 'new' },
];

describe('backup() killed with SIGKILL at any point', () => {
  const root = tempDir('sqlite-backup-crash-');
  const source = join(root, 'app.db');
  let setup: Promise<{ before: Record<string, FileFingerprint>; template: string; previous: string; fullRunMs: number }> | undefined;
  let n = 0;

  /** One 8 MB source and one directory holding a complete, published backup of it, made by a child. */
  const prepare = () =>
    (setup ??= (async () => {
      // ~5.4 MB on disk: progress events inside each long phase (the engine reports after its first
      // 20000 VM steps, gzip per 1 MiB chunk), yet short runs, for ~40 kills in the time budget.
      createLarge(source, 4);
      const before = fingerprint(source);
      const template = join(root, 'template');
      mkdirSync(template, { mode: 0o700 });
      const dry = await runChild(writeConfig(root, source, template), 'none');
      assert.equal(dry.code, 0, `the uninterrupted child run must succeed: ${dry.out}${dry.err}`);
      const previous = (await readLatest(template))!;
      assert.match(previous, BACKUP_NAME);
      return { before, template, previous, fullRunMs: dry.ms };
    })());

  /** Runs one kill point in a fresh directory; returns the problems found (empty when all is well). */
  async function crashCase(point: KillPoint, withPrevious: boolean, engine: Engine): Promise<string[]> {
    const { before, template, previous } = await prepare();
    const caseDir = join(root, `case${++n}`);
    const dir = join(caseDir, 'backups');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (withPrevious) for (const f of readdirSync(template)) copyFileSync(join(template, f), join(dir, f));
    const configPath = writeConfig(caseDir, source, dir);
    const child = await runChild(configPath, point.killAfterMs === undefined ? point.spec : 'none', point.killAfterMs);
    const problems: string[] = [];
    const expect = (ok: boolean, what: string): void => void (ok || problems.push(what));

    const killLine = child.out.split('\n').find((l) => l.startsWith('kill ')) ?? '';
    const lastEvent = child.out.split('\n').filter((l) => l.startsWith('event ')).pop() ?? '(no event)';
    if (point.killAfterMs === undefined) {
      expect(child.signal === 'SIGKILL' && killLine !== '', `kill point not reached (exit ${child.code}, ${child.signal}): ${lastEvent} ${child.err}`);
    } else {
      expect(child.signal === 'SIGKILL' || child.code === 0, `child failed (exit ${child.code}): ${child.out}${child.err}`);
    }

    // State right after the crash.
    const files = readdirSync(dir).sort();
    const backups = files.filter((f) => BACKUP_NAME.test(f));
    for (const f of files) {
      const known =
        f === 'latest.txt' || BACKUP_NAME.test(f) || (f.endsWith('.sha256') && BACKUP_NAME.test(f.slice(0, -7))) ||
        f.includes('.tmp-') || f === 'app.lock';
      expect(known, `unexpected file after the crash: ${f}`);
    }
    // A .gz without a sidecar is acceptable: gzipFile fsyncs it before renaming it to its final name,
    // so it is complete; only the sidecar and latest.txt were not written. It is unpublished: readers
    // go by latest.txt, and retention removes it later.
    for (const f of backups) expect(gzipOk(join(dir, f)), `partial file under a final name: ${f} fails gzip -t`);
    for (const f of files.filter((f) => f.endsWith('.sha256'))) {
      // A sidecar whose backup is gone can only come from a kill inside prune (it removes the backup
      // first): junk, not a lie about a file. The next run's prune removes it (checked below).
      if (files.includes(f.slice(0, -7))) expect(sidecarOk(dir, f.slice(0, -7)), `${f} does not match its backup (sha256sum -c)`);
    }
    const latest = await readLatest(dir);
    const published = latest !== undefined && latest !== previous;
    if (latest !== undefined) {
      expect(files.includes(latest), `latest.txt names ${latest}, which is missing`);
      if (files.includes(latest)) {
        const path = join(dir, latest);
        expect(files.includes(`${latest}.sha256`) && sidecarOk(dir, latest), `the published ${latest} has no valid sidecar`);
        expect(gzipOk(path) && (await verifyOk(path, engine)), `the published ${latest} does not verify`);
      }
    } else {
      expect(!withPrevious, 'latest.txt disappeared');
    }
    if (point.latest === 'old') expect(!published && (latest !== undefined) === withPrevious, `latest.txt must still be the old state, is ${latest}`);
    if (point.latest === 'new') expect(published, `latest.txt must name the new backup, is ${latest}`);
    expect(JSON.stringify(fingerprint(source)) === JSON.stringify(before), 'the source database changed');

    // The next run cleans up after the dead one and succeeds. It shares the lane's engine (saves a
    // worker and a wasm compile per run); the killed runs used their own, as by default.
    try {
      const result = await backup(await loadConfig(configPath), { engine });
      const after = readdirSync(dir).sort();
      const stray = after.filter((f) => !(f === 'latest.txt' || BACKUP_NAME.test(f) || (f.endsWith('.sha256') && BACKUP_NAME.test(f.slice(0, -7)))));
      expect(stray.length === 0, `left after the next run: ${stray.join(', ')}`);
      expect((await readLatest(dir)) === result.name, 'the next run did not publish its backup');
      for (const f of after.filter((f) => BACKUP_NAME.test(f))) expect(gzipOk(join(dir, f)), `${f} fails gzip -t after the next run`);
      for (const f of after.filter((f) => f.endsWith('.sha256'))) {
        expect(after.includes(f.slice(0, -7)) && sidecarOk(dir, f.slice(0, -7)), `${f} is orphaned or wrong after the next run`);
      }
      expect(await verifyOk(result.path, engine), `the next run's ${result.name} does not verify`);
    } catch (e) {
      problems.push(`the next backup failed: ${(e as Error).message}`);
    }
    expect(JSON.stringify(fingerprint(source)) === JSON.stringify(before), 'the source database changed in the next run');
    return problems.map((p) => `${p}\n      files after the kill: ${files.join(' ')}\n      ${killLine || `last: ${lastEvent}`}`);
  }

  /** Runs the points two at a time (two cores) and fails once, listing every point that failed. */
  async function runAll(points: KillPoint[], withPrevious: boolean): Promise<void> {
    const failures: string[] = [];
    const queue = [...points];
    const worker = async (): Promise<void> => {
      const engine = new WasmEngine();
      try {
        for (let p = queue.shift(); p; p = queue.shift()) {
          const label = p.killAfterMs === undefined ? p.spec : `SIGKILL from the parent after ${p.killAfterMs} ms`;
          const problems = await crashCase(p, withPrevious, engine);
          if (problems.length > 0) failures.push(`kill at ${label} (${p.why}):\n    ${problems.join('\n    ')}`);
        }
      } finally {
        await engine.close();
      }
    };
    await Promise.all([worker(), worker()]);
    assert.equal(failures.length, 0, `${failures.length} of ${points.length} kill points failed:\n${failures.join('\n')}`);
  }

  const peers = (t: TestContext): boolean =>
    requirePeer(t, 'sqlite3') && requirePeer(t, 'gzip') && requirePeer(t, 'sha256sum');

  it('with a previous backup: the old state or the new one, never a partial one', async (t) => {
    if (!peers(t)) return;
    await runAll(KILL_POINTS, true);
  });

  // On a first run only latest.txt's absence and the empty prune differ: one point per phase, every
  // write that concerns publication, and the points after it (the time budget does not allow all).
  it('on a first run: no latest.txt until the backup is complete', async (t) => {
    if (!peers(t)) return;
    await runAll(KILL_POINTS.filter((p) => p.firstRun), false);
  });

  it('at timed delays from the parent', async (t) => {
    if (!peers(t)) return;
    const { fullRunMs } = await prepare();
    const timed = (f: number, why: string): KillPoint => ({ spec: '', why, latest: 'either', killAfterMs: Math.round(f * fullRunMs) });
    await runAll([timed(0.3, 'early'), timed(0.6, 'middle'), timed(0.95, 'near the end')], true);
    await runAll([timed(0.85, 'late')], false);
  });
});

describe('backup() and the lock', () => {
  const root = tempDir('sqlite-backup-crash-lock-');

  it('a second backup fails with ELOCKED naming the running one; with lock_timeout it waits for it', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const source = join(root, 'app.db');
    createLarge(source, 2);
    const dir = join(root, 'backups');
    mkdirSync(dir, { mode: 0o700 });
    const configPath = writeConfig(root, source, dir);
    // A real backup in another process, paused mid-way (snapshot verified, gzip not started).
    const child = spawn(process.execPath, [CHILD, configPath, 'pause:compress:1'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', () => out.includes('paused') && resolve());
        child.once('close', () => reject(new Error(`child exited before pausing: ${out}`)));
      });
      const during = readdirSync(dir).sort();
      await assert.rejects(backup(await loadConfig(configPath)), (e: unknown) => {
        assert.ok(isBackupError(e, ErrorCode.LOCKED), String(e));
        assert.match(e.message, new RegExp(`pid ${child.pid}\\b`));
        assert.equal(e.path, join(dir, 'app.lock'));
        return true;
      });
      assert.deepEqual(readdirSync(dir).sort(), during, 'the refused backup must not touch the directory');

      const waiting = join(root, 'waiting.toml');
      writeFileSync(waiting, readFileSync(configPath, 'utf8') + 'lock_timeout = "2s"\n');
      const t0 = Date.now();
      const second = backup(await loadConfig(waiting));
      setTimeout(() => child.stdin!.end('go\n'), 300);
      const result = await second;
      const waited = Date.now() - t0;
      assert.equal(await exited, 0, `the first backup must finish normally: ${out}`);
      assert.ok(waited >= 300, `waited ${waited} ms`);
      const first = /done (\S+)/.exec(out)?.[1];
      assert.ok(first && first !== result.name, out);
      assert.equal(await readLatest(dir), result.name);
      // keep_last = 1: the first backup was pruned by the second.
      assert.deepEqual(readdirSync(dir).sort(), [result.name, `${result.name}.sha256`, 'latest.txt'].sort());
      assert.ok((await verify(result.path)).ok);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('killed while taking the lock, again and again: the next backup is never blocked', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const source = join(root, 'taking.db');
    createLarge(source, 1);
    const dir = join(root, 'taking');
    const confDir = join(root, 'taking-config');
    mkdirSync(dir, { mode: 0o700 });
    mkdirSync(confDir);
    const configPath = writeConfig(confDir, source, dir);
    // The kill lands wherever the child is when inotify reports the first lock file: a lock created
    // in place but still empty (which an O_EXCL create + write leaves, and which blocked every backup
    // for an hour), or a lock temp file. Several tries, since the landing spot is timing.
    for (let i = 1; i <= 3; i++) {
      const child = await runChild(configPath, String.raw`file:^taking\.lock`);
      assert.equal(child.signal, 'SIGKILL', child.out + child.err);
      const left = readdirSync(dir)
        .filter((f) => f.startsWith('taking.lock'))
        .map((f) => `${f}=${JSON.stringify(readFileSync(join(dir, f), 'utf8'))}`);
      t.diagnostic(`try ${i}: the kill left ${left.join(', ') || 'no lock file'}`);
      const result = await backup(await loadConfig(configPath));
      const expected = [result.name, `${result.name}.sha256`, 'latest.txt'].sort();
      assert.deepEqual(readdirSync(dir).sort(), expected, `try ${i}, after ${left.join(', ')}`);
    }
  });

  it('lock_timeout gives up after the timeout and names the holder', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const source = join(root, 'other.db');
    createLarge(source, 1);
    const dir = join(root, 'other');
    const confDir = join(root, 'other-config');
    mkdirSync(dir, { mode: 0o700 });
    mkdirSync(confDir);
    const holder = spawn(process.execPath, [HOLDER, dir, 'other'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    holder.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.on('data', () => out.includes('locked') && resolve());
        holder.once('close', () => reject(new Error(`holder exited: ${out}`)));
      });
      const t0 = Date.now();
      await assert.rejects(backup(await loadConfig(writeConfig(confDir, source, dir, 'lock_timeout = "1s"\n'))), (e: unknown) => {
        assert.ok(isBackupError(e, ErrorCode.LOCKED), String(e));
        assert.match(e.message, new RegExp(`pid ${holder.pid}\\b.*waited 1000 ms`));
        return true;
      });
      assert.ok(Date.now() - t0 >= 990, `gave up after ${Date.now() - t0} ms`);
      assert.deepEqual(readdirSync(dir).sort(), ['other.lock'], "nothing but the holder's lock");
    } finally {
      const closed = new Promise((resolve) => holder.once('close', resolve));
      if (holder.exitCode === null && holder.signalCode === null) {
        holder.stdin!.end();
        await closed;
      }
    }
  });
});
