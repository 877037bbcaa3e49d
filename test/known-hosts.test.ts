/**
 * known_hosts parsing/matching and the host key policy, against OpenSSH's own tools: keys made by
 * `ssh-keygen`, fingerprints compared with `ssh-keygen -lf`, hashed files made by `ssh-keygen -H`, and
 * `ssh-keygen -F` as the second opinion on which lines match a host.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { isBackupError } from '../src/errors.js';
import {
  describeKey,
  fingerprintSha256,
  hostKeyAlgorithmsFor,
  keysForHost,
  keyTypeOf,
  knownHostsName,
  loadKnownHosts,
  parseKnownHosts,
  parseKnownHostsWithSkips,
  type KnownHostsEntry,
} from '../src/transport/sftp/known-hosts.js';
import { createHostKeyCheck, normalizeFingerprint } from '../src/transport/sftp/host-key.js';
import { requirePeer, run } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const dir = tempDir('known-hosts-test-');

type KeyName = 'ed' | 'ec256' | 'ec384' | 'ec521' | 'rsa' | 'ed2' | 'sk';
interface Key {
  pub: string;
  /** `type base64` */
  line: string;
  type: string;
  blob: Buffer;
}

const made = new Map<KeyName, Key>();
const KEYGEN: Record<Exclude<KeyName, 'sk'>, string[]> = {
  ed: ['-t', 'ed25519'],
  ed2: ['-t', 'ed25519'],
  ec256: ['-t', 'ecdsa', '-b', '256'],
  ec384: ['-t', 'ecdsa', '-b', '384'],
  ec521: ['-t', 'ecdsa', '-b', '521'],
  rsa: ['-t', 'rsa', '-b', '2048'],
};

/** A key made by ssh-keygen (the sk one is assembled by hand: no FIDO token here; ssh-keygen still reads it). */
function key(name: KeyName): Key {
  let k = made.get(name);
  if (!k) {
    const pub = join(dir, `${name}.pub`);
    if (name === 'sk') {
      const str = sshString;
      const blob = Buffer.concat([str(Buffer.from('sk-ssh-ed25519@openssh.com')), str(Buffer.alloc(32, 7)), str(Buffer.from('ssh:'))]);
      writeFileSync(pub, `sk-ssh-ed25519@openssh.com ${blob.toString('base64')} token\n`);
    } else {
      run('ssh-keygen', ['-q', ...KEYGEN[name], '-N', '', '-C', `key-${name}`, '-f', join(dir, name)]);
    }
    const [type, base64] = readFileSync(pub, 'utf8').trim().split(' ');
    k = { pub, line: `${type} ${base64}`, type: type!, blob: Buffer.from(base64!, 'base64') };
    made.set(name, k);
  }
  return k;
}

function sshString(b: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

function writeFile(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, lines.join('\n') + '\n', { mode: 0o600 });
  return path;
}

/** ssh-keygen -F: the lines OpenSSH finds for a name, with their REVOKED / CA marks. */
function keygenFind(name: string, file: string): string[] {
  const r = run('ssh-keygen', ['-F', name, '-f', file], { allowFail: true });
  return [...r.stdout.matchAll(/^# Host .* found: line (\d+) ?(\S*)$/gm)].map((m) => `${m[1]}${m[2] ? ` ${m[2]}` : ''}`);
}

/** Our answer in the same shape as keygenFind. */
function ourFind(entries: KnownHostsEntry[], host: string, port: number): string[] {
  const { keys, revoked } = keysForHost(entries, host, port);
  const lines = keys.map((k) => `${k.line}`);
  for (const e of entries) if (e.marker === 'revoked' && revoked.includes(e.blob)) lines.push(`${e.line} REVOKED`);
  return lines.sort((a, b) => parseInt(a) - parseInt(b));
}

function peer(t: TestContext): boolean {
  return requirePeer(t, 'ssh-keygen');
}

describe('key blobs', () => {
  test('fingerprintSha256, keyTypeOf and describeKey agree with ssh-keygen -lf for every key type', (t) => {
    if (!peer(t)) return;
    for (const name of ['ed', 'ec256', 'ec384', 'ec521', 'rsa', 'sk'] as const) {
      const k = key(name);
      // "256 SHA256:... comment (ED25519)"
      const [bits, fp, ...rest] = run('ssh-keygen', ['-lf', k.pub]).stdout.trim().split(' ');
      const label = rest.at(-1)!;
      assert.equal(fingerprintSha256(k.blob), fp, name);
      assert.equal(keyTypeOf(k.blob), k.type, name);
      assert.equal(describeKey(k.blob), `${bits} ${fp} ${label}`, name);
    }
  });

  test('keyTypeOf refuses a blob that is not an SSH key', () => {
    assert.throws(() => keyTypeOf(Buffer.from([0, 0, 1, 0, 65])), (e) => isBackupError(e, 'EHOST_KEY'));
  });
});

describe('parseKnownHosts', () => {
  test('keeps the usable lines, skips comments, blanks, @cert-authority and junk without failing', (t) => {
    if (!peer(t)) return;
    const ed = key('ed').line;
    const text = [
      '# a comment', //                                  1
      '', //                                               2
      `host1 ${ed} some comment`, //                       3
      `  [127.0.0.1]:2222\t${key('ec256').line}`, //       4 leading blanks, tab
      `@cert-authority *.example.com ${key('rsa').line}`, // 5
      `@revoked host1 ${key('ec384').line}`, //            6
      'host3 2048 35 1234567', //                          7 SSH1 RSA
      `host4 ssh-ed25519 not*base64`, //                   8
      `host5 ecdsa-sha2-nistp256 ${ed.split(' ')[1]}`, //  9 type does not match the blob
      `@bogus host6 ${ed}`, //                             10 unknown marker
      'host7', //                                          11
      `|1|c2FsdA==|aGFzaA== ${ed}`, //                      12 hashed, but salt and hash are not 20 bytes
      `host8,sk.example ${key('sk').line}\r`, //           13 CRLF
    ].join('\n');
    const { entries, skipped } = parseKnownHostsWithSkips(text, 'kh');
    assert.deepEqual(entries.map((e) => [e.line, e.type, e.marker ?? '', e.source]), [
      [3, 'ssh-ed25519', '', 'kh'],
      [4, 'ecdsa-sha2-nistp256', '', 'kh'],
      [6, 'ecdsa-sha2-nistp384', 'revoked', 'kh'],
      [13, 'sk-ssh-ed25519@openssh.com', '', 'kh'],
    ]);
    assert.deepEqual(entries[3]!.hosts, { patterns: ['host8', 'sk.example'] });
    assert.ok(entries[1]!.blob.equals(key('ec256').blob));
    assert.deepEqual(skipped, [
      { line: 5, reason: 'cert-authority' },
      ...[7, 8, 9, 10, 11, 12].map((line) => ({ line, reason: 'malformed' })),
    ]);
    assert.deepEqual(parseKnownHosts(text).length, 4);
    assert.deepEqual(parseKnownHosts(''), []);
  });

  test('loadKnownHosts reads a file; a missing one is EHOST_KEY naming it', async (t) => {
    if (!peer(t)) return;
    const path = writeFile('load', [`h ${key('ed').line}`]);
    const entries = await loadKnownHosts(path);
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.source, path);
    const missing = join(dir, 'nope', 'known_hosts');
    await assert.rejects(loadKnownHosts(missing), (e) => {
      assert.ok(isBackupError(e, 'EHOST_KEY'));
      assert.equal(e.path, missing);
      assert.equal(e.errno, 'ENOENT');
      assert.match(e.message, /does not exist; pin host_key_sha256 or create it with ssh-keyscan/);
      return true;
    });
  });
});

describe('matching hosts (ssh-keygen -F is the second opinion)', () => {
  // Lookups: [host, port]. ssh-keygen -F takes the name exactly as ssh looks it up.
  const LOOKUPS: [string, number][] = [
    ['host1', 22], ['HOST1', 22], ['host1', 2222], ['127.0.0.1', 2222], ['127.0.0.1', 22], ['127.0.0.1', 2200],
    ['a.example.com', 22], ['bad.example.com', 22], ['a.example.com', 2222], ['db1.lan', 22], ['db12.lan', 22],
    ['other', 22], ['10.0.0.5', 22], ['10.0.0.9', 22], ['h', 22], ['h', 2022],
    ['backup-1.lan', 22], ['BACKUP-2.Lan', 22],
  ];
  const fileLines = (): string[] => [
    `host1,[127.0.0.1]:2222 ${key('ed').line}`, //           1 comma list, plain and bracketed
    `*.example.com,!bad.example.com ${key('ec256').line}`, // 2 wildcard and negation
    `[*.example.com]:2222 ${key('ec384').line}`, //           3 wildcard with a port
    `db?.lan ${key('rsa').line}`, //                          4 ?
    `10.0.0.* ${key('ec521').line}`, //                       5
    `!10.0.0.5,10.0.0.? ${key('ed2').line}`, //               6 negation first
    `@revoked host1 ${key('ec256').line}`, //                 7
    `host1 ${key('ec256').line}`, //                          8 listed and revoked
    `[h]:22 ${key('ed').line}`, //                            9 port 22 written in brackets: never matches
    `[h]:2022 ${key('rsa').line}`, //                         10
    `@cert-authority host1 ${key('rsa').line}`, //            11 ignored by us
    `Backup-*.LAN ${key('ed2').line}`, //                     12 patterns are case-insensitive too
  ];

  test('plain, [host]:port, comma lists, wildcards, negation and @revoked', (t) => {
    if (!peer(t)) return;
    const path = writeFile('match', fileLines());
    const entries = parseKnownHosts(readFileSync(path, 'utf8'), path);
    for (const [host, port] of LOOKUPS) {
      const theirs = keygenFind(knownHostsName(host, port), path).filter((l) => !l.endsWith(' CA'));
      assert.deepEqual(ourFind(entries, host, port), theirs, `${host}:${port}`);
    }
    // Spot checks, so the test does not rest on ssh-keygen alone.
    const lines = (h: string, p: number): number[] => keysForHost(entries, h, p).keys.map((k) => k.line);
    assert.deepEqual(lines('host1', 22), [1, 8]);
    assert.deepEqual(lines('host1', 2222), []);
    assert.deepEqual(lines('127.0.0.1', 2222), [1]);
    assert.deepEqual(lines('127.0.0.1', 22), []);
    assert.deepEqual(lines('bad.example.com', 22), []);
    assert.deepEqual(lines('a.example.com', 2222), [3]);
    assert.deepEqual(lines('10.0.0.5', 22), [5]);
    assert.deepEqual(lines('10.0.0.9', 22), [5, 6]);
    assert.deepEqual(lines('h', 22), []);
    assert.deepEqual(lines('BACKUP-2.Lan', 22), [12]);
    assert.equal(keysForHost(entries, 'host1', 22).revoked.length, 1);
  });

  test('entries hashed by ssh-keygen -H match the same hosts as the plain file', (t) => {
    if (!peer(t)) return;
    const plain = parseKnownHosts(fileLines().join('\n'));
    const path = writeFile('hashed', fileLines());
    run('ssh-keygen', ['-H', '-f', path]);
    const text = readFileSync(path, 'utf8');
    assert.match(text, /^\|1\|/m, 'ssh-keygen hashed something');
    // It hashes every plain name, splitting comma lists; lines with a marker or a wildcard stay as written.
    assert.doesNotMatch(text, /^(host1|\[127\.0\.0\.1\]:2222)[ ,]/m, 'no plain host1 line left');
    const hashed = parseKnownHosts(text, path);
    assert.ok(hashed.some((e) => 'hash' in e.hosts));
    const blobs = (es: KnownHostsEntry[], h: string, p: number): string[] => {
      const r = keysForHost(es, h, p);
      return [...r.keys.map((k) => k.blob.toString('base64')).sort(), '|', ...r.revoked.map((b) => b.toString('base64')).sort()];
    };
    for (const [host, port] of LOOKUPS) {
      assert.deepEqual(blobs(hashed, host, port), blobs(plain, host, port), `${host}:${port}`);
      const theirs = keygenFind(knownHostsName(host, port), path).filter((l) => !l.endsWith(' CA'));
      assert.deepEqual(ourFind(hashed, host, port), theirs, `ssh-keygen -F on the hashed file, ${host}:${port}`);
    }
  });
});

describe('hostKeyAlgorithmsFor', () => {
  const DEFAULTS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

  test('the known types first, then the other defaults, each once', () => {
    assert.deepEqual(hostKeyAlgorithmsFor([]), DEFAULTS);
    assert.deepEqual(hostKeyAlgorithmsFor([{ type: 'ecdsa-sha2-nistp256' }]), ['ecdsa-sha2-nistp256', 'ssh-ed25519', ...DEFAULTS.slice(2)]);
    assert.deepEqual(hostKeyAlgorithmsFor([{ type: 'ssh-rsa' }]), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', ...DEFAULTS.slice(0, 4)]);
    const both = hostKeyAlgorithmsFor([{ type: 'ssh-rsa' }, { type: 'ecdsa-sha2-nistp384' }, { type: 'ssh-rsa' }]);
    assert.deepEqual(both.slice(0, 4), ['ecdsa-sha2-nistp384', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    assert.deepEqual([...both].sort(), [...DEFAULTS].sort());
    // Types ssh2 cannot negotiate would make it throw: never offered.
    assert.deepEqual(hostKeyAlgorithmsFor([{ type: 'sk-ssh-ed25519@openssh.com' }, { type: 'ssh-dss' }]), DEFAULTS);
  });

  test('a host known only by its ECDSA key is asked for ECDSA first (revoked keys do not count)', async (t) => {
    if (!peer(t)) return;
    const path = writeFile('algos', [`@revoked srv ${key('ed').line}`, `srv ${key('ed').line}`, `srv ${key('ec384').line}`]);
    const check = await createHostKeyCheck({ host: 'srv', port: 22, knownHostsPath: path });
    assert.equal(check.algorithms[0], 'ecdsa-sha2-nistp384');
    const unknown = await createHostKeyCheck({ host: 'other', knownHostsPath: path });
    assert.deepEqual(unknown.algorithms, DEFAULTS);
  });
});

describe('createHostKeyCheck', () => {
  const fp = (name: KeyName): string => run('ssh-keygen', ['-lf', key(name).pub]).stdout.split(' ')[1]!;
  const knownHosts = (): string =>
    writeFile('policy', [
      `[127.0.0.1]:2222 ${key('ed').line}`,
      `srv.example ${key('ec256').line}`,
      `@revoked [127.0.0.1]:2222,srv.example ${key('rsa').line}`,
      `srv.example ${key('rsa').line}`,
      `@cert-authority *.corp ${key('ec384').line}`,
    ]);

  function refused(check: { error(): unknown }, failure: string): string {
    const e = check.error();
    assert.ok(isBackupError(e, 'EHOST_KEY'), `expected EHOST_KEY, got ${String(e)}`);
    assert.ok(e.host);
    assert.equal((check as { failure?: string }).failure, failure);
    return e.message;
  }

  test('known_hosts: the listed key is accepted, on its port only', async (t) => {
    if (!peer(t)) return;
    const path = knownHosts();
    const check = await createHostKeyCheck({ host: '127.0.0.1', port: 2222, knownHostsPath: path });
    assert.equal(check.error(), undefined, 'nothing to report before a key was presented');
    assert.equal(check.verify(key('ed').blob), true);
    assert.equal(check.error(), undefined);
    assert.deepEqual({ ...check.presented }, { type: 'ssh-ed25519', fingerprint: fp('ed'), description: `256 ${fp('ed')} (ED25519)` });
    assert.equal(check.insecure, false);
    assert.equal(check.warning(), undefined);
    const port22 = await createHostKeyCheck({ host: '127.0.0.1', knownHostsPath: path });
    assert.equal(port22.verify(key('ed').blob), false);
    assert.match(refused(port22, 'unknown'), /no entry for 127\.0\.0\.1 in/);
  });

  test('unknown host: says so, shows the presented key and how to trust it', async (t) => {
    if (!peer(t)) return;
    const path = knownHosts();
    const check = await createHostKeyCheck({ host: 'new.host', port: 2200, knownHostsPath: path });
    assert.equal(check.verify(key('ec256').blob), false);
    const msg = refused(check, 'unknown');
    assert.ok(msg.includes(`no entry for [new.host]:2200 in "${path}"`), msg);
    assert.ok(msg.includes(`ecdsa-sha2-nistp256 256 ${fp('ec256')} (ECDSA)`), msg);
    assert.ok(msg.includes(`host_key_sha256 = "${fp('ec256')}"`), msg);
    // Runnable as it is by a user without ~/.ssh: the directory first.
    assert.ok(msg.includes(`mkdir -p -m 700 ${dirname(path)} && ssh-keyscan -p 2200 new.host >> ${path}`), msg);
    assert.doesNotMatch(msg, /CHANGED|ssh-keygen -R/);
    const corp = await createHostKeyCheck({ host: 'a.corp', knownHostsPath: path });
    assert.equal(corp.verify(key('ec384').blob), false, 'a @cert-authority key is not a host key');
    assert.match(refused(corp, 'unknown'), /@cert-authority lines are not supported and were ignored: line 5/);
  });

  test('changed key: another key is listed for the host -> CHANGED, possible man-in-the-middle', async (t) => {
    if (!peer(t)) return;
    const path = knownHosts();
    const check = await createHostKeyCheck({ host: '127.0.0.1', port: 2222, knownHostsPath: path });
    assert.equal(check.verify(key('ed2').blob), false);
    const msg = refused(check, 'changed');
    assert.match(msg, /has CHANGED/);
    assert.match(msg, /possible man-in-the-middle/);
    assert.ok(msg.includes(`ssh-ed25519 ${fp('ed')} at line 1`), msg);
    assert.ok(msg.includes(`The server presented: ssh-ed25519 256 ${fp('ed2')} (ED25519)`), msg);
    assert.ok(msg.includes(`host_key_sha256 = "${fp('ed2')}"`), msg);
    assert.ok(msg.includes(`ssh-keyscan -p 2222 127.0.0.1 >> ${path}`), msg);
    assert.ok(msg.includes(`ssh-keygen -R '[127.0.0.1]:2222' -f ${path}`), msg);
    // A key of another type than the listed one is refused the same way.
    assert.equal(check.verify(key('ec521').blob), false);
    assert.equal(check.failure, 'changed');
    assert.ok(check.error()!.message.includes(fp('ec521')));
    // And a good key afterwards clears the failure.
    assert.equal(check.verify(key('ed').blob), true);
    assert.equal(check.error(), undefined);
  });

  test('revoked: refused although another line lists it', async (t) => {
    if (!peer(t)) return;
    const path = knownHosts();
    const check = await createHostKeyCheck({ host: 'SRV.example', knownHostsPath: path });
    assert.equal(check.verify(key('ec256').blob), true, 'host names are case-insensitive');
    assert.equal(check.verify(key('rsa').blob), false);
    const msg = refused(check, 'revoked');
    assert.match(msg, /REVOKED/);
    assert.ok(msg.includes(`2048 ${fp('rsa')} (RSA)`), msg);
    assert.equal(check.algorithms[0], 'ecdsa-sha2-nistp256', 'the revoked RSA key is not asked for first');
  });

  test('missing known_hosts: refused at verification, with the presented key', async (t) => {
    if (!peer(t)) return;
    const missing = join(dir, 'absent_known_hosts');
    const check = await createHostKeyCheck({ host: 'srv', knownHostsPath: missing });
    assert.equal(check.verify(key('ed').blob), false);
    const msg = refused(check, 'known-hosts-unusable');
    assert.ok(msg.includes(`known_hosts file "${missing}" does not exist; pin host_key_sha256 or create it with ssh-keyscan`), msg);
    assert.ok(msg.includes(`host_key_sha256 = "${fp('ed')}"`), msg);
    assert.equal(check.error()!.path, missing);
  });

  test('pinned fingerprint: with or without SHA256: and padding; anything else is refused', async (t) => {
    if (!peer(t)) return;
    const pin = fp('ec384');
    for (const form of [pin, pin.slice('SHA256:'.length), `${pin}=`, ` ${pin.slice(7)} `]) {
      const check = await createHostKeyCheck({ host: 'h', port: 2222, pinnedSha256: form });
      assert.equal(check.verify(key('ec384').blob), true, form);
      assert.equal(check.verify(key('ec256').blob), false, form);
      const msg = refused(check, 'pin-mismatch');
      assert.ok(msg.includes(`does not match the pinned host_key_sha256 = "${pin}"`), msg);
      assert.ok(msg.includes(`host_key_sha256 = "${fp('ec256')}"`), msg);
    }
    // Exact comparison: base64 is case-sensitive.
    const swapped = pin.slice(0, 7) + [...pin.slice(7)].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('');
    const wrongCase = await createHostKeyCheck({ host: 'h', pinnedSha256: swapped });
    assert.equal(wrongCase.verify(key('ec384').blob), false);
    for (const bad of ['SHA256:abc', 'MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48', `${pin}x`]) {
      await assert.rejects(createHostKeyCheck({ host: 'h', pinnedSha256: bad }), (e) => isBackupError(e, 'EHOST_KEY') && e.host === 'h');
    }
    assert.equal(normalizeFingerprint(pin.slice(7)), pin);
  });

  test('a pin does not override an @revoked line of a known_hosts given with it', async (t) => {
    if (!peer(t)) return;
    const path = knownHosts();
    const check = await createHostKeyCheck({ host: 'srv.example', pinnedSha256: fp('rsa'), knownHostsPath: path });
    assert.equal(check.verify(key('rsa').blob), false);
    refused(check, 'revoked');
    // A pin with a missing known_hosts: the pin decides.
    const alone = await createHostKeyCheck({ host: 'srv.example', pinnedSha256: fp('rsa'), knownHostsPath: join(dir, 'none') });
    assert.equal(alone.verify(key('rsa').blob), true);
  });

  test('insecure: accepts any key and hands the caller a loud warning', async (t) => {
    if (!peer(t)) return;
    const check = await createHostKeyCheck({ host: 'h', insecureSkipHostKeyCheck: true });
    assert.equal(check.insecure, true);
    assert.equal(check.warning(), undefined, 'no key yet');
    assert.equal(check.verify(key('rsa').blob), true);
    assert.equal(check.error(), undefined);
    const warning = check.warning()!;
    assert.match(warning, /WARNING: host key checking is OFF for h:22/);
    assert.ok(warning.includes(fp('rsa')), warning);
  });

  test('no known_hosts, no pin, not insecure: refused before connecting', async () => {
    await assert.rejects(createHostKeyCheck({ host: 'h' }), (e) => isBackupError(e, 'EHOST_KEY') && /known_hosts file or pin/.test(e.message));
    await assert.rejects(createHostKeyCheck({ host: 'h', port: 0, insecureSkipHostKeyCheck: true }), (e) => isBackupError(e, 'EHOST_KEY'));
  });
});
