/**
 * Reading age-encrypted backups: verify, restore and status of files the real `age` CLI encrypted
 * (`gzip -c app.db | age -r <recipient>`), with identities written by `age-keygen`. The database
 * comes from the native sqlite3 CLI and the restored one is compared with it by sqlite3's `.dump`.
 * What must never happen: an encrypted backup called healthy when nothing was checked, a key that
 * does not fit or altered ciphertext passing, a restore target touched by a failed restore, a temp
 * file left behind, key material in any output.
 */
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it, type TestContext } from 'node:test';
import { adoptUnverified } from '../src/api/adopt.js';
import { restore } from '../src/api/restore.js';
import { status } from '../src/api/status.js';
import { detectFormat, verify } from '../src/api/verify.js';
import { verifyInStore } from '../src/api/verify-store.js';
import { LocalTransport } from '../src/transport/local/local.js';
import { loadAgeIdentities } from '../src/crypto/age-identity.js';
import { ErrorCode, isBackupError } from '../src/errors.js';
import { createWithCli, nativeDump } from './helpers/databases.js';
import { requirePeer, run, sqlite3, type RunResult } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
function sb(args: string[], env: NodeJS.ProcessEnv = {}): RunResult {
  const clean = { ...process.env };
  delete clean.SQLITE_BACKUP_AGE_IDENTITY;
  delete clean.SQLITE_BACKUP_CONFIG;
  return run(process.execPath, [cli, ...args, '--no-timestamps'], { allowFail: true, env: { ...clean, ...env } });
}

const PEERS = ['age', 'age-keygen', 'sqlite3', 'gzip', 'sha256sum'];
function peers(t: TestContext): boolean {
  return PEERS.every((p) => requirePeer(t, p));
}

interface Key {
  file: string;
  recipient: string;
  secret: string;
}

function keygen(dir: string, name: string): Key {
  const file = join(dir, name);
  run('age-keygen', ['-o', file]);
  const secret = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!;
  return { file, recipient: run('age-keygen', ['-y', file]).stdout.trim(), secret };
}

/** `gzip -c db | age [-a] -r R... > out`, and its sidecar as `sha256sum` writes it (unless told not to). */
function encrypt(db: string, out: string, recipients: string[], opts: { armor?: boolean; sidecar?: boolean; gzip?: boolean } = {}): string {
  const r = recipients.map((x) => `-r ${x}`).join(' ');
  const source = opts.gzip === false ? `cat "$1"` : `gzip -c "$1"`;
  run('sh', ['-c', `${source} | age ${opts.armor ? '-a ' : ''}${r} > "$2"`, 'sh', db, out]);
  if (opts.sidecar !== false) writeSidecar(out);
  return out;
}

/** (Re)writes `<file>.sha256` for the file's current bytes: a tamperer who also fixes the sidecar. */
function writeSidecar(file: string): void {
  const dir = join(file, '..');
  const name = file.slice(dir.length + 1);
  writeFileSync(`${file}.sha256`, run('sha256sum', [name], { cwd: dir }).stdout);
}

/** Byte offset of the age payload (after the header's `--- <mac>` line and the 16-byte nonce). */
function payloadStart(file: string): number {
  const bytes = readFileSync(file);
  const mac = bytes.indexOf('\n--- ');
  return bytes.indexOf('\n', mac + 1) + 1 + 16;
}

/** Names and (size, mtime) of the files in a directory: proves a failed restore left no trace. */
function snapshotDir(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    const st = statSync(join(dir, name));
    out[name] = `${st.size}/${st.mtimeMs}/${createHashHex(join(dir, name))}`;
  }
  return out;
}

function createHashHex(path: string): string {
  return run('sha256sum', [path]).stdout.split(' ')[0]!;
}

describe('encrypted backups: verify, restore, status', () => {
  const dir = tempDir();
  let key: Key;
  let other: Key;
  let db: string;
  let backup: string;
  let dump: string;
  let pageCount: number;

  before(() => {
    if (!PEERS.every((p) => run('sh', ['-c', 'command -v "$1"', 'sh', p], { allowFail: true }).status === 0)) return;
    key = keygen(dir, 'key.txt');
    other = keygen(dir, 'other.txt');
    db = join(dir, 'app.db');
    // ~300 KB of random blobs: several 64 KiB age chunks, so tampering and truncation hit the middle.
    createWithCli(db, { rows: 300 });
    pageCount = Number(sqlite3(db, 'PRAGMA page_count').stdout.trim());
    mkdirSync(join(dir, 'backups'));
    backup = encrypt(db, join(dir, 'backups', 'app-20260101T000000.000Z-vacuum.db.gz.age'), [key.recipient]);
    dump = nativeDump(db, dir);
  });

  it('detectFormat knows a binary age file by its header, whatever its name, and an armored one', async (t) => {
    if (!peers(t)) return;
    const odd = join(dir, 'mystery.bin');
    copyFileSync(backup, odd);
    assert.equal((await detectFormat(backup)).format, 'age');
    assert.equal((await detectFormat(odd)).format, 'age');
    const armored = encrypt(db, join(dir, 'armored.db.gz.age'), [key.recipient], { armor: true });
    assert.equal((await detectFormat(armored)).format, 'age-armored');
  });

  it('verify with the identity: decrypts, gunzips and checks the database (path or loaded identities)', async (t) => {
    if (!peers(t)) return;
    for (const ageIdentity of [key.file, await loadAgeIdentities(key.file)]) {
      const r = await verify(backup, { ageIdentity });
      assert.equal(r.ok, true, r.messages.join('\n'));
      assert.deepEqual(
        [r.encrypted, r.compressed, r.contentChecked, r.checksum, r.pageCount, r.bytes],
        [true, true, true, 'ok', pageCount, statSync(db).size],
      );
    }
    // A file named like anything else is still decrypted: the header decides, not the name.
    const odd = join(dir, 'backups-odd');
    mkdirSync(odd);
    copyFileSync(backup, join(odd, 'copy.db.gz'));
    const r = await verify(join(odd, 'copy.db.gz'), { ageIdentity: key.file });
    assert.equal(r.ok, true, r.messages.join('\n'));
    assert.equal(r.encrypted, true);

    // An unencrypted backup: content checked as always, the identity never read (a bad path is fine).
    const gz = join(dir, 'plain.db.gz');
    run('sh', ['-c', 'gzip -c "$1" > "$2"', 'sh', db, gz]);
    const p = await verify(gz, { ageIdentity: join(dir, 'no-such-key.txt') });
    assert.deepEqual([p.ok, p.encrypted, p.contentChecked], [true, false, true]);

    const cli = sb(['verify', backup, '--age-identity', key.file]);
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /^ok: .*\.db\.gz\.age \(age-encrypted, gzip, \d+ pages, sha256 sidecar ok\)$/m);
    // The directory (latest by name) and the environment variable.
    const env = sb(['verify', join(dir, 'backups'), '--json'], { SQLITE_BACKUP_AGE_IDENTITY: key.file });
    assert.equal(env.status, 0, env.stderr);
    const json = JSON.parse(env.stdout) as { ok: boolean; contentChecked: boolean; encrypted: boolean; pageCount: number };
    assert.deepEqual([json.ok, json.contentChecked, json.encrypted, json.pageCount], [true, true, true, pageCount]);
  });

  it('verify of a store (here a local one) downloads the newest .db.gz.age with its sidecar and decrypts it', async (t) => {
    if (!peers(t)) return;
    const store = new LocalTransport(join(dir, 'backups'));
    try {
      const r = await verifyInStore(store, undefined, { ageIdentity: key.file });
      assert.deepEqual([r.ok, r.name, r.encrypted, r.contentChecked, r.checksum], [true, 'app-20260101T000000.000Z-vacuum.db.gz.age', true, true, 'ok']);
      const bare = await verifyInStore(store, undefined);
      assert.deepEqual([bare.ok, bare.contentChecked], [true, false]);
    } finally {
      await store.close();
    }
  });

  it('verify without an identity: the sidecar only, ok with contentChecked false; a mismatch is still a failure', async (t) => {
    if (!peers(t)) return;
    const r = await verify(backup);
    assert.deepEqual([r.ok, r.contentChecked, r.encrypted, r.checksum], [true, false, true, 'ok']);
    assert.match(r.messages[0]!, /content was not checked/);

    const cli = sb(['verify', backup]);
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /^ok: .*\.db\.gz\.age \(age-encrypted, sha256 sidecar ok\); content NOT checked: .*--age-identity <file>/m);
    const json = JSON.parse(sb(['verify', backup, '--json']).stdout) as Record<string, unknown>;
    assert.deepEqual([json.ok, json.contentChecked, json.checksum], [true, false, 'ok']);

    // One byte changed, sidecar kept: the hash of the whole file tells, identity or not.
    const bad = join(dir, 'flipped');
    mkdirSync(bad);
    const flipped = join(bad, 'app-20260101T000000.000Z-vacuum.db.gz.age');
    copyFileSync(backup, flipped);
    copyFileSync(`${backup}.sha256`, `${flipped}.sha256`);
    const bytes = readFileSync(flipped);
    bytes[bytes.length >> 1]! ^= 0x01;
    writeFileSync(flipped, bytes);
    const m = await verify(flipped);
    assert.deepEqual([m.ok, m.checksum, m.contentChecked], [false, 'mismatch', false]);
    assert.match(m.messages[0]!, /checksum mismatch/);
    const mc = sb(['verify', flipped]);
    assert.equal(mc.status, 1);
    assert.match(mc.stdout, /^NOT OK: /m);
  });

  it('verify without an identity nor a sidecar: nothing could be checked, exit 1', async (t) => {
    if (!peers(t)) return;
    const bare = encrypt(db, join(dir, 'bare.db.gz.age'), [key.recipient], { sidecar: false });
    const r = await verify(bare);
    assert.deepEqual([r.ok, r.contentChecked, r.checksum], [false, false, 'absent']);
    assert.match(r.messages[0]!, /no \.sha256 sidecar: nothing could be checked; give the identity/);
    const cli = sb(['verify', bare, '--json']);
    assert.equal(cli.status, 1);
    assert.equal((JSON.parse(cli.stdout) as { contentChecked: boolean }).contentChecked, false);
    // With the identity it is checked in full.
    assert.equal((await verify(bare, { ageIdentity: key.file })).ok, true);
  });

  it('verify with a key that does not fit: not ok, EDECRYPT naming the identity file, never the key', async (t) => {
    if (!peers(t)) return;
    const r = await verify(backup, { ageIdentity: other.file });
    assert.equal(r.ok, false);
    assert.match(r.messages[0]!, /the key in ".*other\.txt" cannot decrypt it \(it was encrypted to other recipients\)/);
    const cli = sb(['verify', backup, '--age-identity', other.file, '--json']);
    assert.equal(cli.status, 1);
    for (const text of [cli.stdout, cli.stderr, JSON.stringify(r)]) {
      assert.ok(!text.includes(other.secret) && !text.includes(key.secret) && !text.includes('AGE-SECRET-KEY-1'), text);
    }
  });

  it('verify of altered ciphertext whose sidecar was recomputed: EDECRYPT, not ok', async (t) => {
    if (!peers(t)) return;
    const tdir = join(dir, 'tampered');
    mkdirSync(tdir);
    const tampered = join(tdir, 'app-20260101T000000.000Z-vacuum.db.gz.age');
    copyFileSync(backup, tampered);
    const bytes = readFileSync(tampered);
    // In the second chunk: the first one decrypts fine, so the failure comes mid-stream.
    bytes[payloadStart(tampered) + 65536 + 16 + 100]! ^= 0x40;
    writeFileSync(tampered, bytes);
    writeSidecar(tampered);
    const r = await verify(tampered, { ageIdentity: key.file });
    assert.deepEqual([r.ok, r.checksum], [false, 'ok']);
    assert.ok(r.messages[0]!.startsWith(`${tampered}: it cannot be decrypted: the data is damaged or was altered`), r.messages[0]);
    const cli = sb(['verify', tampered, '--age-identity', key.file]);
    assert.equal(cli.status, 1);
    assert.match(cli.stdout, /NOT OK: .*\n.*damaged or was altered/);
  });

  it('verify of a truncated age file (mid-chunk, at a chunk boundary, after or inside the header), sidecar recomputed: not ok', async (t) => {
    if (!peers(t)) return;
    const start = payloadStart(backup);
    for (const [label, size] of [
      ['mid-chunk', statSync(backup).size - 1000],
      ['chunk boundary', start + 2 * (65536 + 16)],
      ['after the header', start],
      ['inside the header', 40],
    ] as const) {
      const tdir = join(dir, `truncated-${label.replace(' ', '-')}`);
      mkdirSync(tdir);
      const cut = join(tdir, 'app-20260101T000000.000Z-vacuum.db.gz.age');
      copyFileSync(backup, cut);
      assert.ok(size < statSync(cut).size, label);
      truncateSync(cut, size);
      writeSidecar(cut);
      const r = await verify(cut, { ageIdentity: key.file });
      assert.equal(r.ok, false, label);
      assert.ok(r.messages[0]!.startsWith(`${cut}: `), `${label}: ${r.messages[0]}`);
      assert.match(r.messages[0]!, /damaged or was altered/, label);
    }
  });

  it('a file encrypted to two recipients opens with a key file holding a wrong key and the right one', async (t) => {
    if (!peers(t)) return;
    const third = keygen(dir, 'third.txt');
    const two = encrypt(db, join(dir, 'two.db.gz.age'), [third.recipient, key.recipient]);
    // age-keygen's own files one after the other: the wrong key first.
    const both = join(dir, 'both.txt');
    writeFileSync(both, readFileSync(other.file, 'utf8') + readFileSync(key.file, 'utf8'), { mode: 0o600 });
    const r = await verify(two, { ageIdentity: both });
    assert.equal(r.ok, true, r.messages.join('\n'));
    const target = join(dir, 'from-two.db');
    const cli = sb(['restore', two, target, '--age-identity', both]);
    assert.equal(cli.status, 0, cli.stderr);
    assert.equal(nativeDump(target, dir), dump);
    // Neither of two wrong keys: the message counts them.
    const wrong = join(dir, 'wrong-two.txt');
    writeFileSync(wrong, readFileSync(other.file, 'utf8') + readFileSync(keygen(dir, 'fourth.txt').file, 'utf8'), { mode: 0o600 });
    const w = await verify(two, { ageIdentity: wrong });
    assert.equal(w.ok, false);
    assert.match(w.messages[0]!, /none of the 2 keys in ".*wrong-two\.txt" can decrypt it/);
  });

  it('an identity file readable by others: a warning, and it still works', (t) => {
    if (!peers(t)) return;
    const loose = join(dir, 'loose.txt');
    copyFileSync(key.file, loose);
    chmodSync(loose, 0o644);
    const r = sb(['verify', backup, '--age-identity', loose]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /WARNING: .*age identity file ".*loose\.txt" is readable by others \(mode 0644\).*chmod 600/);
    assert.match(r.stdout, /^ok: .*age-encrypted, gzip/m);
  });

  it('restore decrypts into place: the content matches, the file is 0600, no temp file is left', async (t) => {
    if (!peers(t)) return;
    const out = join(dir, 'restore-ok');
    mkdirSync(out);
    const r = await restore(backup, join(out, 'app.db'), { ageIdentity: key.file });
    assert.deepEqual([r.encrypted, r.checksum, r.bytes], [true, 'ok', statSync(db).size]);
    assert.equal(statSync(join(out, 'app.db')).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(out), ['app.db']);
    assert.equal(nativeDump(join(out, 'app.db'), dir), dump);
    assert.equal(sqlite3(join(out, 'app.db'), 'PRAGMA integrity_check').stdout.trim(), 'ok');
    // The CLI, with the identity from the environment.
    const cli = sb(['restore', backup, join(out, 'cli.db')], { SQLITE_BACKUP_AGE_IDENTITY: key.file });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /^restored .* -> .*cli\.db \(.*, decrypted, integrity ok, sha256 ok\)$/m);
    assert.equal(nativeDump(join(out, 'cli.db'), dir), dump);
  });

  /** A target with content of its own, and the directory's state, before a restore that must fail. */
  function existingTarget(name: string): { target: string; before: Record<string, string>; where: string } {
    const where = join(dir, name);
    mkdirSync(where);
    const target = join(where, 'live.db');
    sqlite3(target, "CREATE TABLE live(x); INSERT INTO live VALUES ('keep me');");
    return { target, before: snapshotDir(where), where };
  }

  it('restore without an identity: ECONFIG, exit 2, before anything is written', async (t) => {
    if (!peers(t)) return;
    const { target, before, where } = existingTarget('restore-no-identity');
    await assert.rejects(restore(backup, target, { force: true }), (e: unknown) => {
      assert.ok(isBackupError(e, ErrorCode.CONFIG), String(e));
      assert.match(e.message, /is encrypted \(age\): give the identity file that decrypts it \(--age-identity <file>, \$SQLITE_BACKUP_AGE_IDENTITY/);
      return true;
    });
    const cli = sb(['restore', backup, target, '--force']);
    assert.equal(cli.status, 2, cli.stderr);
    assert.match(cli.stderr, /--age-identity <file>.*\[ECONFIG\]/);
    assert.deepEqual(snapshotDir(where), before);
  });

  it('restore with a key that does not fit, or of altered data: exit 1, the target untouched, no temp file', async (t) => {
    if (!peers(t)) return;
    const { target, before, where } = existingTarget('restore-wrong-key');
    const cli = sb(['restore', backup, target, '--force', '--age-identity', other.file]);
    assert.equal(cli.status, 1, cli.stderr);
    assert.match(cli.stderr, /the key in ".*other\.txt" cannot decrypt it.*\[EDECRYPT\]/);
    assert.ok(!cli.stderr.includes('AGE-SECRET-KEY-1'));
    assert.deepEqual(snapshotDir(where), before);

    // Altered in the last chunk, sidecar recomputed: most of the database was already decrypted
    // into the temp file when the failure comes; none of it may stay or reach the target.
    const tdir = join(dir, 'restore-tampered-src');
    mkdirSync(tdir);
    const tampered = join(tdir, 'app-20260101T000000.000Z-vacuum.db.gz.age');
    copyFileSync(backup, tampered);
    const bytes = readFileSync(tampered);
    bytes[bytes.length - 20]! ^= 0x01;
    writeFileSync(tampered, bytes);
    writeSidecar(tampered);
    await assert.rejects(restore(tampered, target, { force: true, ageIdentity: key.file }), (e: unknown) => isBackupError(e, ErrorCode.DECRYPT));
    const tc = sb(['restore', tampered, target, '--force', '--age-identity', key.file]);
    assert.equal(tc.status, 1);
    assert.match(tc.stderr, /damaged or was altered.*\[EDECRYPT\]/);
    assert.deepEqual(snapshotDir(where), before);
    assert.equal(sqlite3(target, 'SELECT x FROM live').stdout.trim(), 'keep me');
  });

  it('armored (age -a) files are refused with what to do; an age file without gzip inside too', async (t) => {
    if (!peers(t)) return;
    const armored = encrypt(db, join(dir, 'armored2.db.gz.age'), [key.recipient], { armor: true });
    const v = await verify(armored, { ageIdentity: key.file });
    assert.equal(v.ok, false);
    assert.match(v.messages[0]!, /ASCII-armored age file \(written by "age -a"\), which sqlite-backup does not read/);
    const where = join(dir, 'restore-armored');
    mkdirSync(where);
    const r = sb(['restore', armored, join(where, 'x.db'), '--age-identity', key.file]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /ASCII-armored.*\[EDECRYPT\]/);
    assert.deepEqual(readdirSync(where), []);

    const raw = encrypt(db, join(dir, 'raw.db.age'), [key.recipient], { gzip: false });
    const rv = await verify(raw, { ageIdentity: key.file });
    assert.equal(rv.ok, false);
    assert.match(rv.messages[0]!, /decrypts to something that is not gzip: an encrypted backup is a gzip file encrypted with age/);
    await assert.rejects(restore(raw, join(where, 'y.db'), { ageIdentity: key.file }), /decrypts to something that is not gzip/);
    assert.deepEqual(readdirSync(where), []);
  });

  it('a sidecar-less encrypted backup is neither adopted nor removed by the backup job / prune (no identity there)', async (t) => {
    if (!peers(t)) return;
    const where = join(dir, 'adopt');
    mkdirSync(where);
    const published = 'app-20260101T000000.000Z-vacuum.db.gz.age';
    copyFileSync(backup, join(where, published));
    copyFileSync(`${backup}.sha256`, join(where, `${published}.sha256`));
    writeFileSync(join(where, 'latest.txt'), published);
    // A killed run's: complete, renamed into place, no sidecar yet. Its content cannot be checked.
    const unverified = 'app-20260102T000000.000Z-vacuum.db.gz.age';
    copyFileSync(backup, join(where, unverified));
    // A damaged unencrypted one is still settled (removed) as before.
    const damaged = 'app-20260103T000000.000Z-vacuum.db.gz';
    run('sh', ['-c', 'gzip -c "$1" | head -c 1000 > "$2"', 'sh', db, join(where, damaged)]);
    const r = await adoptUnverified(where);
    assert.deepEqual(r, { adopted: [], discarded: [damaged] });
    assert.deepEqual(readdirSync(where).sort(), ['app-20260101T000000.000Z-vacuum.db.gz.age', 'app-20260101T000000.000Z-vacuum.db.gz.age.sha256', unverified, 'latest.txt']);
    assert.equal(createHashHex(join(where, unverified)), createHashHex(backup));
  });

  it('status: the newest backup is shown encrypted; an identity that does not open it is exit 1 (EDECRYPT)', async (t) => {
    if (!peers(t)) return;
    const backups = join(dir, 'backups');
    const plain = await status(backups, { now: Date.parse('2026-01-01T01:00:00Z') });
    assert.equal(plain.ok, true);
    assert.deepEqual([plain.newest?.encrypted, plain.newest?.decryptable], [true, undefined]);
    const good = await status(backups, { ageIdentity: key.file, now: Date.parse('2026-01-01T01:00:00Z') });
    assert.deepEqual([good.ok, good.newest?.decryptable], [true, true]);
    const bad = await status(backups, { ageIdentity: other.file });
    assert.deepEqual([bad.ok, bad.newest?.decryptable, bad.problems.map((p) => p.kind)], [false, false, ['decrypt']]);

    const cli = sb(['status', backups]);
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /^ {2}encrypted \(age\); no identity given to check it opens$/m);
    const ok = sb(['status', backups, '--age-identity', key.file]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^ {2}encrypted \(age\); the age identity opens it$/m);
    const no = sb(['status', backups], { SQLITE_BACKUP_AGE_IDENTITY: other.file });
    assert.equal(no.status, 1);
    assert.match(no.stdout, /the age identity does NOT open it/);
    assert.match(no.stderr, /the key in ".*other\.txt" cannot decrypt it.*\[EDECRYPT\]/);
    assert.ok(!no.stderr.includes('AGE-SECRET-KEY-1') && !no.stdout.includes('AGE-SECRET-KEY-1'));
  });
});
