/**
 * pull() over a LocalTransport (the SFTP transport's twin, same shared suite): finding the latest,
 * every check before publishing, resume rules, no-op runs, restore_to, Go layouts. The same flows
 * against a real sshd, with host keys and dropped connections, are in pull.sftp.test.ts.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backup, parseConfig, pull, WasmEngine, isBackupError, ErrorCode, type Config } from '../src/index.js';
import { LocalTransport } from '../src/transport/local/local.js';
import { acquireLock } from '../src/format/lock.js';
import { tempDir } from './helpers/tmp.js';
import { requirePeer, run, sqlite3 } from './helpers/peers.js';
import { createWithCli, nativeDump } from './helpers/databases.js';

describe('pull (local transport)', () => {
  const root = tempDir();
  const engine = new WasmEngine();
  after(() => engine.close());
  let n = 0;

  /** A server-side backup dir with `count` backups made by the real job, and a pull config for it. */
  async function setup(count = 1, extra = ''): Promise<{ dir: string; remote: string; local: string; config: Config; names: string[] }> {
    const dir = join(root, `case-${n++}`);
    mkdirSync(dir);
    createWithCli(join(dir, 'app.db'), { rows: 200 });
    const serverConfig = parseConfig('source_path = "app.db"\nbackup_dir = "remote"\n', { baseDir: dir });
    const names: string[] = [];
    for (let i = 0; i < count; i++) names.push((await backup(serverConfig, { engine })).name);
    const config = parseConfig(
      `[pull]\nhost = "unused"\nuser = "unused"\nremote_dir = "/unused"\nlocal_dir = "local"\n${extra}`,
      { baseDir: dir },
    );
    return { dir, remote: join(dir, 'remote'), local: join(dir, 'local'), config, names };
  }

  const pullFrom = (remote: string, config: Config, extra: Parameters<typeof pull>[1] = {}) =>
    pull(config, { engine, transport: new LocalTransport(remote), ...extra });

  it('pulls the latest: .gz, .sha256 and latest.txt, 0600 in a 0700 dir, the same database', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const { dir, remote, local, config, names } = await setup(2);
    const r = await pullFrom(remote, config);
    assert.equal(r.status, 'pulled');
    assert.equal(r.name, names[1]);
    assert.equal(r.remoteChecksum, 'ok');
    assert.deepEqual(readdirSync(local).sort(), [names[1], `${names[1]}.sha256`, 'latest.txt'].sort());
    assert.equal(readFileSync(join(local, 'latest.txt'), 'utf8'), names[1]);
    assert.equal(statSync(local).mode & 0o777, 0o700);
    for (const f of readdirSync(local)) assert.equal(statSync(join(local, f)).mode & 0o777, 0o600, f);
    assert.deepEqual(readFileSync(join(local, names[1]!)), readFileSync(join(remote, names[1]!)));
    run('sha256sum', ['-c', `${names[1]}.sha256`], { cwd: local });
    // Nothing new: a no-op that says so.
    const again = await pullFrom(remote, config);
    assert.equal(again.status, 'up-to-date');
    assert.deepEqual(readdirSync(local).sort(), [names[1], `${names[1]}.sha256`, 'latest.txt'].sort());
    const restored = join(dir, 'restored.db');
    await pullFrom(remote, config, { restoreTo: restored });
    assert.equal(nativeDump(restored, dir), nativeDump(join(dir, 'app.db'), dir));
  });

  it('a byte flipped on the server: ECHECKSUM, nothing published, the previous pull untouched', async () => {
    const { remote, local, config, names } = await setup(1);
    await pullFrom(remote, config);
    const before = readdirSync(local).sort();
    // A newer backup appears on the server, then gets damaged.
    const serverConfig = parseConfig('source_path = "app.db"\nbackup_dir = "remote"\n', { baseDir: join(remote, '..') });
    const newer = (await backup(serverConfig, { engine })).name;
    const gz = join(remote, newer);
    const bytes = readFileSync(gz);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    writeFileSync(gz, bytes);
    await assert.rejects(pullFrom(remote, config), (e: unknown) => {
      assert.ok(isBackupError(e, ErrorCode.CHECKSUM), String(e));
      assert.match((e as Error).message, /nothing was published/);
      return true;
    });
    assert.deepEqual(readdirSync(local).sort(), before, 'no .part, nothing new');
    assert.equal(readFileSync(join(local, 'latest.txt'), 'utf8'), names[0]);
    // Without a sidecar the gzip CRC (or the integrity check) still refuses it.
    writeFileSync(join(remote, `${newer}.sha256`), '');
    await assert.rejects(pullFrom(remote, config));
    run('sh', ['-c', 'rm "$1"', 'sh', join(remote, `${newer}.sha256`)]);
    await assert.rejects(pullFrom(remote, config), (e: unknown) => isBackupError(e, ErrorCode.INTEGRITY));
    assert.deepEqual(readdirSync(local).sort(), before);
  });

  it('a truncated remote file is refused and not resumed into', async () => {
    const { remote, local, config, names } = await setup(1);
    truncateSync(join(remote, names[0]!), Math.floor(statSync(join(remote, names[0]!)).size / 2));
    run('sh', ['-c', 'rm "$1"', 'sh', join(remote, `${names[0]}.sha256`)]);
    await assert.rejects(pullFrom(remote, config), (e: unknown) => isBackupError(e, ErrorCode.INTEGRITY));
    assert.deepEqual(readdirSync(local), []);
  });

  it('latest.txt naming ../../x or junk is refused; naming a missing file falls back to the newest name', async () => {
    const { remote, local, config, names } = await setup(2);
    for (const evil of ['../../x', '/etc/passwd', 'a/b.db.gz', 'notes.txt', `${names[0]}\nmore`]) {
      writeFileSync(join(remote, 'latest.txt'), evil);
      await assert.rejects(pullFrom(remote, config), (e: unknown) => {
        assert.ok(isBackupError(e, ErrorCode.BACKUP_NOT_FOUND), `${JSON.stringify(evil)}: ${String(e)}`);
        assert.match((e as Error).message, /refused/);
        return true;
      });
      assert.ok(!existsSync(local), `${JSON.stringify(evil)}: local_dir is not even made`);
    }
    writeFileSync(join(remote, 'latest.txt'), 'app-20990101T000000.000Z-vacuum.db.gz\n');
    assert.equal((await pullFrom(remote, config)).name, names[1]);
    run('sh', ['-c', 'rm "$1"', 'sh', join(remote, 'latest.txt')]);
    assert.equal((await pullFrom(remote, config)).status, 'up-to-date');
  });

  it('resumes a .part only while the remote file is unchanged, and always checks the whole file', async () => {
    const { remote, local, config, names } = await setup(1);
    const name = names[0]!;
    const full = readFileSync(join(remote, name));
    const st = statSync(join(remote, name));
    mkdirSync(local, { mode: 0o700 });
    const meta = (mtimeMs: number) => JSON.stringify({ name, size: full.length, mtimeMs });
    writeFileSync(join(local, `${name}.part`), full.subarray(0, 100));
    writeFileSync(join(local, `${name}.part.json`), meta(st.mtimeMs));
    const resumed = await pullFrom(remote, config);
    assert.equal(resumed.resumedFrom, 100);
    assert.deepEqual(readFileSync(join(local, name)), full);
    // A part of an older edition of the file (other mtime): thrown away, not spliced.
    run('sh', ['-c', 'rm "$1"/*', 'sh', local]);
    writeFileSync(join(local, `${name}.part`), Buffer.alloc(100, 7));
    writeFileSync(join(local, `${name}.part.json`), meta(st.mtimeMs - 5000));
    const fresh = await pullFrom(remote, config);
    assert.equal(fresh.resumedFrom, 0);
    assert.deepEqual(readFileSync(join(local, name)), full);
    // A poisoned part with the right metadata: the whole-file hash catches it, and it is deleted.
    run('sh', ['-c', 'rm "$1"/*', 'sh', local]);
    writeFileSync(join(local, `${name}.part`), Buffer.alloc(100, 7));
    writeFileSync(join(local, `${name}.part.json`), meta(st.mtimeMs));
    await assert.rejects(pullFrom(remote, config), (e: unknown) => isBackupError(e, ErrorCode.CHECKSUM));
    assert.deepEqual(readdirSync(local), []);
    assert.equal((await pullFrom(remote, config)).resumedFrom, 0);
  });

  it('Go layouts: v1 and upstream names, latest.txt without newline, no sidecars', async (t) => {
    if (!requirePeer(t, 'sqlite3') || !requirePeer(t, 'gzip')) return;
    const dir = join(root, `go-${n++}`);
    const remote = join(dir, 'remote');
    mkdirSync(remote, { recursive: true });
    sqlite3(join(dir, 'v1.db'), "CREATE TABLE v(x); INSERT INTO v VALUES ('go v1');");
    sqlite3(join(dir, 'up.db'), "CREATE TABLE v(x); INSERT INTO v VALUES ('go upstream');");
    run('sh', ['-c', 'gzip -c "$1" > "$2"', 'sh', join(dir, 'v1.db'), join(remote, 'db-backup-2025-01-02T15-04-05Z.db.gz')]);
    run('sh', ['-c', 'gzip -c "$1" > "$2"', 'sh', join(dir, 'up.db'), join(remote, 'app-2025-03-04T05-06-07Z-online.bck.gz')]);
    writeFileSync(join(remote, 'latest.txt'), 'db-backup-2025-01-02T15-04-05Z.db.gz');
    const config = parseConfig('[pull]\nhost = "h"\nuser = "u"\nremote_dir = "/r"\nlocal_dir = "local"\n', { baseDir: dir });
    const r1 = await pullFrom(remote, config, { restoreTo: join(dir, 'r1.db') });
    assert.equal(r1.name, 'db-backup-2025-01-02T15-04-05Z.db.gz');
    assert.equal(r1.remoteChecksum, 'absent');
    assert.equal(sqlite3(join(dir, 'r1.db'), 'SELECT x FROM v').stdout.trim(), 'go v1');
    run('sh', ['-c', 'rm "$1"', 'sh', join(remote, 'latest.txt')]);
    const r2 = await pullFrom(remote, config, { restoreTo: join(dir, 'r2.db') });
    assert.equal(r2.name, 'app-2025-03-04T05-06-07Z-online.bck.gz', 'without latest.txt: the newest timestamp');
    assert.equal(sqlite3(join(dir, 'r2.db'), 'SELECT x FROM v').stdout.trim(), 'go upstream');
  });

  it('restore_to after a pull puts the checked scratch database in place: one gunzip and one integrity_check, the previous database kept aside', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const { dir, remote, config } = await setup(1);
    const target = join(dir, 'live.db');
    writeFileSync(target, 'the previous database', { mode: 0o640 });
    let checks = 0;
    const counting = Object.assign(Object.create(engine) as typeof engine, {
      integrityCheck: (...args: Parameters<typeof engine.integrityCheck>) => {
        checks++;
        return engine.integrityCheck(...args);
      },
    });
    const r = await pull(config, { engine: counting, transport: new LocalTransport(remote), restoreTo: target });
    assert.equal(r.restoredTo, target);
    assert.equal(checks, 1, 'the pull checks the backup once; the restore reuses that check');
    assert.equal(nativeDump(target, dir), nativeDump(join(dir, 'app.db'), dir));
    assert.equal(statSync(target).mode & 0o777, 0o640, 'the replaced database mode');
    const aside = readdirSync(dir).filter((f) => f.startsWith('live.db.before-restore-'));
    assert.equal(aside.length, 1);
    assert.equal(readFileSync(join(dir, aside[0]!), 'utf8'), 'the previous database');
    // No scratch database or temp file is left anywhere.
    assert.deepEqual(readdirSync(join(dir, 'local')).filter((f) => !/\.db\.gz(\.sha256)?$|^latest\.txt$/.test(f)), []);
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp-')), []);
  });

  it('the remote sidecar read alongside the lock: a held lock is ELOCKED before a bad sidecar; a bad sidecar is ECHECKSUM, the lock released', async () => {
    const { remote, local, config, names } = await setup(1);
    writeFileSync(join(remote, `${names[0]}.sha256`), 'not a sidecar\n');
    mkdirSync(local, { mode: 0o700 });
    const held = await acquireLock(local, 'pull');
    try {
      await assert.rejects(pullFrom(remote, config), (e: unknown) => isBackupError(e, ErrorCode.LOCKED));
    } finally {
      await held.release();
    }
    await assert.rejects(pullFrom(remote, config), (e: unknown) => isBackupError(e, ErrorCode.CHECKSUM) && /malformed checksum file/.test(String(e)));
    assert.deepEqual(readdirSync(local), [], 'no lock, part or scratch file left');
  });

  it('an empty or missing remote directory: EBACKUP_NOT_FOUND, nothing written', async () => {
    const { dir, config } = await setup(0);
    await assert.rejects(pullFrom(join(dir, 'nowhere'), config), (e: unknown) => isBackupError(e, ErrorCode.BACKUP_NOT_FOUND));
    assert.ok(!existsSync(join(dir, 'local')), 'local_dir is not even made');
  });
});
