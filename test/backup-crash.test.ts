/**
 * Crash safety of backup(): the job runs in a child process (fixtures/backup-child.ts) that SIGKILLs
 * itself at a chosen point - every phase boundary, inside the long phases, inside each atomic write
 * (inotify on its temp file) - or is SIGKILLed by us after a delay. After every kill, with a previous
 * backup in the directory and on a first run:
 *   - latest.txt is absent (first run, not yet published) or names a complete backup: verify() ok,
 *     `gzip -t` ok, `sha256sum -c` of its sidecar ok;
 *   - nothing under a final name is partial: every *.db.gz passes `gzip -t`, every sidecar whose
 *     backup exists passes `sha256sum -c`;
 *   - the source database is unchanged (sha256, size and mtime of it and its side files);
 *   - the next backup(), in this process, succeeds and leaves only backups, sidecars and latest.txt.
 * Plus the lock: a second backup while one runs fails with ELOCKED naming its pid, or waits for it
 * with lock_timeout.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { backup } from '../src/api/backup.js';
import { loadConfig } from '../src/config/config.js';
import { readLatest } from '../src/format/manifest.js';
import { verify } from '../src/api/verify.js';
import { WasmEngine, type Engine } from '../src/engine/index.js';
import { ErrorCode, isBackupError } from '../src/errors.js';
import { createLarge, fingerprint } from './helpers/databases.js';
import { requirePeer } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const CHILD = fileURLToPath(new URL('./fixtures/backup-child.js', import.meta.url));
const HOLDER = fileURLToPath(new URL('./fixtures/hold-lock.js', import.meta.url));
const BACKUP_NAME = /^app-\d{8}T\d{6}\.\d{3}Z-vacuum(?:-\d+)?\.db\.gz$/;
/** What a finished run may leave: backups, their sidecars, latest.txt. */
const isFinal = (f: string): boolean => f === 'latest.txt' || BACKUP_NAME.test(f.replace(/\.sha256$/, ''));

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  ms: number;
}

/** Runs the fixture to its end; `killAfterMs` SIGKILLs it from here instead of from inside. */
function runChild(configPath: string, spec: string, killAfterMs?: number): Promise<ChildRun> {
  const t0 = Date.now();
  const child = spawn(process.execPath, [CHILD, configPath, spec], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const timers = [setTimeout(() => child.kill('SIGKILL'), killAfterMs ?? 30_000)];
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      timers.forEach(clearTimeout);
      resolve({ code, signal, out, ms: Date.now() - t0 });
    });
  });
}

/** Starts a child that keeps running; resolves once its output contains `ready`. */
async function startChild(args: string[], ready: string): Promise<{ child: ChildProcess; out: () => string; closed: Promise<number | null> }> {
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()).includes(ready) && resolve());
    void closed.then(() => reject(new Error(`${args[0]} exited before "${ready}": ${out}`)));
  });
  return { child, out: () => out, closed };
}

function writeConfig(dir: string, source: string, backupDir: string, extra = ''): string {
  mkdirSync(dir, { recursive: true });
  mkdirSync(backupDir, { recursive: true, mode: 0o700 });
  const path = join(dir, 'backup.toml');
  // compression_level 0 (stored deflate blocks): crash safety is about the file protocol, the same
  // at every level; storing keeps each run short, so ~40 kills fit in the time budget.
  const toml = `source_path = ${JSON.stringify(source)}\nbackup_dir = ${JSON.stringify(backupDir)}\nkeep_last = 1\ncompression_level = 0\n`;
  writeFileSync(path, toml + extra);
  return path;
}

/** Exit status 0? Asynchronous, so the other lane's backup runs meanwhile (peers.run blocks). */
function succeeds(cmd: string, args: string[], cwd?: string): Promise<boolean> {
  return new Promise((resolve) => spawn(cmd, args, { cwd, stdio: 'ignore' }).once('close', (code) => resolve(code === 0)));
}
const gzipOk = (path: string): Promise<boolean> => succeeds('gzip', ['-t', path]);
const sidecarOk = (dir: string, name: string): Promise<boolean> => succeeds('sha256sum', ['--check', '--strict', `${name}.sha256`], dir);

/**
 * verify() memoised by the file's sha256: the source does not change and our gzip output is
 * deterministic, so most backups are byte-identical, and equal bytes get equal verdicts. `gzip -t`
 * and `sha256sum -c` still run on every file.
 */
const verdicts = new Map<string, Promise<boolean>>();
function verifyOk(path: string, engine: Engine): Promise<boolean> {
  const key = createHash('sha256').update(readFileSync(path)).digest('hex');
  if (!verdicts.has(key)) verdicts.set(key, verify(path, { engine }).then((r) => r.ok));
  return verdicts.get(key)!;
}

interface KillPoint {
  /** The fixture's kill spec (see backup-child.ts); unused with killAfterMs. */
  spec: string;
  /** Where the job is at that moment, for the failure message. */
  why: string;
  /** What latest.txt must name afterwards: the old state, the new backup, or either (timing). */
  latest: 'old' | 'new' | 'either';
  /** Also run on a first run. */
  firstRun?: boolean;
  killAfterMs?: number;
}

const KILL_POINTS: KillPoint[] = [
  { spec: 'lock:1', why: 'before the lock is taken', latest: 'old' },
  // The first file of the lock protocol to appear: its temp file, or the lock if created in place.
  { spec: String.raw`file:^app\.lock`, why: 'lock being created', latest: 'old', firstRun: true },
  { spec: String.raw`file:^app\.lock$`, why: 'lock in place, its temp maybe not yet removed', latest: 'old' },
  { spec: 'snapshot:1', why: 'lock held, nothing written yet', latest: 'old' },
  { spec: String.raw`file:\.source\.tmp-`, why: 'private copy of the source being written', latest: 'old' },
  { spec: String.raw`file:^app\.snapshot\.tmp-[0-9a-f]+$`, why: 'VACUUM INTO target just created', latest: 'old' },
  { spec: 'snapshot@0', why: 'VACUUM INTO running (first progress event)', latest: 'old', firstRun: true },
  { spec: 'verify:1', why: 'snapshot complete, not yet checked', latest: 'old' },
  { spec: 'verify@0', why: 'integrity_check running', latest: 'old' },
  { spec: 'compress:1', why: 'snapshot verified, gzip not started', latest: 'old' },
  { spec: 'compress:2', why: 'gzip temp file created, empty', latest: 'old' },
  { spec: 'compress@0.4', why: 'gzip 40% through or more', latest: 'old', firstRun: true },
  { spec: 'compress@0.8', why: 'gzip 80% through or more', latest: 'old' },
  { spec: 'compressed:1', why: '.gz complete under its final name, no sidecar yet', latest: 'old', firstRun: true },
  { spec: String.raw`file:\.sha256\.tmp-`, why: 'sidecar temp file being written', latest: 'old' },
  { spec: 'sidecar:1', why: 'sidecar written, latest.txt not yet', latest: 'old', firstRun: true },
  // The kill lands in one of writeFileAtomic's awaits: before or after its rename is timing.
  { spec: String.raw`file:(^latest\.txt|\.latest)\.tmp-`, why: 'latest.txt temp file being written', latest: 'either', firstRun: true },
  { spec: 'published:1', why: 'latest.txt names the new backup', latest: 'new', firstRun: true },
  { spec: 'prune:1', why: 'published, retention not yet applied', latest: 'new' },
  // (After done, backup() releases the lock and resolves: the state of any finished run.)
  { spec: 'done:1', why: 'pruned, lock not yet released', latest: 'new', firstRun: true },
];

describe('backup() killed with SIGKILL at any point', () => {
  const root = tempDir('sqlite-backup-crash-');
  const source = join(root, 'app.db');
  let n = 0;

  /** The source, and a directory holding one complete, published backup of it, made by a child. */
  let setup: Promise<{ before: string; template: string; previous: string; fullRunMs: number }> | undefined;
  const prepare = () =>
    (setup ??= (async () => {
      // ~5.4 MB: progress events inside each long phase (the engine reports after its first 20000
      // VM steps, gzip per 1 MiB chunk), yet short runs, for ~40 kills in the time budget.
      createLarge(source, 4);
      const template = join(root, 'template');
      const dry = await runChild(writeConfig(root, source, template), 'none');
      assert.equal(dry.code, 0, `the uninterrupted child run must succeed: ${dry.out}`);
      const previous = (await readLatest(template))!;
      assert.match(previous, BACKUP_NAME);
      return { before: JSON.stringify(fingerprint(source)), template, previous, fullRunMs: dry.ms };
    })());

  /** Runs one kill point in a fresh directory; returns the problems found (none when all is well). */
  async function crashCase(point: KillPoint, withPrevious: boolean, engine: Engine): Promise<string[]> {
    const { before, template, previous } = await prepare();
    const caseDir = join(root, `case${++n}`);
    const dir = join(caseDir, 'backups');
    const configPath = writeConfig(caseDir, source, dir);
    if (withPrevious) for (const f of readdirSync(template)) copyFileSync(join(template, f), join(dir, f));
    const child = await runChild(configPath, point.killAfterMs === undefined ? point.spec : 'none', point.killAfterMs);
    const problems: string[] = [];
    const expect = (ok: boolean, what: string): void => void (ok || problems.push(what));
    const lines = child.out.split('\n');
    const killLine = lines.find((l) => l.startsWith('kill ')) ?? `last: ${lines.filter((l) => l.startsWith('event ')).pop()}`;
    if (point.killAfterMs === undefined) expect(child.signal === 'SIGKILL' && killLine.startsWith('kill '), `kill point not reached: ${child.out}`);
    else expect(child.signal === 'SIGKILL' || child.code === 0, `child failed (exit ${child.code}): ${child.out}`);

    // Right after the crash. Temp files and the lock may stay (the next run removes them). A .gz
    // without a sidecar may too: gzipFile fsyncs it before renaming it to its final name, so it is
    // complete, only unpublished (readers go by latest.txt; retention removes it later).
    const files = readdirSync(dir).sort();
    for (const f of files) expect(isFinal(f) || f.includes('.tmp-') || f === 'app.lock', `unexpected file after the crash: ${f}`);
    for (const f of files.filter((f) => BACKUP_NAME.test(f))) {
      expect(await gzipOk(join(dir, f)), `partial file under a final name: ${f} fails gzip -t`);
      // A sidecar without its backup can only come from a kill inside prune, which removes the
      // backup first: junk, not a lie about a file, and the next prune removes it (checked below).
      if (files.includes(`${f}.sha256`)) expect(await sidecarOk(dir, f), `${f}.sha256 does not match its backup (sha256sum -c)`);
    }
    const latest = await readLatest(dir);
    if (latest !== undefined) {
      const complete = files.includes(latest) && files.includes(`${latest}.sha256`) && (await sidecarOk(dir, latest));
      const ok = complete && (await gzipOk(join(dir, latest))) && (await verifyOk(join(dir, latest), engine));
      expect(ok, `latest.txt names ${latest}: missing, without a valid sidecar, or not verifiable`);
    }
    const published = latest !== undefined && latest !== previous;
    const old = withPrevious ? latest === previous : latest === undefined;
    if (point.latest === 'old') expect(old, `latest.txt must still be the old state, is ${latest}`);
    if (point.latest === 'new') expect(published, `latest.txt must name the new backup, is ${latest}`);
    expect(old || published, `latest.txt is ${latest}`);
    expect(JSON.stringify(fingerprint(source)) === before, 'the source database changed');

    // The next run cleans up after the dead one and succeeds. It uses the lane's engine (saves a
    // worker and a wasm compile per run); the killed runs had their own, as by default.
    try {
      const result = await backup(await loadConfig(configPath), { engine });
      const after = readdirSync(dir).sort();
      expect(after.every(isFinal), `left after the next run: ${after.filter((f) => !isFinal(f)).join(', ')}`);
      expect((await readLatest(dir)) === result.name, 'the next run did not publish its backup');
      for (const f of after.filter((f) => BACKUP_NAME.test(f))) expect(await gzipOk(join(dir, f)), `${f} fails gzip -t after the next run`);
      for (const f of after.filter((f) => f.endsWith('.sha256'))) {
        expect(await sidecarOk(dir, f.slice(0, -'.sha256'.length)), `${f} is orphaned or wrong after the next run`);
      }
      expect(await verifyOk(result.path, engine), `the next run's ${result.name} does not verify`);
    } catch (e) {
      problems.push(`the next backup failed: ${(e as Error).message}`);
    }
    expect(JSON.stringify(fingerprint(source)) === before, 'the source database changed in the next run');
    return problems.map((p) => `${p}\n      files after the kill: ${files.join(' ')}\n      ${killLine}`);
  }

  /** Runs the points two at a time (two cores) and fails once, listing every point that failed. */
  async function runAll(points: KillPoint[], withPrevious: boolean): Promise<void> {
    const failures: string[] = [];
    const queue = [...points];
    const lane = async (): Promise<void> => {
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
    await Promise.all([lane(), lane()]);
    assert.equal(failures.length, 0, `${failures.length} of ${points.length} kill points failed:\n${failures.join('\n')}`);
  }

  const peers = (t: TestContext): boolean => requirePeer(t, 'sqlite3') && requirePeer(t, 'gzip') && requirePeer(t, 'sha256sum');

  it('with a previous backup: the old state or the new one, never a partial one', async (t) => {
    if (peers(t)) await runAll(KILL_POINTS, true);
  });

  // A first run differs only in latest.txt's absence and an empty prune: the points inside each long
  // phase, around every write that concerns publication, and after it (the time budget allows no more).
  it('on a first run: no latest.txt until the backup is complete', async (t) => {
    if (peers(t)) await runAll(KILL_POINTS.filter((p) => p.firstRun), false);
  });

  it('at timed delays from the parent', async (t) => {
    if (!peers(t)) return;
    const { fullRunMs } = await prepare();
    const timed = (f: number, why: string): KillPoint => ({ spec: '', why, latest: 'either', killAfterMs: Math.round(f * fullRunMs) });
    await runAll([timed(0.3, 'early'), timed(0.6, 'middle'), timed(0.9, 'late')], true);
  });
});

describe('backup() and the lock', () => {
  const root = tempDir('sqlite-backup-crash-lock-');
  const dbAndConfig = (name: string, extra = ''): { dir: string; configPath: string } => {
    const source = join(root, `${name}.db`);
    createLarge(source, 1); // small: what a paused run has left to do takes well under lock_timeout
    const dir = join(root, name);
    return { dir, configPath: writeConfig(join(root, `${name}-config`), source, dir, extra) };
  };

  it('a second backup fails with ELOCKED naming the running one; with lock_timeout it waits for it', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const { dir, configPath } = dbAndConfig('app');
    // A real backup in another process, paused mid-way (snapshot verified, gzip not started).
    const { child, out, closed } = await startChild([CHILD, configPath, 'pause:compress:1'], 'paused');
    try {
      const during = readdirSync(dir).sort();
      await assert.rejects(backup(await loadConfig(configPath)), (e: unknown) => {
        assert.ok(isBackupError(e, ErrorCode.LOCKED), String(e));
        assert.match(e.message, new RegExp(`pid ${child.pid}\\b`));
        assert.equal(e.path, join(dir, 'app.lock'));
        return true;
      });
      assert.deepEqual(readdirSync(dir).sort(), during, 'the refused backup must not touch the directory');

      writeFileSync(configPath, `${readFileSync(configPath, 'utf8')}lock_timeout = "2s"\n`);
      const t0 = Date.now();
      const second = backup(await loadConfig(configPath));
      setTimeout(() => child.stdin!.end('go\n'), 300);
      const result = await second;
      assert.ok(Date.now() - t0 >= 300, `waited ${Date.now() - t0} ms`);
      assert.equal(await closed, 0, `the first backup must finish normally: ${out()}`);
      const first = /done (\S+)/.exec(out())?.[1];
      assert.ok(first !== undefined && first !== result.name, out());
      assert.equal(await readLatest(dir), result.name);
      // keep_last = 1: the second run pruned the first one's backup.
      assert.deepEqual(readdirSync(dir).sort(), [result.name, `${result.name}.sha256`, 'latest.txt'].sort());
      assert.ok((await verify(result.path)).ok);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('killed while taking the lock, again and again: the next backup is never blocked', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const { dir, configPath } = dbAndConfig('taking');
    // The kill lands wherever the child is when inotify reports the first lock file: a lock created
    // in place but still empty (an O_EXCL create + write leaves that, and it blocked every backup for
    // an hour), or a lock temp file. Several tries, since where it lands is timing.
    for (let i = 1; i <= 2; i++) {
      const child = await runChild(configPath, String.raw`file:^taking\.lock`);
      assert.equal(child.signal, 'SIGKILL', child.out);
      const left = readdirSync(dir)
        .filter((f) => f.startsWith('taking.lock'))
        .map((f) => `${f}=${JSON.stringify(readFileSync(join(dir, f), 'utf8'))}`);
      t.diagnostic(`try ${i}: the kill left ${left.join(', ') || 'no lock file'}`);
      const result = await backup(await loadConfig(configPath));
      assert.deepEqual(readdirSync(dir).sort(), [result.name, `${result.name}.sha256`, 'latest.txt'].sort(), `try ${i}, after ${left}`);
    }
  });

  it('lock_timeout gives up after the timeout and names the holder', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const { dir, configPath } = dbAndConfig('other', 'lock_timeout = "1s"\n');
    const { child: holder, closed } = await startChild([HOLDER, dir, 'other'], 'locked');
    try {
      const t0 = Date.now();
      await assert.rejects(backup(await loadConfig(configPath)), (e: unknown) => {
        assert.ok(isBackupError(e, ErrorCode.LOCKED), String(e));
        assert.match(e.message, new RegExp(`pid ${holder.pid}\\b.*waited 1000 ms`));
        return true;
      });
      assert.ok(Date.now() - t0 >= 990, `gave up after ${Date.now() - t0} ms`);
      assert.deepEqual(readdirSync(dir), ['other.lock'], "nothing but the holder's lock");
    } finally {
      holder.stdin!.end();
      await closed;
    }
  });
});
