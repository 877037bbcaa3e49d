/**
 * Encrypted backups, the write side: gzip then age into `<name>.db.gz.age`, judged by the real `age`
 * CLI (`age -d -i key | gunzip` gives the database, checked by the native sqlite3), with one and two
 * recipients, an `age -R` recipients file, the library option, the restinpieces-backup entries, the
 * CLI's output, a push to a real OpenSSH sshd. And what must never happen: a plaintext file (SQLite
 * or gzip magic) in backup_dir or at a destination, the private work directory left behind, a
 * secret key in a message.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, type TestContext } from 'node:test';
import { backup, type BackupResult } from '../src/api/backup.js';
import { loadConfig, parseConfig } from '../src/config/config.js';
import { readLatest } from '../src/format/manifest.js';
import { workDirPrefix } from '../src/api/workdir.js';
import { AGE_MAGIC } from '../src/crypto/age-stream.js';
import { WasmEngine } from '../src/engine/index.js';
import { ErrorCode, isBackupError } from '../src/errors.js';
import { corruptBtreePage, createLarge, createWithCli, nativeDump } from './helpers/databases.js';
import { requirePeer, run, sqlite3 } from './helpers/peers.js';
import { sshdSkipReason, startSshd, type Sshd } from './helpers/sshd.js';
import { withTmpfs } from './helpers/mounts.js';
import { tempDir } from './helpers/tmp.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const sb = (args: string[], env: NodeJS.ProcessEnv = {}) => run(process.execPath, [cli, ...args], { allowFail: true, env: { ...process.env, ...env } });
const root = tempDir('sqlite-backup-enc-');
// The work directories go to $TMPDIR (os.tmpdir()): a root of our own, so the test sees them all.
const tmpRoot = join(root, 'tmp');
mkdirSync(tmpRoot);
process.env.TMPDIR = tmpRoot;
const workDirs = () => readdirSync(tmpRoot).filter((f) => f.startsWith('sqlite-backup-work-'));
let n = 0;
function fresh(): string {
  const d = join(root, `c${++n}`);
  mkdirSync(d);
  return d;
}
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const peers = (t: TestContext) => requirePeer(t, 'age') && requirePeer(t, 'age-keygen') && requirePeer(t, 'sqlite3') && requirePeer(t, 'gzip');

interface Key {
  path: string;
  recipient: string;
  secret: string;
}
function makeKey(dir: string, name = 'key.txt'): Key {
  const path = join(dir, name);
  run('age-keygen', ['-o', path]);
  const recipient = run('age-keygen', ['-y', path]).stdout.trim();
  const secret = /AGE-SECRET-KEY-1\w+/.exec(readFileSync(path, 'utf8'))![0];
  return { path, recipient, secret };
}

/** `age -d -i key file | gunzip > out`: the real tools; throws when age refuses. */
function decryptWithAge(file: string, key: string, out: string): void {
  run('sh', ['-c', 'age -d -i "$1" "$2" | gunzip > "$3" && test -s "$3"', 'sh', key, file, out]);
}
function ageRefuses(file: string, key: string): boolean {
  return run('age', ['-d', '-i', key, '-o', '/dev/null', file], { allowFail: true }).status !== 0;
}

/** What no file in a published place may start with: SQLite's header or gzip's magic. */
function plaintextFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => {
    const p = join(dir, f);
    if (!statSync(p).isFile()) return false;
    const head = readFileSync(p).subarray(0, 16);
    return head.toString('latin1').startsWith('SQLite format 3') || (head[0] === 0x1f && head[1] === 0x8b);
  });
}

/** The backup as the age CLI and sqlite3 see it: decrypts, passes integrity_check, same dump as the source. */
function judge(file: string, key: string, source: string): void {
  const db = `${file}.restored-${++n}.db`;
  decryptWithAge(file, key, db);
  assert.equal(sqlite3(db, 'PRAGMA integrity_check;').stdout.trim(), 'ok');
  assert.equal(nativeDump(db, root), nativeDump(source, root));
}

function config(d: string, body: string, extra = ''): string {
  const path = join(d, 'backup.toml');
  writeFileSync(path, `source_path = "app.db"\nbackup_dir = "backups"\n${extra}\n${body}`);
  return path;
}

describe('backup with [encryption]', () => {
  const engine = new WasmEngine();
  after(() => engine.close());

  it('publishes only <name>.db.gz.age, its sidecar and latest.txt; age -d | gunzip gives the database', async (t) => {
    if (!peers(t)) return;
    const d = fresh();
    createWithCli(join(d, 'app.db'), { rows: 3000 });
    const key = makeKey(d);
    const r = await backup(await loadConfig(config(d, `[encryption]\nage_recipients = ["${key.recipient}"]\n`)), { engine });
    const dir = join(d, 'backups');
    assert.match(r.name, /^app-\d{8}T\d{6}\.\d{3}Z-vacuum\.db\.gz\.age$/);
    assert.deepEqual(readdirSync(dir).sort(), [r.name, `${r.name}.sha256`, 'latest.txt'].sort());
    for (const f of readdirSync(dir)) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
    assert.equal(await readLatest(dir), r.name);
    assert.equal(readFileSync(r.path).subarray(0, AGE_MAGIC.length).toString('latin1'), AGE_MAGIC);
    // The sidecar and the result describe the file as published: the encrypted bytes.
    run('sha256sum', ['--check', '--strict', `${r.name}.sha256`], { cwd: dir });
    assert.equal(r.sha256, sha(r.path));
    assert.equal(r.gzBytes, statSync(r.path).size);
    assert.equal(r.encrypted, true);
    assert.equal(r.recipients, 1);
    assert.deepEqual(plaintextFiles(dir), []);
    assert.deepEqual(workDirs(), [], 'the private work directory is removed');
    judge(r.path, key.path, join(d, 'app.db'));
    // Another key cannot.
    assert.ok(ageRefuses(r.path, makeKey(d, 'other.txt').path));
  });

  it('two recipients: each key decrypts it; an age -R recipients file works the same', async (t) => {
    if (!peers(t)) return;
    const d = fresh();
    createWithCli(join(d, 'app.db'), { rows: 500 });
    const [a, b] = [makeKey(d, 'a.txt'), makeKey(d, 'b.txt')];
    const listed = await backup(await loadConfig(config(d, `[encryption]\nage_recipients = ["${a.recipient}", "${b.recipient}"]\n`)), { engine });
    assert.equal(listed.recipients, 2);
    for (const k of [a, b]) judge(listed.path, k.path, join(d, 'app.db'));

    writeFileSync(join(d, 'recipients.txt'), `# the team's keys\n${a.recipient}\n\n  ${b.recipient.toUpperCase()}  \n`);
    const fromFile = await backup(await loadConfig(config(d, '[encryption]\nage_recipients_file = "recipients.txt"\n')), { engine });
    assert.equal(fromFile.recipients, 2);
    for (const k of [a, b]) judge(fromFile.path, k.path, join(d, 'app.db'));
    assert.deepEqual(workDirs(), []);
  });

  it('the library option encryption: { recipients } encrypts, replacing the config\'s; a bad recipient is ECONFIG before anything is written, never echoing a secret', async (t) => {
    if (!peers(t)) return;
    const d = fresh();
    createWithCli(join(d, 'app.db'), { rows: 200 });
    const [a, b] = [makeKey(d, 'a.txt'), makeKey(d, 'b.txt')];
    const base = { ...parseConfig(`[encryption]\nage_recipients = ["${a.recipient}"]\n`), sourcePath: join(d, 'app.db'), backupDir: join(d, 'backups') };
    const r = await backup(base, { engine, encryption: { recipients: [b.recipient] } });
    judge(r.path, b.path, join(d, 'app.db'));
    assert.ok(ageRefuses(r.path, a.path), "the option replaces the config's recipients");
    const plain = { ...base, encryption: undefined, backupDir: join(d, 'other') };
    const viaOption = await backup(plain, { engine, encryption: { recipients: [a.recipient] } });
    assert.equal(viaOption.encrypted, true);

    for (const [recipients, re] of [
      [[a.secret], /recipient 1: this is a secret key/],
      [[a.recipient, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEx'], /recipient 2: ssh-\* recipients are not supported/],
      [[], /at least one recipient/],
    ] as const) {
      const target = join(d, `refused-${recipients.length}`);
      await assert.rejects(backup({ ...plain, backupDir: target }, { engine, encryption: { recipients: [...recipients] } }), (e: unknown) => {
        assert.ok(isBackupError(e, ErrorCode.CONFIG), String(e));
        assert.match(e.message, re);
        assert.doesNotMatch(e.message, /AGE-SECRET-KEY-1/);
        return true;
      });
      assert.equal(existsSync(target), false, 'nothing created');
    }
  });

  it('no plaintext and no work directory left on any exit path: an abort mid-gzip, a damaged source', async (t) => {
    if (!peers(t)) return;
    const d = fresh();
    createLarge(join(d, 'app.db'), 6);
    const key = makeKey(d);
    const cfg = await loadConfig(config(d, `[encryption]\nage_recipients = ["${key.recipient}"]\n`, 'compression_level = 1'));
    const dir = join(d, 'backups');
    const ac = new AbortController();
    let sawWorkDir = false;
    await assert.rejects(
      backup(cfg, {
        engine,
        signal: ac.signal,
        onProgress: (p) => {
          if (p.phase === 'verify') sawWorkDir ||= workDirs().length === 1;
          if (p.phase === 'compress' && (p.bytesDone ?? 0) > 0) ac.abort();
        },
      }),
      (e: unknown) => isBackupError(e, ErrorCode.ABORTED),
    );
    assert.ok(sawWorkDir, 'the snapshot was in a work directory under $TMPDIR');
    assert.deepEqual(readdirSync(dir), [], 'nothing left in backup_dir');
    assert.deepEqual(workDirs(), []);

    // A damaged source: the snapshot fails (VACUUM INTO or integrity_check), nothing is kept.
    const bad = join(d, 'bad.db');
    copyFileSync(join(d, 'app.db'), bad);
    corruptBtreePage(bad, 'big');
    await assert.rejects(backup({ ...cfg, sourcePath: bad }, { engine }), (e: unknown) => isBackupError(e) && e.code !== ErrorCode.ABORTED);
    assert.deepEqual(readdirSync(dir).filter((f) => !f.endsWith('.lock')), []);
    assert.deepEqual(workDirs(), []);
  });

  it("removes a killed run's work directory of the same database and backup_dir, and no one else's", async (t) => {
    if (!peers(t)) return;
    const d = fresh();
    createWithCli(join(d, 'app.db'), { rows: 100 });
    const key = makeKey(d);
    const cfgPath = config(d, `[encryption]\nage_recipients = ["${key.recipient}"]\n`);
    const dir = join(d, 'backups');
    mkdirSync(dir, { mode: 0o700 });
    const mine = join(tmpRoot, `${await workDirPrefix(dir, 'app')}Ab12Cd`);
    const others = [
      join(tmpRoot, `${await workDirPrefix(join(d, 'elsewhere'), 'app')}Ab12Cd`), // another backup_dir
      join(tmpRoot, `${await workDirPrefix(dir, 'app-b')}Ab12Cd`), // another database
      join(tmpRoot, `${await workDirPrefix(dir, 'app')}Ab12Cd-more`), // not a name we make
    ];
    for (const w of [mine, ...others]) {
      mkdirSync(w);
      copyFileSync(join(d, 'app.db'), join(w, 'app.snapshot.db'));
    }
    await backup(await loadConfig(cfgPath), { engine });
    assert.equal(existsSync(mine), false, 'the stale work directory is removed');
    for (const w of others) assert.ok(existsSync(w), `${w} is not ours`);
    for (const w of others) rmSync(w, { recursive: true });
  });

  it('restinpieces-backup entries: compressed ones publish .bck.gz.age; a plain entry with [encryption] is refused (exit 2, naming the entry)', (t) => {
    if (!peers(t)) return;
    const d = fresh();
    createWithCli(join(d, 'app.db'), { rows: 300 });
    const key = makeKey(d);
    const enc = `[encryption]\nage_recipients = ["${key.recipient}"]\n`;
    writeFileSync(join(d, 'entries.toml'), `[vacuum.app]\nsource_path = "app.db"\ndest_path = "out"\ncompression = true\n${enc}`);
    const r = sb(['backup', '--config', join(d, 'entries.toml'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout.trim()) as BackupResult & { label: string };
    assert.equal(res.encrypted, true);
    assert.match(res.name, /^app-app\.db-\d{8}T\d{6}Z\.bck\.gz\.age$/);
    const out = join(d, 'out');
    assert.deepEqual(readdirSync(out).sort(), [res.name, `${res.name}.sha256`].sort());
    run('sha256sum', ['--check', '--strict', `${res.name}.sha256`], { cwd: out });
    judge(join(out, res.name), key.path, join(d, 'app.db'));

    writeFileSync(join(d, 'plain.toml'), `[online.logs]\nsource_path = "app.db"\ndest_path = "plain"\n${enc}`);
    const refused = sb(['backup', '--config', join(d, 'plain.toml')]);
    assert.equal(refused.status, 2, refused.stderr);
    assert.match(refused.stderr, /online\.logs\.compression.*must be true with \[encryption\]/);
    assert.equal(existsSync(join(d, 'plain')), false);
  });

  it('an encrypted backup left without sidecar (killed before it) takes no retention slot and is never removed unchecked', async (t) => {
    if (!peers(t)) return;
    const d = fresh();
    createWithCli(join(d, 'app.db'), { rows: 100 });
    const key = makeKey(d);
    const cfg = await loadConfig(config(d, `[encryption]\nage_recipients = ["${key.recipient}"]\n`, 'keep_last = 1'));
    const dir = join(d, 'backups');
    const first = await backup(cfg, { engine, now: () => new Date('2026-01-01T00:00:00Z') });
    // What a kill between the rename and the sidecar leaves: a complete .age, no sidecar, not latest.
    const orphan = 'app-20260102T000000.000Z-vacuum.db.gz.age';
    copyFileSync(first.path, join(dir, orphan));
    const second = await backup(cfg, { engine, now: () => new Date('2026-01-03T00:00:00Z') });
    const third = await backup(cfg, { engine, now: () => new Date('2026-01-04T00:00:00Z') });
    assert.deepEqual(third.pruned, [second.name]);
    assert.deepEqual(readdirSync(dir).sort(), [orphan, third.name, `${third.name}.sha256`, 'latest.txt'].sort());
  });

  it('CLI backup says it is encrypted, and to how many recipients (human and --json)', (t) => {
    if (!peers(t)) return;
    const d = fresh();
    createWithCli(join(d, 'app.db'), { rows: 100 });
    const [a, b] = [makeKey(d, 'a.txt'), makeKey(d, 'b.txt')];
    const cfg = config(d, `[encryption]\nage_recipients = ["${a.recipient}", "${b.recipient}"]\n`);
    const human = sb(['backup', '--config', cfg, '--no-timestamps']);
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout + human.stderr, /published \S+\.db\.gz\.age\n.*-> gzip, encrypted \(age, 2 recipients\)/);
    const json = sb(['backup', '--config', cfg, '--json']);
    assert.equal(json.status, 0, json.stderr);
    const r = JSON.parse(json.stdout.trim()) as BackupResult;
    assert.equal(r.encrypted, true);
    assert.equal(r.recipients, 2);
    assert.match(r.name, /\.db\.gz\.age$/);
    assert.doesNotMatch(human.stdout + human.stderr + json.stdout + json.stderr, /AGE-SECRET-KEY/);
  });
});

describe('push with [encryption] to SFTP (OpenSSH)', { skip: sshdSkipReason(), concurrency: false }, () => {
  let sshd: Sshd;
  before(async () => {
    sshd = await startSshd();
  });
  after(() => sshd?.stop());

  it('the destination holds only the .db.gz.age, its sidecar and latest.txt; age -d | gunzip of the remote file is the database; retention counts .age names', async (t) => {
    if (!peers(t)) return;
    const d = fresh();
    createWithCli(join(d, 'app.db'), { rows: 800 });
    const key = makeKey(d);
    const remote = join(sshd.sftpRoot, 'pushed-enc', `c${n}`);
    writeFileSync(join(d, 'known_hosts'), `${sshd.knownHostsLine()}\n`);
    const cfgPath = config(
      d,
      `[encryption]\nage_recipients = ["${key.recipient}"]\n` +
        `[[push]]\nurl = "sftp://${sshd.username}@127.0.0.1:${sshd.port}${remote}"\n` +
        `private_key_path = ${JSON.stringify(sshd.userKey.privatePath)}\nknown_hosts = "known_hosts"\nkeep_last = 2\n`,
      'keep_last = 5',
    );
    const cfg = await loadConfig(cfgPath);
    const results: BackupResult[] = [];
    for (let i = 0; i < 3; i++) results.push(await backup(cfg, { now: () => new Date(Date.UTC(2026, 0, 1 + i)) }));
    const last = results.at(-1)!;
    assert.deepEqual(last.push.map((p) => p.ok), [true], JSON.stringify(last.push));
    assert.deepEqual(last.push[0]!.pruned, [results[0]!.name]);
    const files = readdirSync(remote).sort();
    assert.deepEqual(files, [...results.slice(1).flatMap((r) => [r.name, `${r.name}.sha256`]), 'latest.txt'].sort());
    assert.ok(files.every((f) => f === 'latest.txt' || /\.db\.gz\.age(\.sha256)?$/.test(f)), files.join(' '));
    assert.deepEqual(plaintextFiles(remote), []);
    assert.equal(readFileSync(join(remote, 'latest.txt'), 'utf8'), last.name);
    run('sha256sum', ['--check', '--strict', `${last.name}.sha256`], { cwd: remote });
    assert.deepEqual(readFileSync(join(remote, last.name)), readFileSync(last.path));
    judge(join(remote, last.name), key.path, join(d, 'app.db'));
    assert.deepEqual(workDirs(), []);
  });
});

describe('encrypted backup on a full disk', () => {
  const engine = new WasmEngine();
  after(() => engine.close());

  it('$TMPDIR too small for the snapshot, then backup_dir too small for the .age: EIO "disk full" up front naming the directory, and (check bypassed) late naming the file; nothing left in either', async (t) => {
    if (!peers(t)) return;
    const d = fresh();
    createLarge(join(d, 'app.db'), 2);
    const size = statSync(join(d, 'app.db')).size;
    const key = makeKey(d);
    const cfg = await loadConfig(config(d, `[encryption]\nage_recipients = ["${key.recipient}"]\n`));
    const diskFull = (e: unknown, where: string): true => {
      assert.ok(isBackupError(e, ErrorCode.IO), String(e));
      assert.equal(e.errno, 'ENOSPC', e.message);
      assert.match(e.message, /disk full/);
      assert.ok(e.path === where || e.path?.startsWith(`${where}/`), `${e.path} is not in ${where}`);
      return true;
    };
    const smallTmp = join(d, 'small-tmp');
    // The free-space check refuses up front; bypassed (a probe that always answers "plenty"), the
    // writers' own ENOSPC handling must still fail cleanly, late.
    const bypass = { freeSpace: async () => Number.MAX_SAFE_INTEGER };
    const upFront = (e: unknown, expected: boolean): true => {
      assert.equal(/not enough free space/.test((e as Error).message), expected, (e as Error).message);
      return true;
    };
    await withTmpfs(t, smallTmp, `size=${Math.ceil(size / 2 / 4096) * 4096},mode=0700`, async () => {
      process.env.TMPDIR = smallTmp;
      try {
        for (const extra of [{}, bypass]) {
          await assert.rejects(backup(cfg, { engine, ...extra }), (e: unknown) => diskFull(e, smallTmp) && upFront(e, extra !== bypass));
          assert.deepEqual(readdirSync(smallTmp), [], 'the work directory is removed');
          assert.deepEqual(existsSync(join(d, 'backups')) ? readdirSync(join(d, 'backups')) : [], []);
        }
      } finally {
        process.env.TMPDIR = tmpRoot;
      }
    });
    const smallDir = join(d, 'small-dir');
    await withTmpfs(t, smallDir, `size=${Math.ceil(size / 2 / 4096) * 4096},mode=0700`, async () => {
      const dir = join(smallDir, 'backups');
      for (const extra of [{}, bypass]) {
        await assert.rejects(backup({ ...cfg, backupDir: dir }, { engine, ...extra }), (e: unknown) => diskFull(e, dir) && upFront(e, extra !== bypass));
        assert.deepEqual(existsSync(dir) ? readdirSync(dir) : [], [], 'no temp file, no lock');
        assert.deepEqual(workDirs(), []);
      }
    });
  });
});
