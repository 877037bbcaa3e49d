/**
 * The config from a restinpieces database (app_config rows encrypted by the real `age` CLI), and the
 * config without a file: SQLITE_BACKUP_CONFIG and `backup <db> <dir>`. Backups are checked with the
 * native sqlite3.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { parse } from 'smol-toml';
import { backupSectionOfApplication, loadAppConfig } from '../src/config/app-config.js';
import { loadAgeIdentities } from '../src/crypto/age-identity.js';
import { WasmEngine } from '../src/engine/index.js';
import { isBackupError } from '../src/errors.js';
import { hasCommand, python, requirePeer, run, sqlite3 } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const sb = (args: string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}) =>
  run(process.execPath, [cli, '--no-timestamps', ...args], {
    allowFail: true,
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    env: { ...process.env, SQLITE_BACKUP_CONFIG: undefined, SQLITE_BACKUP_AGE_IDENTITY: undefined, ...opts.env },
  });

const SCHEMA = `CREATE TABLE app_config (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  scope TEXT NOT NULL,
  content BLOB NOT NULL,
  format TEXT NOT NULL DEFAULT 'toml',
  description TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);`;

/** A new age key pair by age-keygen: the key file and its recipient. */
function keygen(path: string): string {
  run('age-keygen', ['-o', path]);
  chmodSync(path, 0o600);
  return run('age-keygen', ['-y', path]).stdout.trim();
}

/** Encrypts text to a recipient with the age CLI; armored with -a. */
function ageEncrypt(dir: string, text: string, recipient: string, armor = false): string {
  const plain = join(dir, `plain-${Math.random().toString(36).slice(2)}.toml`);
  writeFileSync(plain, text);
  const out = `${plain}.age`;
  run('age', [...(armor ? ['-a'] : []), '-r', recipient, '-o', out, plain]);
  return out;
}

/** Inserts a row whose content is the bytes of `file` (python3's sqlite3, a real BLOB). */
function insertRow(db: string, row: { scope: string; file: string; createdAt: string; format?: string; id?: number }): void {
  python(
    `import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
data = open(sys.argv[3], 'rb').read()
if sys.argv[6]:
    con.execute('INSERT INTO app_config (id, scope, content, format, created_at) VALUES (?, ?, ?, ?, ?)', (int(sys.argv[6]), sys.argv[2], data, sys.argv[5], sys.argv[4]))
else:
    con.execute('INSERT INTO app_config (scope, content, format, created_at) VALUES (?, ?, ?, ?)', (sys.argv[2], data, sys.argv[5], sys.argv[4]))
con.commit()`,
    [db, row.scope, row.file, row.createdAt, row.format ?? 'toml', row.id === undefined ? '' : String(row.id)],
  );
}

function fingerprint(dir: string, db: string): string {
  const files = readdirSync(dir).sort().join(',');
  const st = statSync(db);
  return `${files}|${st.size}|${st.mtimeMs}|${createHash('sha256').update(readFileSync(db)).digest('hex')}`;
}

async function rejectsConfig(p: Promise<unknown>, pattern: RegExp): Promise<Error> {
  try {
    await p;
  } catch (e) {
    assert.ok(isBackupError(e), `not a BackupError: ${String(e)}`);
    assert.equal(e.code, 'ECONFIG', e.message);
    assert.match(e.message, pattern);
    return e;
  }
  assert.fail('expected ECONFIG');
}

const peersReady = () => ['age', 'age-keygen', 'sqlite3', 'python3'].every(hasCommand);

describe('--app-config: the config from a restinpieces database', () => {
  const dir = tempDir();
  const engine = new WasmEngine();
  after(() => engine.close());
  let key = '';
  let recipient = '';
  let otherKey = '';
  let otherRecipient = '';
  const single = (name: string) => `source_path = "${join(dir, `${name}.db`)}"\nbackup_dir = "${join(dir, `${name}-backups`)}"\n`;
  const newDb = (name: string) => {
    const db = join(dir, `${name}.db`);
    sqlite3(db, SCHEMA);
    return db;
  };

  before(() => {
    if (!peersReady()) return;
    key = join(dir, 'key.txt');
    recipient = keygen(key);
    otherKey = join(dir, 'other.txt');
    otherRecipient = keygen(otherKey);
  });

  it('reads scope db_backup_config encrypted by the age CLI; the newest created_at wins, then the greatest id', async (t) => {
    for (const p of ['age', 'age-keygen', 'sqlite3', 'python3']) if (!requirePeer(t, p)) return;
    const db = newDb('store');
    insertRow(db, { scope: 'db_backup_config', file: ageEncrypt(dir, single('newest'), recipient), createdAt: '2026-03-01T10:00:00.000001Z' });
    // Inserted later, with larger ids, but older created_at: created_at decides, not the id.
    insertRow(db, { scope: 'db_backup_config', file: ageEncrypt(dir, single('old'), recipient), createdAt: '2026-03-01T10:00:00.000000Z' });
    insertRow(db, { scope: 'db_backup_config', file: ageEncrypt(dir, single('older'), recipient), createdAt: '2025-12-31T23:59:59.999999Z' });
    insertRow(db, { scope: 'other', file: ageEncrypt(dir, single('other-scope'), recipient), createdAt: '2027-01-01T00:00:00.000000Z' });
    let config = await loadAppConfig(db, { identity: key, engine });
    assert.equal(config.sourcePath, join(dir, 'newest.db'));
    assert.equal(config.backupDir, join(dir, 'newest-backups'));
    assert.equal(config.configPath, db);
    assert.deepEqual(config.appConfig, { database: db, scope: 'db_backup_config', id: 1, createdAt: '2026-03-01T10:00:00.000001Z' });
    // Two rows with the same created_at: the greater id (inserted last) wins, whatever the row order.
    insertRow(db, { scope: 'db_backup_config', file: ageEncrypt(dir, single('tie-high'), recipient), createdAt: '2026-06-01T00:00:00.000000Z', id: 20 });
    insertRow(db, { scope: 'db_backup_config', file: ageEncrypt(dir, single('tie-low'), recipient), createdAt: '2026-06-01T00:00:00.000000Z', id: 10 });
    config = await loadAppConfig(db, { identity: key, engine });
    assert.equal(config.sourcePath, join(dir, 'tie-high.db'));
    assert.equal(config.appConfig.id, 20);
  });

  it('tries every key of an identity file (comments and blank lines allowed); armored content works too', async (t) => {
    for (const p of ['age', 'age-keygen', 'sqlite3', 'python3']) if (!requirePeer(t, p)) return;
    const db = newDb('multi');
    insertRow(db, { scope: 'db_backup_config', file: ageEncrypt(dir, single('multi'), otherRecipient, true), createdAt: '2026-01-01T00:00:00Z' });
    // age-keygen's own files (each with its "# created:" and "# public key:" comments), one after the other.
    const both = join(dir, 'both.txt');
    writeFileSync(both, `${readFileSync(key, 'utf8')}\n\n${readFileSync(otherKey, 'utf8')}`, { mode: 0o600 });
    assert.equal((await loadAgeIdentities(both)).keys.length, 2);
    const config = await loadAppConfig(db, { identity: both, engine });
    assert.equal(config.sourcePath, join(dir, 'multi.db'));
  });

  it('refuses a wrong key, unencrypted content, a non-TOML format, a missing table or scope: ECONFIG, no key material', async (t) => {
    for (const p of ['age', 'age-keygen', 'sqlite3', 'python3']) if (!requirePeer(t, p)) return;
    const db = newDb('refuse');
    insertRow(db, { scope: 'db_backup_config', file: ageEncrypt(dir, single('x'), otherRecipient), createdAt: '2026-01-01T00:00:00Z' });
    const wrong = await rejectsConfig(loadAppConfig(db, { identity: key, engine }), /app_config row 1 \(scope "db_backup_config".*the key in .*key\.txt" cannot decrypt it/);
    const secret = readFileSync(key, 'utf8').match(/AGE-SECRET-KEY-1\w+/)![0];
    assert.ok(!wrong.message.includes(secret) && !JSON.stringify(wrong).includes(secret));

    const plainDb = newDb('plain');
    const plainFile = join(dir, 'plain.toml');
    writeFileSync(plainFile, single('plain'));
    insertRow(plainDb, { scope: 'db_backup_config', file: plainFile, createdAt: '2026-01-01T00:00:00Z' });
    await rejectsConfig(loadAppConfig(plainDb, { identity: key, engine }), /is not age-encrypted/);

    const jsonDb = newDb('json');
    insertRow(jsonDb, { scope: 'db_backup_config', file: ageEncrypt(dir, '{"source_path": "a"}', recipient), createdAt: '2026-01-01T00:00:00Z', format: 'json' });
    await rejectsConfig(loadAppConfig(jsonDb, { identity: key, engine }), /has format "json": only "toml" is supported/);

    const badToml = newDb('badtoml');
    insertRow(badToml, { scope: 'db_backup_config', file: ageEncrypt(dir, 'source_path = \n', recipient), createdAt: '2026-01-01T00:00:00Z' });
    await rejectsConfig(loadAppConfig(badToml, { identity: key, engine }), /invalid TOML/);

    const noTable = join(dir, 'notable.db');
    sqlite3(noTable, 'CREATE TABLE t(a);');
    await rejectsConfig(loadAppConfig(noTable, { identity: key, engine }), /has no app_config table/);

    const noScope = newDb('noscope');
    insertRow(noScope, { scope: 'something_else', file: ageEncrypt(dir, single('x'), recipient), createdAt: '2026-01-01T00:00:00Z' });
    await rejectsConfig(loadAppConfig(noScope, { identity: key, engine }), /no config for scope "db_backup_config" nor "application"/);

    const textFile = join(dir, 'text.db');
    writeFileSync(textFile, 'not a database at all '.repeat(20));
    await rejectsConfig(loadAppConfig(textFile, { identity: key, engine }), /is not a SQLite database/);
    await rejectsConfig(loadAppConfig(join(dir, 'missing.db'), { identity: key, engine }), /does not exist/);
    await rejectsConfig(loadAppConfig(db, { identity: join(dir, 'no-such-key.txt'), engine }), /age identity file .* does not exist/);
    const publicOnly = join(dir, 'public.txt');
    writeFileSync(publicOnly, `${recipient}\n`, { mode: 0o600 });
    const pub = await rejectsConfig(loadAppConfig(db, { identity: publicOnly, engine }), /line 1 is not an age secret key.*public key/);
    assert.ok(!pub.message.includes(recipient), 'the offending line is named by number, not printed');
  });

  it('engine selectRows binds values (quotes are data, not SQL) and refuses a statement that writes', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const db = join(dir, 'bind.db');
    sqlite3(db, "CREATE TABLE app_config (id INTEGER PRIMARY KEY, scope TEXT); INSERT INTO app_config VALUES (1, 'a'), (2, 'x'' OR ''1''=''1');");
    const before = fingerprint(dir, db);
    assert.deepEqual(await engine.selectRows(db, 'SELECT id FROM app_config WHERE scope = ?', ["x' OR '1'='1"]), [[2]]);
    assert.deepEqual(await engine.selectRows(db, 'SELECT id FROM app_config WHERE scope = ?', ["' OR 1=1 --"]), []);
    await assert.rejects(engine.selectRows(db, 'DELETE FROM app_config'), (e: unknown) => isBackupError(e, 'ESQLITE') && /readonly|read-only/i.test((e as Error).message));
    assert.equal(fingerprint(dir, db), before);
    assert.equal(sqlite3(db, 'SELECT count(*) FROM app_config;').stdout.trim(), '2');
  });

  it('warns when the identity file is readable by others', async (t) => {
    for (const p of ['age', 'age-keygen']) if (!requirePeer(t, p)) return;
    if (process.platform === 'win32') return;
    const loose = join(dir, 'loose.txt');
    writeFileSync(loose, readFileSync(key));
    chmodSync(loose, 0o644);
    const warnings: string[] = [];
    await loadAgeIdentities(loose, { warn: (m) => warnings.push(m) });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /readable by others \(mode 0644\).*chmod 600/);
    await loadAgeIdentities(key, { warn: (m) => warnings.push(m) });
    assert.equal(warnings.length, 1, 'a 0600 file gives no warning');
  });

  it('never writes the database: a WAL database keeps its bytes, mtime and directory listing', async (t) => {
    for (const p of ['age', 'age-keygen', 'sqlite3', 'python3']) if (!requirePeer(t, p)) return;
    const walDir = join(dir, 'wal');
    mkdirSync(walDir);
    const db = join(walDir, 'app.db');
    sqlite3(db, `PRAGMA journal_mode=WAL; ${SCHEMA}`);
    insertRow(db, { scope: 'db_backup_config', file: ageEncrypt(dir, single('wal'), recipient), createdAt: '2026-01-01T00:00:00Z' });
    const before = fingerprint(walDir, db);
    const config = await loadAppConfig(db, { identity: key, engine });
    assert.equal(config.sourcePath, join(dir, 'wal.db'));
    assert.equal(fingerprint(walDir, db), before);
  });

  it('falls back to the [backup] section of scope application (only its vacuum/online tables)', async (t) => {
    for (const p of ['age', 'age-keygen', 'sqlite3', 'python3']) if (!requirePeer(t, p)) return;
    const application = `[server]\naddr = ":8080"\n\n[backup.vacuum.app]\nsource_path = "${join(dir, 'app.db')}"\ndest_path = "${join(dir, 'app-backups')}"\nfrequency = "24h"\ncompression = true\n\n[backup.s3-upload.offsite]\nbucket = "b"\npath = "/x"\n`;
    // The extraction: [backup] alone, without the application's other sections or other daemons' tables.
    assert.deepEqual(JSON.parse(JSON.stringify(parse(backupSectionOfApplication(application)))), {
      backup: { vacuum: { app: { source_path: join(dir, 'app.db'), dest_path: join(dir, 'app-backups'), frequency: '24h', compression: true } } },
    });
    assert.throws(() => backupSectionOfApplication('[server]\naddr = ":1"\n', 'scope application'), /scope application has no \[backup\] section/);
    assert.throws(() => backupSectionOfApplication('[backup.s3-upload.x]\nbucket = "b"\n'), /no \[backup\.vacuum\.<label>\] or \[backup\.online\.<label>\] entry \(it has: s3-upload\)/);

    const db = newDb('application');
    insertRow(db, { scope: 'application', file: ageEncrypt(dir, application, recipient), createdAt: '2026-01-01T00:00:00Z' });
    // The [backup] section reaches the config parser as the restinpieces-backup shape: one entry.
    const config = await loadAppConfig(db, { identity: key, engine });
    assert.equal(config.entries?.length, 1, JSON.stringify(config));
    assert.equal(config.entries![0]!.destPath, join(dir, 'app-backups'));
    assert.equal(config.entries![0]!.label, 'app');
    // db_backup_config, when there is one, comes first.
    insertRow(db, { scope: 'db_backup_config', file: ageEncrypt(dir, single('first'), recipient), createdAt: '2020-01-01T00:00:00Z' });
    assert.equal((await loadAppConfig(db, { identity: key, engine })).sourcePath, join(dir, 'first.db'));
  });
});

/** The sqlite3 CLI's view of a gzip backup: integrity_check and .dump. */
function checkBackup(gz: string, source: string): void {
  const restored = `${gz}.check.db`;
  writeFileSync(restored, gunzipSync(readFileSync(gz)));
  assert.equal(sqlite3(restored, 'PRAGMA integrity_check;').stdout.trim(), 'ok');
  assert.equal(sqlite3(restored, '.dump').stdout, sqlite3(source, '.dump').stdout);
}

function newestBackup(dir: string): string {
  return join(dir, readFileSync(join(dir, 'latest.txt'), 'utf8').trim());
}

describe('sqlite-backup CLI: --app-config, SQLITE_BACKUP_CONFIG, backup <db> <dir>', () => {
  const dir = tempDir();
  let key = '';
  let recipient = '';
  const source = join(dir, 'src.db');
  const store = join(dir, 'store.db');

  before(() => {
    if (!peersReady()) return;
    key = join(dir, 'key.txt');
    recipient = keygen(key);
    sqlite3(source, "CREATE TABLE t(a, b); INSERT INTO t VALUES (1, 'one'), (2, x'00ff');");
    sqlite3(store, SCHEMA);
    insertRow(store, {
      scope: 'db_backup_config',
      file: ageEncrypt(dir, `source_path = "${source}"\nbackup_dir = "${join(dir, 'from-store')}"\n`, recipient),
      createdAt: '2026-01-01T00:00:00Z',
    });
  });

  it('backup --app-config --age-identity, and the identity from SQLITE_BACKUP_AGE_IDENTITY', (t) => {
    for (const p of ['age', 'age-keygen', 'sqlite3', 'python3']) if (!requirePeer(t, p)) return;
    const b = sb(['backup', '--app-config', store, '--age-identity', key]);
    assert.equal(b.status, 0, b.stderr);
    assert.match(b.stdout, /^published .*from-store\/src-\d{8}T/m);
    checkBackup(newestBackup(join(dir, 'from-store')), source);
    const s = sb(['status', '--app-config', store], { env: { SQLITE_BACKUP_AGE_IDENTITY: key } });
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stdout, /^newest: .*from-store\/src-/m);
    const l = sb(['list', '--app-config', store, '--json'], { env: { SQLITE_BACKUP_AGE_IDENTITY: key } });
    assert.equal(l.status, 0, l.stderr);
    assert.equal((JSON.parse(l.stdout) as { dir: string }).dir, join(dir, 'from-store'));
  });

  it('usage and config errors exit 2: wrong key (no key material printed), no identity, --config with --app-config', (t) => {
    for (const p of ['age', 'age-keygen', 'sqlite3', 'python3']) if (!requirePeer(t, p)) return;
    const other = join(dir, 'other.txt');
    keygen(other);
    const wrong = sb(['backup', '--app-config', store, '--age-identity', other, '--json']);
    assert.equal(wrong.status, 2);
    assert.match(wrong.stderr, /decrypt it.*\[ECONFIG\]/);
    assert.equal((JSON.parse(wrong.stdout) as { error: { code: string } }).error.code, 'ECONFIG');
    assert.doesNotMatch(wrong.stdout + wrong.stderr, /AGE-SECRET-KEY-1/);
    const noId = sb(['pull', '--app-config', store]);
    assert.equal(noId.status, 2);
    assert.match(noId.stderr, /--age-identity <key file> or SQLITE_BACKUP_AGE_IDENTITY/);
    const both = sb(['prune', '--app-config', store, '--age-identity', key, '--config', 'x.toml']);
    assert.equal(both.status, 2);
    assert.match(both.stderr, /--config <file> or --app-config <database>, not both/);
    // list, prune and backup never decrypt a backup: the identity alone is a mistake there.
    const lone = sb(['list', '--age-identity', key]);
    assert.equal(lone.status, 2);
    assert.match(lone.stderr, /--age-identity goes with --app-config/);
  });

  it('SQLITE_BACKUP_CONFIG names the config when --config is not given', (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const cwd = join(dir, 'elsewhere');
    mkdirSync(cwd);
    const file = join(dir, 'env.toml');
    writeFileSync(file, `source_path = "${source}"\nbackup_dir = "${join(dir, 'from-env')}"\n`);
    const b = sb(['backup'], { cwd, env: { SQLITE_BACKUP_CONFIG: file } });
    assert.equal(b.status, 0, b.stderr);
    checkBackup(newestBackup(join(dir, 'from-env')), source);
    for (const command of ['list', 'status', 'prune']) {
      const r = sb([command, '--json'], { cwd, env: { SQLITE_BACKUP_CONFIG: file } });
      assert.equal(r.status, 0, `${command}: ${r.stderr}`);
      assert.equal((JSON.parse(r.stdout) as { dir: string }).dir, join(dir, 'from-env'), command);
    }
    // --config wins over the variable; a variable naming a missing file is an error, not a silent default.
    const missing = sb(['list'], { cwd, env: { SQLITE_BACKUP_CONFIG: join(dir, 'nope.toml') } });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /nope\.toml" does not exist/);
    const explicit = sb(['status', '--json', '--config', file], { cwd, env: { SQLITE_BACKUP_CONFIG: join(dir, 'nope.toml') } });
    assert.equal(explicit.status, 0, explicit.stderr);
  });

  it('backup <db> <dir> backs up one database with the defaults and no config; with --config it is a usage error', (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const cwd = join(dir, 'adhoc');
    mkdirSync(cwd);
    writeFileSync(join(cwd, 'sqlite-backup.toml'), 'this = "is not read"\n');
    const b = sb(['backup', source, 'out'], { cwd, env: { SQLITE_BACKUP_CONFIG: join(dir, 'nope.toml') } });
    assert.equal(b.status, 0, b.stderr);
    const out = join(cwd, 'out');
    assert.match(readFileSync(join(out, 'latest.txt'), 'utf8'), /^src-\d{8}T\d{6}\.\d{3}Z-vacuum\.db\.gz$/);
    checkBackup(newestBackup(out), source);
    assert.equal(statSync(out).mode & 0o777, 0o700);
    assert.equal(statSync(newestBackup(out)).mode & 0o777, 0o600);
    const withConfig = sb(['backup', source, 'out', '--config', 'x.toml'], { cwd });
    assert.equal(withConfig.status, 2);
    assert.match(withConfig.stderr, /give either them or --config\/--app-config, not both/);
    const one = sb(['backup', source], { cwd });
    assert.equal(one.status, 2);
    assert.match(one.stderr, /give both <db> and <dir>/);
  });
});
