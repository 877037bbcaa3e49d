/**
 * pull of age-encrypted backups from a real OpenSSH sshd, the backups made by the real `age` CLI
 * (`gzip -c db | age -r R`, `sha256sum` sidecar, latest.txt), as a host encrypting its backups with
 * age would publish them: the local copy is the `.age` as published (the real `age -d` still opens
 * it), it is decrypted only to check it and to restore it; no identity is ECONFIG (exit 2) before
 * anything is downloaded; a wrong identity or altered ciphertext is EDECRYPT (exit 1) with nothing
 * published or restored and no partial file left; an altered file with its old sidecar is ECHECKSUM.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAgeIdentities, parseConfig, pull, WasmEngine, isBackupError, ErrorCode, type BackupError, type Config, type PullPhase } from '../src/index.js';
import { tempDir } from './helpers/tmp.js';
import { requirePeer, run } from './helpers/peers.js';
import { createLarge, createWithCli, nativeDump } from './helpers/databases.js';
import { requireSshd, sshdSkipReason, startSshd, type Sshd } from './helpers/sshd.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

describe('pull of age-encrypted backups over SFTP (real sshd, real age CLI)', { concurrency: false }, () => {
  const root = tempDir();
  const engine = new WasmEngine();
  let server: Sshd | undefined;
  const sshd = (): Sshd => server!;
  const key = join(root, 'key.txt');
  const wrongKey = join(root, 'wrong.txt');
  let recipient = '';
  after(async () => {
    await server?.stop();
    await engine.close();
  });
  before(async () => {
    if (sshdSkipReason()) return;
    server = await startSshd();
    run('age-keygen', ['-o', key]);
    run('age-keygen', ['-o', wrongKey]);
    recipient = run('age-keygen', ['-y', key]).stdout.trim();
    createWithCli(join(root, 'app.db'), { rows: 300 });
    createWithCli(join(root, 'newer.db'), { rows: 500 });
  });
  /** The age CLI and sqlite3 CLI are the real peers here: a missing one skips (fails under CI). */
  const peers = (t: Parameters<typeof requireSshd>[0]): boolean =>
    requireSshd(t) && requirePeer(t, 'age') && requirePeer(t, 'age-keygen') && requirePeer(t, 'gzip') && requirePeer(t, 'sha256sum');

  let n = 0;
  /** A fresh remote directory under the SFTP root. */
  function remote(): { name: string; dir: string } {
    const name = `enc-${n++}`;
    const dir = join(sshd().sftpRoot, name);
    mkdirSync(dir, { recursive: true });
    return { name, dir };
  }
  /** Publishes `db` in `dir` as an age-encrypting host would: `gzip | age -r`, sha256sum sidecar, latest.txt. */
  function publishWithAge(dir: string, db: string, name: string): void {
    run('sh', ['-c', 'gzip -c "$1" | age -r "$2" > "$3"', 'sh', db, recipient, join(dir, name)]);
    run('sh', ['-c', 'cd "$1" && sha256sum "$2" > "$2.sha256"', 'sh', dir, name]);
    writeFileSync(join(dir, 'latest.txt'), `${name}\n`);
  }
  /** Re-writes the sidecar for the file as it now is (a tamperer who also controls the sidecar). */
  function resign(dir: string, name: string): void {
    run('sh', ['-c', 'cd "$1" && sha256sum "$2" > "$2.sha256"', 'sh', dir, name]);
  }
  /** Flips one bit of `name` at `at` (a fraction of its length): inside age's payload, not its header. */
  function flip(dir: string, name: string, at: number): void {
    const bytes = readFileSync(join(dir, name));
    bytes[Math.floor(bytes.length * at)] ^= 0x01;
    writeFileSync(join(dir, name), bytes);
  }
  /** A client config for `remoteDir` (its own dir, with `extra` in [pull]) and the file it is in. */
  function client(remoteDir: string, extra = ''): { dir: string; local: string; config: Config; file: string } {
    const dir = join(root, `client-${n++}`);
    mkdirSync(dir);
    const text =
      `[pull]\nhost = "127.0.0.1"\nport = ${sshd().port}\nuser = ${JSON.stringify(sshd().username)}\n` +
      `private_key_path = ${JSON.stringify(sshd().userKey.privatePath)}\nremote_dir = ${JSON.stringify(remoteDir)}\nlocal_dir = "local"\n` +
      `host_key_sha256 = "${sshd().hostKeys[0]!.fingerprint}"\n${extra}\n`;
    writeFileSync(join(dir, 'pull.toml'), text);
    return { dir, local: join(dir, 'local'), config: parseConfig(text, { baseDir: dir }), file: join(dir, 'pull.toml') };
  }
  const cliPull = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    run(process.execPath, [cli, 'pull', '--no-timestamps', ...args], { allowFail: true, env: { ...process.env, SQLITE_BACKUP_AGE_IDENTITY: '', ...env } });
  const listing = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).sort() : []);
  const NAME_1 = 'app-20261130T100000.000Z-vacuum.db.gz.age';
  const NAME_2 = 'app-20261130T110000.000Z-vacuum.db.gz.age';

  it('pulls the .age as published (byte-identical, 0600, the sidecar of the encrypted bytes), which age -d | gunzip opens; restore_to gets the database', async (t) => {
    if (!peers(t)) return;
    const r = remote();
    publishWithAge(r.dir, join(root, 'app.db'), NAME_1);
    const c = client(r.name);
    const target = join(c.dir, 'restored.db');
    const first = cliPull(['--config', c.file, '--age-identity', key, '--restore-to', target]);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /^pulled .*\.db\.gz\.age .*sha256 matches the server's sidecar, age decrypted with .*key\.txt \(kept encrypted\), gzip ok, integrity_check ok/m);
    assert.match(first.stdout, /restored it to /);
    assert.deepEqual(listing(c.local), [NAME_1, `${NAME_1}.sha256`, 'latest.txt']);
    assert.deepEqual(readFileSync(join(c.local, NAME_1)), readFileSync(join(r.dir, NAME_1)), 'the local copy is the remote file, still encrypted');
    assert.equal(statSync(join(c.local, NAME_1)).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(c.local, `${NAME_1}.sha256`), 'utf8').split(' ')[0], readFileSync(join(r.dir, `${NAME_1}.sha256`), 'utf8').split(' ')[0]);
    assert.equal(readFileSync(join(c.local, 'latest.txt'), 'utf8').trim(), NAME_1);
    // Interop: the real age CLI decrypts what was stored, and it is the source database byte for byte.
    run('sh', ['-c', 'age -d -i "$1" "$2" | gunzip | cmp - "$3"', 'sh', key, join(c.local, NAME_1), join(root, 'app.db')]);
    assert.equal(nativeDump(target, c.dir), nativeDump(join(root, 'app.db'), c.dir));

    // Nothing new: up to date, nothing decrypted. A restore target that went away gets the local
    // copy decrypted again (our sidecar checked against it) - the library's ageIdentity as a path.
    const again = await pull(c.config, { engine, ageIdentity: key, restoreTo: join(c.dir, 'again.db') });
    assert.equal(again.status, 'up-to-date');
    assert.equal(again.encrypted?.identity, key);
    assert.equal(nativeDump(join(c.dir, 'again.db'), c.dir), nativeDump(join(root, 'app.db'), c.dir));
    assert.deepEqual(listing(c.local), [NAME_1, `${NAME_1}.sha256`, 'latest.txt'], 'no scratch database left');
    // The same with a key that does not fit: EDECRYPT, no database at the target.
    await assert.rejects(pull(c.config, { engine, ageIdentity: wrongKey, restoreTo: join(c.dir, 'wrong.db') }), (e: unknown) => isBackupError(e, ErrorCode.DECRYPT));
    assert.deepEqual(listing(c.dir).filter((f) => f.startsWith('wrong.db')), []);
    assert.deepEqual(listing(c.local), [NAME_1, `${NAME_1}.sha256`, 'latest.txt']);
    // A local copy changed since it was pulled no longer matches its .sha256: refused before decrypting.
    flip(c.local, NAME_1, 0.5);
    await assert.rejects(pull(c.config, { engine, ageIdentity: key, restoreTo: join(c.dir, 'changed.db') }), (e: unknown) => isBackupError(e, ErrorCode.CHECKSUM));
    assert.deepEqual(listing(c.dir).filter((f) => f.startsWith('changed.db')), []);
  });

  it('no identity: ECONFIG (exit 2) saying how to give one, before local_dir is made or a byte is downloaded', async (t) => {
    if (!peers(t)) return;
    const r = remote();
    publishWithAge(r.dir, join(root, 'app.db'), NAME_1);
    const c = client(r.name);
    const phases: PullPhase[] = [];
    await assert.rejects(pull(c.config, { engine, onProgress: (p) => phases.push(p.phase) }), (e: unknown) => {
      assert.ok(isBackupError(e, ErrorCode.CONFIG), String(e));
      assert.match((e as Error).message, /is encrypted \(age\).*--age-identity <file>.*SQLITE_BACKUP_AGE_IDENTITY.*age_identity/);
      return true;
    });
    assert.ok(!phases.includes('download'), `no download started: ${phases.join(', ')}`);
    assert.ok(!existsSync(c.local), 'local_dir is not even made');
    const cliRun = cliPull(['--config', c.file]);
    assert.equal(cliRun.status, 2, cliRun.stderr);
    assert.match(cliRun.stderr, /--age-identity <file>.*\[ECONFIG\]/);
    assert.ok(!existsSync(c.local));
  });

  it('a backup renamed on the server (age bytes under a .db.gz name): its header decides - ECONFIG without an identity, pulled with one', async (t) => {
    if (!peers(t)) return;
    const r = remote();
    const odd = 'app-20261130T100000.000Z-vacuum.db.gz';
    publishWithAge(r.dir, join(root, 'app.db'), odd);
    const c = client(r.name);
    const without = cliPull(['--config', c.file]);
    assert.equal(without.status, 2, without.stderr);
    assert.match(without.stderr, /is encrypted \(age\).*\[ECONFIG\]/);
    assert.deepEqual(listing(c.local), [], 'nothing published, no .part left');
    const withKey = await pull(c.config, { engine, ageIdentity: key, restoreTo: join(c.dir, 'r.db') });
    assert.equal(withKey.status, 'pulled');
    assert.ok(withKey.encrypted);
    assert.deepEqual(readFileSync(join(c.local, odd)), readFileSync(join(r.dir, odd)));
    assert.equal(nativeDump(join(c.dir, 'r.db'), c.dir), nativeDump(join(root, 'app.db'), c.dir));
  });

  it('a wrong identity: EDECRYPT (exit 1) naming the identity file, never a key; nothing published or restored, no partial file, download stopped at the header', async (t) => {
    if (!peers(t)) return;
    const r = remote();
    publishWithAge(r.dir, join(root, 'app.db'), NAME_1);
    const c = client(r.name, `restore_to = "live.db"`);
    const live = join(c.dir, 'live.db');
    assert.equal((await pull(c.config, { engine, ageIdentity: key })).status, 'pulled');
    const before = { files: listing(c.local), latest: readFileSync(join(c.local, 'latest.txt')), live: readFileSync(live) };
    // A newer, bigger backup (8 MB of random rows: the download would take many reads).
    createLarge(join(root, 'large.db'), 8);
    publishWithAge(r.dir, join(root, 'large.db'), NAME_2);
    const size = statSync(join(r.dir, NAME_2)).size;
    let downloaded = 0;
    await assert.rejects(
      pull(c.config, { engine, ageIdentity: wrongKey, onProgress: (p) => p.phase === 'download' && (downloaded = Math.max(downloaded, p.bytesDone ?? 0)) }),
      (e: unknown) => {
        assert.ok(isBackupError(e, ErrorCode.DECRYPT), String(e));
        assert.ok((e as Error).message.includes(`"${wrongKey}" cannot decrypt it`), (e as Error).message);
        assert.match((e as Error).message, /nothing was published/);
        return true;
      },
    );
    assert.ok(downloaded < size / 2, `the download stopped at the header: ${downloaded} of ${size} bytes`);
    const secrets = [readFileSync(key, 'utf8'), readFileSync(wrongKey, 'utf8')].map((s) => /AGE-SECRET-KEY-1\S+/.exec(s)![0]);
    const cliRun = cliPull(['--config', c.file, '--age-identity', wrongKey, '--verbose', '--json']);
    assert.equal(cliRun.status, 1, cliRun.stderr);
    assert.match(cliRun.stderr, /cannot decrypt it.*\[EDECRYPT\]/);
    for (const secret of secrets) assert.ok(!(cliRun.stdout + cliRun.stderr).includes(secret), 'never print key material');
    assert.doesNotMatch(cliRun.stdout + cliRun.stderr, /AGE-SECRET-KEY/);
    // Everything as before: the old backup still published, latest.txt unchanged, the live database untouched.
    assert.deepEqual(listing(c.local), before.files);
    assert.deepEqual(readFileSync(join(c.local, 'latest.txt')), before.latest);
    assert.deepEqual(readFileSync(live), before.live);
    assert.deepEqual(listing(c.dir).filter((f) => f.startsWith('live.db')), ['live.db'], 'no temp or before-restore file at the target');
    // The right key then pulls and restores the newer backup.
    const ok = cliPull(['--config', c.file, '--age-identity', key]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(readFileSync(join(c.local, 'latest.txt'), 'utf8').trim(), NAME_2);
    assert.equal(nativeDump(live, c.dir), nativeDump(join(root, 'large.db'), c.dir));
  });

  it('altered ciphertext with a re-computed sidecar: EDECRYPT (exit 1) from age\'s authentication; with the old sidecar: ECHECKSUM; nothing published or restored', async (t) => {
    if (!peers(t)) return;
    const r = remote();
    publishWithAge(r.dir, join(root, 'app.db'), NAME_1);
    const c = client(r.name, `restore_to = "live.db"\nage_identity = ${JSON.stringify(key)}`);
    assert.equal((await pull(c.config, { engine })).status, 'pulled');
    const live = join(c.dir, 'live.db');
    const before = { files: listing(c.local), latest: readFileSync(join(c.local, 'latest.txt')), live: readFileSync(live) };
    const unchanged = (label: string): void => {
      assert.deepEqual(listing(c.local), before.files, label);
      assert.deepEqual(readFileSync(join(c.local, 'latest.txt')), before.latest, label);
      assert.deepEqual(readFileSync(live), before.live, label);
      assert.deepEqual(listing(c.dir).filter((f) => f.startsWith('live.db')), ['live.db'], label);
    };

    publishWithAge(r.dir, join(root, 'newer.db'), NAME_2);
    flip(r.dir, NAME_2, 0.6);
    resign(r.dir, NAME_2);
    await assert.rejects(pull(c.config, { engine }), (e: unknown) => {
      assert.ok(isBackupError(e, ErrorCode.DECRYPT), String(e));
      assert.match((e as Error).message, /damaged or was altered.*nothing was published/);
      return true;
    });
    unchanged('tampered, re-signed (library)');
    const cliRun = cliPull(['--config', c.file]);
    assert.equal(cliRun.status, 1, cliRun.stderr);
    assert.match(cliRun.stderr, /\[EDECRYPT\]/);
    unchanged('tampered, re-signed (CLI)');

    // The same alteration without a new sidecar: the transfer check speaks first, as for gzip.
    publishWithAge(r.dir, join(root, 'newer.db'), NAME_2);
    flip(r.dir, NAME_2, 0.3);
    const stale = cliPull(['--config', c.file]);
    assert.equal(stale.status, 1, stale.stderr);
    assert.match(stale.stderr, /but its \.sha256 says .*\[ECHECKSUM\]/);
    unchanged('tampered, old sidecar');
  });

  it('the identity from $SQLITE_BACKUP_AGE_IDENTITY and from [pull] age_identity (the option wins over both)', async (t) => {
    if (!peers(t)) return;
    const r = remote();
    publishWithAge(r.dir, join(root, 'app.db'), NAME_1);
    const fromEnv = client(r.name);
    const envRun = cliPull(['--config', fromEnv.file], { SQLITE_BACKUP_AGE_IDENTITY: key });
    assert.equal(envRun.status, 0, envRun.stderr);
    assert.deepEqual(listing(fromEnv.local), [NAME_1, `${NAME_1}.sha256`, 'latest.txt']);

    const fromConfig = client(r.name, `age_identity = ${JSON.stringify(key)}\nrestore_to = "live.db"`);
    const configRun = cliPull(['--config', fromConfig.file]);
    assert.equal(configRun.status, 0, configRun.stderr);
    assert.equal(nativeDump(join(fromConfig.dir, 'live.db'), fromConfig.dir), nativeDump(join(root, 'app.db'), fromConfig.dir));

    // --age-identity over the config's key, and the environment's over the config's: the wrong one is used, and fails.
    const over = client(r.name, `age_identity = ${JSON.stringify(key)}`);
    assert.equal(cliPull(['--config', over.file, '--age-identity', wrongKey]).status, 1);
    assert.equal(cliPull(['--config', over.file], { SQLITE_BACKUP_AGE_IDENTITY: wrongKey }).status, 1);
    assert.deepEqual(listing(over.local), []);
    // A library caller: the config's age_identity, or identities it loaded (over the config's).
    assert.equal((await pull(over.config, { engine })).status, 'pulled');
    const loaded = client(r.name, `age_identity = ${JSON.stringify(wrongKey)}`);
    const r2 = await pull(loaded.config, { engine, ageIdentity: await loadAgeIdentities(key) });
    assert.equal(r2.status, 'pulled');
    assert.equal(r2.encrypted?.identity, key);
  });

  it('an identity file that cannot be used is ECONFIG before connecting', async (t) => {
    if (!peers(t)) return;
    const r = remote();
    publishWithAge(r.dir, join(root, 'app.db'), NAME_1);
    const c = client(r.name);
    const missing = join(c.dir, 'no-such-key.txt');
    const phases: PullPhase[] = [];
    await assert.rejects(pull(c.config, { engine, ageIdentity: missing, onProgress: (p) => phases.push(p.phase) }), (e: unknown) => {
      assert.ok(isBackupError(e, ErrorCode.CONFIG), String(e));
      assert.equal((e as BackupError).path, missing);
      return true;
    });
    assert.deepEqual(phases, [], 'not even connected');
    const cliRun = cliPull(['--config', c.file, '--age-identity', missing]);
    assert.equal(cliRun.status, 2, cliRun.stderr);
    assert.ok(!existsSync(c.local));
  });
});
