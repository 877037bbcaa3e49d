/**
 * pull() against a real OpenSSH sshd on 127.0.0.1 (started here, stopped by pid): host key checks
 * (unknown, changed, pinned, ecdsa-only, hashed known_hosts), the happy path and the no-op run, a
 * connection dropped mid-transfer then resumed, a damaged remote file, a passphrase-protected key,
 * and the CLI's exit codes. The pull logic itself is covered over a LocalTransport in pull.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backup, parseConfig, pull, WasmEngine, isBackupError, ErrorCode, type BackupError, type Config } from '../src/index.js';
import { tempDir } from './helpers/tmp.js';
import { requirePeer, run, sqlite3 } from './helpers/peers.js';
import { createLarge, createWithCli, nativeDump } from './helpers/databases.js';
import { requireSshd, sshdSkipReason, startSshd, makeKey, type Sshd } from './helpers/sshd.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

describe('pull over SFTP from a real sshd', { concurrency: false }, () => {
  const root = tempDir();
  const engine = new WasmEngine();
  let server: Sshd | undefined;
  /** The server started in before(); every test that runs has one (requireSshd fails or skips otherwise). */
  const sshd = (): Sshd => server!;
  let remoteDir: string;
  let names: string[] = [];
  after(async () => {
    await server?.stop();
    await engine.close();
  });
  before(async () => {
    if (sshdSkipReason()) return; // tests then skip (or, under CI, fail) through requireSshd
    server = await startSshd();
    // The server side: the real backup job writes into the SFTP login directory.
    remoteDir = join(sshd().sftpRoot, 'backups');
    createWithCli(join(root, 'app.db'), { rows: 300 });
    const serverConfig = parseConfig(`source_path = "app.db"\nbackup_dir = ${JSON.stringify(remoteDir)}\n`, { baseDir: root });
    for (let i = 0; i < 2; i++) names.push((await backup(serverConfig, { engine })).name);
  });

  let n = 0;
  /** A client config (and its dir) trusting the server through `trust`. */
  function client(trust: string, extra = ''): { dir: string; config: Config; file: string } {
    const dir = join(root, `client-${n++}`);
    mkdirSync(dir);
    const text =
      `[pull]\nhost = "127.0.0.1"\nport = ${sshd().port}\nuser = ${JSON.stringify(sshd().username)}\n` +
      `private_key_path = ${JSON.stringify(sshd().userKey.privatePath)}\nremote_dir = "backups"\nlocal_dir = "local"\n${trust}\n${extra}`;
    writeFileSync(join(dir, 'pull.toml'), text);
    return { dir, config: parseConfig(text, { baseDir: dir }), file: join(dir, 'pull.toml') };
  }
  function knownHosts(dir: string, lines: string[]): string {
    const file = join(dir, 'known_hosts');
    writeFileSync(file, `${lines.join('\n')}\n`);
    return `known_hosts = ${JSON.stringify(file)}`;
  }
  /** A 24 MB backup (stored, level 0) in remoteDir: big enough to interrupt mid-transfer. */
  let big: string | undefined;
  async function bigBackup(): Promise<string> {
    if (big) return big;
    createLarge(join(root, 'big.db'), 24);
    const serverConfig = parseConfig(`source_path = "big.db"\nbackup_dir = ${JSON.stringify(remoteDir)}\ncompression_level = 0\n`, { baseDir: root });
    big = (await backup(serverConfig, { engine })).name;
    names.push(big);
    return big;
  }
  const hostKey = (type: string) => sshd().hostKeys.find((k) => k.type === type)!;

  it('known_hosts with the ecdsa key only: accepted (the ecdsa algorithm is offered first); a second run is a no-op', async (t) => {
    if (!requireSshd(t)) return;
    const dir = join(root, `kh-${n}`);
    mkdirSync(dir);
    const { config, dir: cdir } = client(knownHosts(dir, [sshd().knownHostsLine('ecdsa')]));
    const r = await pull(config, { engine });
    assert.equal(r.status, 'pulled');
    assert.equal(r.name, names[1]);
    assert.equal(r.remoteChecksum, 'ok');
    const local = join(cdir, 'local');
    assert.deepEqual(readdirSync(local).sort(), [names[1]!, `${names[1]}.sha256`, 'latest.txt'].sort());
    assert.deepEqual(readFileSync(join(local, names[1]!)), readFileSync(join(remoteDir, names[1]!)));
    assert.equal((await pull(config, { engine })).status, 'up-to-date');
  });

  it('hashed known_hosts (ssh-keygen -H) and a pinned fingerprint are accepted; restore_to gives the database', async (t) => {
    if (!requireSshd(t)) return;
    const dir = join(root, `hashed-${n}`);
    mkdirSync(dir);
    const trust = knownHosts(dir, [sshd().knownHostsLine('ed25519')]);
    run('ssh-keygen', ['-H', '-f', join(dir, 'known_hosts')]);
    assert.match(readFileSync(join(dir, 'known_hosts'), 'utf8'), /^\|1\|/);
    assert.equal((await pull(client(trust).config, { engine })).status, 'pulled');
    const pinned = client(`host_key_sha256 = "${hostKey('ed25519').fingerprint}"`);
    const restored = join(pinned.dir, 'restored.db');
    const r = await pull(pinned.config, { engine, restoreTo: restored });
    assert.equal(r.restoredTo, restored);
    assert.equal(nativeDump(restored, pinned.dir), nativeDump(join(root, 'app.db'), pinned.dir));
  });

  it('unknown and changed host keys are refused with the presented fingerprint; nothing is written', async (t) => {
    if (!requireSshd(t)) return;
    const dir = join(root, `refuse-${n}`);
    mkdirSync(dir);
    const other = makeKey(join(dir, 'other'), 'ed25519');
    const presented = hostKey('ed25519').fingerprint;
    for (const [label, trust, pattern] of [
      ['unknown', knownHosts(dir, ['example.org ' + other.publicLine.split(' ').slice(0, 2).join(' ')]), /unknown|no entry/i],
      ['changed', `known_hosts = ${JSON.stringify(join(dir, 'changed'))}`, /CHANGED|man-in-the-middle/],
      ['wrong pin', `host_key_sha256 = "SHA256:${'A'.repeat(43)}"`, /pin|match/i],
    ] as const) {
      writeFileSync(join(dir, 'changed'), `[127.0.0.1]:${sshd().port} ${other.publicLine.split(' ').slice(0, 2).join(' ')}\n`);
      const c = client(trust);
      await assert.rejects(pull(c.config, { engine }), (e: unknown) => {
        assert.ok(isBackupError(e, ErrorCode.HOST_KEY), `${label}: ${String(e)}`);
        assert.match((e as Error).message, pattern, label);
        assert.ok((e as Error).message.includes(presented), `${label}: the message shows the server's fingerprint`);
        return true;
      });
      assert.ok(!existsSync(join(c.dir, 'local')), `${label}: local_dir is not made before the host key is accepted`);
      const cliRun = run(process.execPath, [cli, 'pull', '--config', c.file], { allowFail: true });
      assert.equal(cliRun.status, 1, label);
      assert.ok(cliRun.stderr.includes(presented), `${label}: the CLI prints the fingerprint`);
    }
    // Skipping the check takes an explicit flag, and every run says so loudly, with the fingerprint.
    const c = client(knownHosts(dir, []));
    const insecure = run(process.execPath, [cli, 'pull', '--config', c.file, '--insecure-skip-host-key-check'], { allowFail: true });
    assert.equal(insecure.status, 0, insecure.stderr);
    assert.match(insecure.stderr, /WARNING: /);
    assert.ok(insecure.stderr.includes(presented));
  });

  it('first contact as a fresh service user (no ~/.ssh): the recipe the refusal prints, run as it is, makes the next pull work', async (t) => {
    if (!requireSshd(t) || !requirePeer(t, 'ssh-keyscan')) return;
    const home = join(root, `fresh-home-${n++}`);
    mkdirSync(home, { mode: 0o755 });
    // No known_hosts and no pin: the default ~/.ssh/known_hosts, in a home without .ssh.
    const c = client('');
    const env = { ...process.env, HOME: home };
    const first = run(process.execPath, [cli, 'pull', '--config', c.file], { allowFail: true, env });
    assert.equal(first.status, 1, first.stderr);
    assert.match(first.stderr, /\[EHOST_KEY\]/);
    assert.ok(first.stderr.includes(hostKey('ed25519').fingerprint), first.stderr);
    assert.ok(!existsSync(join(c.dir, 'local')), 'local_dir is not made before the host key is accepted');
    const recipe = /^ +(mkdir -p -m 700 .*)$/m.exec(first.stderr)?.[1];
    assert.ok(recipe, `a known_hosts recipe that starts with mkdir: ${first.stderr}`);
    run('sh', ['-c', recipe], { env });
    assert.equal(statSync(join(home, '.ssh')).mode & 0o777, 0o700);
    // The check the message asks for shows the fingerprint it printed.
    const check = /and check that (ssh-keygen -l -F .*) shows that fingerprint/.exec(first.stderr)?.[1];
    assert.ok(check, first.stderr);
    assert.ok(run('sh', ['-c', check], { env }).stdout.includes(hostKey('ed25519').fingerprint));
    const second = run(process.execPath, [cli, 'pull', '--config', c.file], { allowFail: true, env });
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stdout, /^pulled /);
  });

  it('private key files: group/world-accessible refused (ECONFIG, the fix named), missing named without a --config hint, EAUTH names the key', async (t) => {
    if (!requireSshd(t)) return;
    const dir = join(root, `keys-${n++}`);
    mkdirSync(dir);
    const pin = `host_key_sha256 = "${hostKey('ed25519').fingerprint}"`;
    const withKey = (key: string, extra = ''): ReturnType<typeof client> => {
      const c = client(pin, extra);
      const text = readFileSync(c.file, 'utf8').replace(/^private_key_path = .*$/m, `private_key_path = ${JSON.stringify(key)}`);
      writeFileSync(c.file, text);
      return { ...c, config: parseConfig(text, { baseDir: c.dir }) };
    };
    const open = join(dir, 'id_open');
    writeFileSync(open, readFileSync(sshd().userKey.privatePath));
    for (const mode of [0o644, 0o640, 0o604]) {
      chmodSync(open, mode);
      const c = withKey(open);
      const r = run(process.execPath, [cli, 'pull', '--config', c.file], { allowFail: true });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /UNPROTECTED PRIVATE KEY FILE/);
      assert.ok(r.stderr.includes(`"${open}" has mode 0${mode.toString(8)}`), r.stderr);
      assert.ok(r.stderr.includes(`chmod 600 ${open}`), r.stderr);
      assert.match(r.stderr, /\[ECONFIG\]/);
      await assert.rejects(pull(c.config, { engine }), (e: unknown) => isBackupError(e, ErrorCode.CONFIG) && (e as BackupError).path === open);
      assert.ok(!existsSync(join(c.dir, 'local')));
    }
    chmodSync(open, 0o600);
    assert.equal((await pull(withKey(open).config, { engine })).status, 'pulled');

    const missing = join(dir, 'no_such_key');
    const gone = run(process.execPath, [cli, 'pull', '--config', withKey(missing).file], { allowFail: true });
    assert.equal(gone.status, 2, gone.stderr);
    assert.ok(gone.stderr.includes(`private key file "${missing}" (pull.private_key_path) does not exist`), gone.stderr);
    assert.doesNotMatch(gone.stderr, /--config/);

    const stranger = makeKey(join(dir, 'id_stranger'), 'ed25519');
    await assert.rejects(pull(withKey(stranger.privatePath).config, { engine }), (e: unknown) => {
      assert.ok(isBackupError(e, ErrorCode.AUTH), String(e));
      assert.ok((e as Error).message.includes(`key file "${stranger.privatePath}"`), (e as Error).message);
      return true;
    });
  });

  it('a remote_dir missing on the server: "the remote directory ... does not exist", not "no backup"', async (t) => {
    if (!requireSshd(t)) return;
    const c = client(`host_key_sha256 = "${hostKey('ed25519').fingerprint}"`);
    const text = readFileSync(c.file, 'utf8').replace('remote_dir = "backups"', 'remote_dir = "no-such-dir"');
    writeFileSync(c.file, text);
    await assert.rejects(pull(parseConfig(text, { baseDir: c.dir }), { engine }), (e: unknown) => {
      assert.ok(isBackupError(e, ErrorCode.BACKUP_NOT_FOUND), String(e));
      assert.match((e as Error).message, /the remote directory sftp:\/\/.*\/~\/no-such-dir does not exist/);
      return true;
    });
    const r = run(process.execPath, [cli, 'pull', '--config', c.file], { allowFail: true });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /remote directory .* does not exist \[EBACKUP_NOT_FOUND\]\n  hint: check remote_dir/);
    // An existing but empty directory is still "no backup".
    mkdirSync(join(sshd().sftpRoot, 'empty'), { recursive: true });
    const empty = parseConfig(text.replace('"no-such-dir"', '"empty"'), { baseDir: c.dir });
    await assert.rejects(pull(empty, { engine }), (e: unknown) => isBackupError(e, ErrorCode.BACKUP_NOT_FOUND) && /no backup in/.test((e as Error).message));
  });

  it('a connection dropped mid-transfer: the .part is kept, and the next pull resumes it', async (t) => {
    if (!requireSshd(t)) return;
    const bigName = await bigBackup();
    const c = client(`host_key_sha256 = "${hostKey('ed25519').fingerprint}"`);
    let dropped = 0;
    await assert.rejects(
      pull(c.config, {
        engine,
        attempts: 1,
        onProgress: (p) => {
          if (p.phase === 'download' && (p.bytesDone ?? 0) > 4 << 20 && dropped === 0) dropped = sshd().dropConnections();
        },
      }),
      (e: unknown) => isBackupError(e, ErrorCode.CONNECT),
    );
    assert.ok(dropped > 0, 'a connection was dropped');
    const local = join(c.dir, 'local');
    assert.ok(readdirSync(local).includes(`${bigName}.part`), 'the partial download stays for resuming');
    const r = await pull(c.config, { engine });
    assert.equal(r.status, 'pulled');
    assert.ok(r.resumedFrom > 4 << 20, `resumed from ${r.resumedFrom}`);
    assert.deepEqual(readFileSync(join(local, bigName)), readFileSync(join(remoteDir, bigName)));
    assert.deepEqual(readdirSync(local).filter((f) => f.includes('.part')), []);
  });

  it('ssh-agent authentication (no key file), and a Go-layout directory with a damaged newest file', async (t) => {
    if (!requireSshd(t) || !requirePeer(t, 'ssh-agent') || !requirePeer(t, 'gzip')) return;
    const dir = join(root, `agent-${n++}`);
    mkdirSync(dir);
    const sock = join(dir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    t.after(() => void agent.kill('SIGTERM'));
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
    run('ssh-add', ['-q', sshd().userKey.privatePath], { env: { ...process.env, SSH_AUTH_SOCK: sock } });
    // The Go upstream layout on the server: no sidecars, latest.txt without newline.
    const goDir = join(sshd().sftpRoot, 'go-layout');
    mkdirSync(goDir);
    sqlite3(join(dir, 'go.db'), "CREATE TABLE v(x); INSERT INTO v VALUES ('from go');");
    run('sh', ['-c', 'gzip -c "$1" > "$2"', 'sh', join(dir, 'go.db'), join(goDir, 'app-2025-03-04T05-06-07Z-online.bck.gz')]);
    writeFileSync(join(goDir, 'latest.txt'), 'app-2025-03-04T05-06-07Z-online.bck.gz');
    const text =
      `[pull]\nhost = "127.0.0.1"\nport = ${sshd().port}\nuser = ${JSON.stringify(sshd().username)}\n` +
      `remote_dir = "go-layout"\nlocal_dir = "local"\nhost_key_sha256 = "${hostKey('ed25519').fingerprint}"\n`;
    const config = parseConfig(text, { baseDir: dir });
    const saved = process.env.SSH_AUTH_SOCK;
    try {
      process.env.SSH_AUTH_SOCK = sock;
      const r = await pull(config, { engine, restoreTo: join(dir, 'restored.db') });
      assert.equal(r.name, 'app-2025-03-04T05-06-07Z-online.bck.gz');
      assert.equal(r.remoteChecksum, 'absent');
      assert.equal(sqlite3(join(dir, 'restored.db'), 'SELECT x FROM v').stdout.trim(), 'from go');
      // A newer Go file arrives damaged: refused by the gzip check, nothing promoted.
      const bad = readFileSync(join(goDir, 'app-2025-03-04T05-06-07Z-online.bck.gz'));
      bad[bad.length - 6] ^= 0xff; // inside the CRC-32 of the gzip trailer
      writeFileSync(join(goDir, 'app-2025-04-04T05-06-07Z-online.bck.gz'), bad);
      writeFileSync(join(goDir, 'latest.txt'), 'app-2025-04-04T05-06-07Z-online.bck.gz');
      writeFileSync(join(dir, 'pull.toml'), text);
      const cliRun = run(process.execPath, [cli, 'pull', '--config', join(dir, 'pull.toml')], { allowFail: true, env: { ...process.env } });
      assert.equal(cliRun.status, 1, cliRun.stderr);
      assert.match(cliRun.stderr, /failed verification.*CRC.*\[EINTEGRITY\]/);
      assert.equal(readFileSync(join(dir, 'local', 'latest.txt'), 'utf8'), 'app-2025-03-04T05-06-07Z-online.bck.gz');
      assert.deepEqual(readdirSync(join(dir, 'local')).filter((f) => f.includes('2025-04')), []);
    } finally {
      if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = saved;
    }
  });

  it('a server that stops answering mid-transfer: idle_timeout gives it up, and the pull resumes over a new connection', async (t) => {
    if (!requireSshd(t)) return;
    const bigName = await bigBackup();
    // A fresh local dir, so the whole file is downloaded; an idle limit of 1 s instead of 60.
    const c = client(`host_key_sha256 = "${hostKey('ed25519').fingerprint}"`, 'idle_timeout = "1s"');
    writeFileSync(join(remoteDir, 'latest.txt'), bigName);
    let stalled: number[] = [];
    const reasons: string[] = [];
    try {
      const r = await pull(c.config, {
        engine,
        onProgress: (p) => {
          if (p.phase === 'download' && (p.bytesDone ?? 0) > 4 << 20 && stalled.length === 0) stalled = sshd().stallConnections();
          if (p.phase === 'reconnect') reasons.push(p.reason ?? '');
        },
      });
      assert.ok(stalled.length > 0, 'the server was frozen');
      assert.equal(r.status, 'pulled');
      // The idle limit, not ssh keepalives (30 s and more), is what noticed: its message says so.
      assert.equal(reasons.length, 1, reasons.join(' | '));
      assert.match(reasons[0]!, /no data for 1 s/);
      assert.deepEqual(readFileSync(join(c.dir, 'local', bigName)), readFileSync(join(remoteDir, bigName)));
    } finally {
      // The frozen processes serve no one now: kill them rather than leave them stopped.
      if (stalled.length > 0) sshd().dropConnections();
    }
  });

  it('the CLI pull exits by itself after a server stalled mid-transfer (no socket left half-closed)', async (t) => {
    if (!requireSshd(t)) return;
    const bigName = await bigBackup();
    const c = client(`host_key_sha256 = "${hostKey('ed25519').fingerprint}"`, 'idle_timeout = "5s"');
    writeFileSync(join(remoteDir, 'latest.txt'), bigName);
    const part = join(c.dir, 'local', `${bigName}.part`);
    const started = Date.now();
    const child = spawn(process.execPath, [cli, 'pull', '--config', c.file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let stalled: number[] = [];
    try {
      // Freeze the server as soon as the download starts: its connection stays up at the TCP level.
      const poll = setInterval(() => {
        if (stalled.length === 0 && existsSync(part)) stalled = sshd().stallConnections();
      }, 2);
      void exited.then(() => clearInterval(poll));
      const bound = 60_000;
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), bound).unref())]);
      clearInterval(poll);
      assert.ok(stalled.length > 0, 'the server was frozen during the download');
      assert.notEqual(code, 'timeout', `the pull did not exit within ${bound / 1000} s (stdout: ${stdout})`);
      assert.equal(code, 0, stderr);
      assert.match(stdout, /^pulled /);
      // The idle limit (5 s) gave the frozen connection up: the pull went on over a new one.
      assert.ok(Date.now() - started >= 5000, `finished in ${Date.now() - started} ms: the stall came too late`);
      assert.deepEqual(readFileSync(join(c.dir, 'local', bigName)), readFileSync(join(remoteDir, bigName)));
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      // The frozen processes serve no one: kill them (by pid) rather than leave them stopped.
      for (const pid of stalled) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });

  it('a passphrase-protected key works with SQLITE_BACKUP_KEY_PASSPHRASE, and a wrong one is a clear error', async (t) => {
    if (!requireSshd(t)) return;
    const own = await startSshd({ t, userKeyPassphrase: 'correct horse' });
    const dir = join(root, `pass-${n++}`);
    mkdirSync(dir);
    const text =
      `[pull]\nhost = "127.0.0.1"\nport = ${own.port}\nuser = ${JSON.stringify(own.username)}\n` +
      `private_key_path = ${JSON.stringify(own.userKey.privatePath)}\nremote_dir = "."\nlocal_dir = "local"\n` +
      `host_key_sha256 = "${own.hostKeys[0]!.fingerprint}"\n`;
    writeFileSync(join(own.sftpRoot, 'latest.txt'), names[0]!);
    writeFileSync(join(own.sftpRoot, names[0]!), readFileSync(join(remoteDir, names[0]!)));
    const config = parseConfig(text, { baseDir: dir });
    const saved = process.env.SQLITE_BACKUP_KEY_PASSPHRASE;
    try {
      process.env.SQLITE_BACKUP_KEY_PASSPHRASE = 'wrong';
      await assert.rejects(pull(config, { engine }), (e: unknown) => {
        assert.ok(isBackupError(e), String(e));
        assert.doesNotMatch((e as Error).message, /wrong|correct horse/, 'never print the passphrase');
        return true;
      });
      // The CLI with every diagnostic on (--verbose cause chain, --json error object) prints no secret either.
      writeFileSync(join(dir, 'pull.toml'), text);
      const secret = 'Wr0ng-pass-7f3a9c';
      const cliRun = run(process.execPath, [cli, 'pull', '--config', join(dir, 'pull.toml'), '--verbose', '--json'], {
        allowFail: true,
        env: { ...process.env, SQLITE_BACKUP_KEY_PASSPHRASE: secret },
      });
      assert.equal(cliRun.status, 1, cliRun.stderr);
      assert.match(cliRun.stderr, /\[EAUTH\]/);
      const printed = cliRun.stdout + cliRun.stderr;
      for (const leak of [secret, 'correct horse', 'PRIVATE KEY', readFileSync(own.userKey.privatePath, 'utf8').split('\n')[1]!]) {
        assert.ok(!printed.includes(leak), `printed a secret: ${leak.slice(0, 12)}...`);
      }
      process.env.SQLITE_BACKUP_KEY_PASSPHRASE = 'correct horse';
      assert.equal((await pull(config, { engine })).status, 'pulled');
    } finally {
      if (saved === undefined) delete process.env.SQLITE_BACKUP_KEY_PASSPHRASE;
      else process.env.SQLITE_BACKUP_KEY_PASSPHRASE = saved;
    }
  });
});
