/**
 * The backup lock against real processes: a node child holding it, a dead child's pid left in a
 * stale lock, waiting, and release that never removes someone else's lock.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { acquireLock, lockPathFor } from '../src/format/lock.js';
import { isBackupError, ErrorCode } from '../src/errors.js';
import { tempDir } from './helpers/tmp.js';

const HOLDER = fileURLToPath(new URL('./fixtures/hold-lock.js', import.meta.url));

describe('acquireLock', () => {
  const root = tempDir();
  let n = 0;
  const fresh = (): string => {
    const d = join(root, `d${++n}`);
    mkdirSync(d, { mode: 0o700 });
    return d;
  };

  /** Starts the fixture and resolves once it holds the lock. */
  async function startHolder(dir: string): Promise<{ child: ChildProcess; stop(): Promise<string> }> {
    const child = spawn(process.execPath, [HOLDER, dir, 'app'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', () => out.includes('locked') && resolve());
      child.once('exit', (code) => reject(new Error(`holder exited early (${code}): ${out}`)));
    });
    return {
      child,
      async stop() {
        if (child.exitCode === null) {
          child.stdin!.end();
          await once(child, 'exit');
        }
        return out;
      },
    };
  }

  test('creates <dir>/<db>.lock 0600 with pid, hostname, startedAt; release removes it', async () => {
    const dir = fresh();
    const lock = await acquireLock(dir, 'app');
    assert.equal(lock.path, join(dir, 'app.lock'));
    const info = JSON.parse(readFileSync(lock.path, 'utf8'));
    assert.equal(info.pid, process.pid);
    assert.equal(info.hostname, hostname());
    assert.ok(Math.abs(Date.parse(info.startedAt) - Date.now()) < 60_000);
    if (process.platform !== 'win32') assert.equal(statSync(lock.path).mode & 0o777, 0o600);
    await lock.release();
    await lock.release(); // idempotent
    assert.deepEqual(readdirSync(dir), []);
  });

  test('a second acquire fails with ELOCKED naming the path, pid, host and since when', async () => {
    const dir = fresh();
    const lock = await acquireLock(dir, 'app');
    try {
      await assert.rejects(acquireLock(dir, 'app'), (e: unknown) => {
        assert.ok(isBackupError(e, ErrorCode.LOCKED));
        assert.match(e.message, new RegExp(`pid ${process.pid}\\b`));
        assert.ok(e.message.includes(lock.path) && e.message.includes(hostname()) && e.message.includes(lock.info.startedAt));
        assert.equal(e.path, lock.path);
        assert.equal(e.pid, process.pid, 'the holder\'s pid is a field too (for --json and programs)');
        assert.equal(e.host, hostname());
        return true;
      });
      // Another database in the same directory is not blocked.
      const other = await acquireLock(dir, 'other');
      await other.release();
    } finally {
      await lock.release();
    }
  });

  test('waits and succeeds when the holder releases within waitMs', async () => {
    const dir = fresh();
    const first = await acquireLock(dir, 'app');
    const started = Date.now();
    setTimeout(() => void first.release(), 300);
    const second = await acquireLock(dir, 'app', { waitMs: 5000, pollMs: 20 });
    const waited = Date.now() - started;
    assert.ok(waited >= 250 && waited < 4000, `waited ${waited} ms`);
    assert.equal(JSON.parse(readFileSync(second.path, 'utf8')).startedAt, second.info.startedAt);
    await second.release();
    assert.equal(existsSync(second.path), false);
  });

  test('gives up after waitMs; an abort stops the wait', async () => {
    const dir = fresh();
    const first = await acquireLock(dir, 'app');
    try {
      const t0 = Date.now();
      await assert.rejects(acquireLock(dir, 'app', { waitMs: 300, pollMs: 50 }), /held by pid .*waited 300 ms/);
      assert.ok(Date.now() - t0 >= 290);
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 100);
      await assert.rejects(acquireLock(dir, 'app', { waitMs: 10_000, signal: ac.signal }), (e: unknown) => isBackupError(e, ErrorCode.ABORTED));
    } finally {
      await first.release();
    }
  });

  test('a lock held by a live child process blocks; it is free once the child releases', async () => {
    const dir = fresh();
    const holder = await startHolder(dir);
    try {
      await assert.rejects(acquireLock(dir, 'app'), (e: unknown) => {
        assert.ok(isBackupError(e, ErrorCode.LOCKED));
        assert.match(e.message, new RegExp(`pid ${holder.child.pid}\\b`));
        return true;
      });
    } finally {
      assert.match(await holder.stop(), /released/);
    }
    const lock = await acquireLock(dir, 'app');
    await lock.release();
  });

  test('a stale lock of a dead pid on this host is taken over', async () => {
    const dir = fresh();
    const child = spawnSync(process.execPath, ['-e', '0']);
    const deadPid = child.pid!;
    assert.throws(() => process.kill(deadPid, 0), /ESRCH/, 'the child is gone');
    const path = lockPathFor(dir, 'app');
    writeFileSync(path, JSON.stringify({ pid: deadPid, hostname: hostname(), startedAt: new Date().toISOString() }), { mode: 0o600 });
    const lock = await acquireLock(dir, 'app');
    assert.equal(JSON.parse(readFileSync(path, 'utf8')).pid, process.pid);
    await lock.release();
    assert.deepEqual(readdirSync(dir), [], 'no moved-away stale lock left behind');
  });

  test('a lock whose holder crashed (killed child) is taken over', async () => {
    const dir = fresh();
    const holder = await startHolder(dir);
    holder.child.kill('SIGKILL');
    await once(holder.child, 'exit');
    assert.ok(existsSync(lockPathFor(dir, 'app')), 'the killed holder left its lock');
    const lock = await acquireLock(dir, 'app');
    assert.equal(JSON.parse(readFileSync(lock.path, 'utf8')).pid, process.pid);
    await lock.release();
  });

  test('many concurrent takeovers of one stale lock: exactly one wins', async () => {
    const dir = fresh();
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(lockPathFor(dir, 'app'), JSON.stringify({ pid: deadPid, hostname: hostname(), startedAt: new Date().toISOString() }));
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => acquireLock(dir, 'app')));
    const won = results.filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1);
    for (const r of results) if (r.status === 'rejected') assert.ok(isBackupError(r.reason, ErrorCode.LOCKED));
    await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLock>>>).value.release();
    assert.deepEqual(readdirSync(dir), []);
  });

  test('child processes racing to take over one stale lock: exactly one gets it', async () => {
    const dir = fresh();
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(lockPathFor(dir, 'app'), JSON.stringify({ pid: deadPid, hostname: hostname(), startedAt: new Date().toISOString() }));
    const children = Array.from({ length: 4 }, () => spawn(process.execPath, [HOLDER, dir, 'app'], { stdio: ['pipe', 'pipe', 'inherit'] }));
    const outcomes = await Promise.all(
      children.map(
        (c) =>
          new Promise<string>((resolve) => {
            let out = '';
            c.stdout!.on('data', (d: Buffer) => {
              out += d.toString();
              if (out.includes('locked')) resolve('locked');
            });
            c.once('exit', (code) => resolve(code === 3 && out.includes('busy') ? 'busy' : `exit ${code}: ${out}`));
          }),
      ),
    );
    try {
      assert.deepEqual([...outcomes].sort(), ['busy', 'busy', 'busy', 'locked']);
      const winner = children[outcomes.indexOf('locked')]!;
      assert.equal(JSON.parse(readFileSync(lockPathFor(dir, 'app'), 'utf8')).pid, winner.pid);
    } finally {
      for (const c of children) if (c.exitCode === null) c.stdin!.end();
      await Promise.all(children.map((c) => (c.exitCode === null ? once(c, 'exit') : undefined)));
    }
    assert.deepEqual(readdirSync(dir), [], 'the winner released, no marker left');
  });

  test('a break marker left by a process that died while breaking does not block, and is cleaned up', async () => {
    const dir = fresh();
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    const stale = JSON.stringify({ pid: deadPid, hostname: hostname(), startedAt: new Date().toISOString() });
    writeFileSync(lockPathFor(dir, 'app'), stale);
    writeFileSync(`${lockPathFor(dir, 'app')}.tmp-breaking`, stale);
    const lock = await acquireLock(dir, 'app');
    assert.deepEqual(readdirSync(dir), ['app.lock']);
    await lock.release();
    // A leftover marker alone is removed by the next successful acquire.
    writeFileSync(`${lockPathFor(dir, 'app')}.tmp-breaking`, stale);
    const again = await acquireLock(dir, 'app');
    assert.deepEqual(readdirSync(dir), ['app.lock']);
    await again.release();
    assert.deepEqual(readdirSync(dir), []);
  });

  test('a lock from another host is never broken, and the message says so', async () => {
    const dir = fresh();
    const path = lockPathFor(dir, 'app');
    const foreign = JSON.stringify({ pid: 999_999, hostname: 'elsewhere.example', startedAt: '2020-01-01T00:00:00.000Z' });
    writeFileSync(path, foreign);
    await assert.rejects(acquireLock(dir, 'app'), (e: unknown) => {
      assert.ok(isBackupError(e, ErrorCode.LOCKED));
      assert.match(e.message, /pid 999999 on host "elsewhere\.example" since 2020-01-01.*another host.*never broken/);
      assert.equal(e.host, 'elsewhere.example');
      return true;
    });
    assert.equal(readFileSync(path, 'utf8'), foreign);
  });

  test('an unparsable lock is held while young, stale after an hour', async () => {
    const dir = fresh();
    const path = lockPathFor(dir, 'app');
    writeFileSync(path, '');
    await assert.rejects(acquireLock(dir, 'app'), /unreadable/);
    assert.equal(readFileSync(path, 'utf8'), '');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    utimesSync(path, twoHoursAgo, twoHoursAgo);
    const lock = await acquireLock(dir, 'app');
    assert.equal(JSON.parse(readFileSync(path, 'utf8')).pid, process.pid);
    await lock.release();
  });

  test('a database name that could escape the directory is refused', async () => {
    await assert.rejects(acquireLock(fresh(), '../app'), RangeError);
  });

  test('release does not remove a lock that is no longer ours', async () => {
    const dir = fresh();
    const lock = await acquireLock(dir, 'app');
    // Someone (a person, or a takeover after we were presumed dead) replaced it.
    const theirs = JSON.stringify({ pid: 1, hostname: 'other', startedAt: new Date().toISOString() });
    writeFileSync(`${lock.path}.new`, theirs);
    const { renameSync } = await import('node:fs');
    renameSync(`${lock.path}.new`, lock.path);
    await lock.release();
    assert.equal(readFileSync(lock.path, 'utf8'), theirs);
  });
});
