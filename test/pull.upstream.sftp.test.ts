/**
 * pull of a restinpieces-backup (2026) directory from a real OpenSSH sshd: several databases,
 * `.bck.gz` and plain `.db` snapshots, `latest-*` hard links, no latest.txt, no sidecars - made by
 * the native sqlite3 and gzip (test/helpers/upstream-layout.ts). `[pull] db` chooses the database;
 * the newest snapshot by name wins; plain ones are downloaded as they are; the pulled copy is checked
 * by the native sqlite3 (integrity_check, `.dump` equal to the source).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig, pull, pruneStore, verify, verifyInStore, WasmEngine, isBackupError, ErrorCode, type Config } from '../src/index.js';
import { openPullTransport } from '../src/api/pull-transport.js';
import { tempDir } from './helpers/tmp.js';
import { run, sqlite3 } from './helpers/peers.js';
import { createWithCli, nativeCheck, nativeDump } from './helpers/databases.js';
import { requireSshd, sshdSkipReason, startSshd, type Sshd } from './helpers/sshd.js';
import { addUpstreamSnapshot } from './helpers/upstream-layout.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

describe('pull of a restinpieces-backup directory over SFTP', { concurrency: false }, () => {
  const root = tempDir();
  const engine = new WasmEngine();
  let server: Sshd | undefined;
  const sshd = (): Sshd => server!;
  let remoteDir: string;
  const app = join(root, 'app.db');
  const logs = join(root, 'logs.db');
  after(async () => {
    await server?.stop();
    await engine.close();
  });
  before(async () => {
    if (sshdSkipReason()) return;
    server = await startSshd();
    remoteDir = join(sshd().sftpRoot, 'backups');
    createWithCli(app, { rows: 150 });
    createWithCli(logs, { rows: 30 });
    addUpstreamSnapshot(remoteDir, 'app', app, '20260101T000000Z', true);
    addUpstreamSnapshot(remoteDir, 'logs', logs, '20260101T000000Z', false);
  });

  let n = 0;
  function client(extra = '', remote = 'backups'): { dir: string; config: Config; file: string } {
    const dir = join(root, `client-${n++}`);
    mkdirSync(dir);
    const text =
      `[pull]\nhost = "127.0.0.1"\nport = ${sshd().port}\nuser = ${JSON.stringify(sshd().username)}\n` +
      `private_key_path = ${JSON.stringify(sshd().userKey.privatePath)}\nremote_dir = "${remote}"\nlocal_dir = "local"\n` +
      `host_key_sha256 = "${sshd().hostKeys[0]!.fingerprint}"\n${extra}`;
    writeFileSync(join(dir, 'pull.toml'), text);
    return { dir, config: parseConfig(text, { baseDir: dir }), file: join(dir, 'pull.toml') };
  }

  it('several databases and no latest.txt: db is required (exit 2), and names them', async (t) => {
    if (!requireSshd(t)) return;
    const c = client();
    await assert.rejects(pull(c.config, { engine }), (e: unknown) => {
      assert.ok(isBackupError(e, ErrorCode.CONFIG), String(e));
      assert.match((e as Error).message, /several databases \(app-app\.db, logs-logs\.db\).*db = "<name>"/);
      return true;
    });
    const r = run(process.execPath, [cli, 'pull', '--config', c.file], { allowFail: true });
    assert.equal(r.status, 2, r.stderr);
  });

  it('db = "app-app.db": the newest snapshot, compressed then plain, each checked and published with a sidecar (no latest.txt)', async (t) => {
    if (!requireSshd(t)) return;
    const c = client('db = "app-app.db"');
    const local = join(c.dir, 'local');
    const first = await pull(c.config, { engine });
    assert.deepEqual([first.status, first.name, first.remoteChecksum, first.plain], ['pulled', 'app-app.db-20260101T000000Z.bck.gz', 'absent', false]);
    assert.deepEqual(readFileSync(join(local, first.name)), readFileSync(join(remoteDir, first.name)));

    // A newer plain snapshot on the server (with its latest- link): it wins, downloaded as it is.
    sqlite3(app, "INSERT INTO audit VALUES ('after the compressed one', 'x');");
    addUpstreamSnapshot(remoteDir, 'app', app, '20260102T000000Z', false);
    const restored = join(c.dir, 'restored.db');
    const second = await pull(c.config, { engine, restoreTo: restored });
    assert.deepEqual([second.status, second.name, second.plain], ['pulled', 'app-app.db-20260102T000000Z.db', true]);
    assert.deepEqual(readFileSync(join(local, second.name)), readFileSync(join(remoteDir, second.name)));
    assert.ok(nativeCheck(join(local, second.name), c.dir));
    assert.equal(nativeDump(join(local, second.name), c.dir), nativeDump(app, c.dir));
    assert.equal(nativeDump(restored, c.dir), nativeDump(app, c.dir));
    assert.deepEqual(readdirSync(local).sort(), [
      'app-app.db-20260101T000000Z.bck.gz',
      'app-app.db-20260101T000000Z.bck.gz.sha256',
      'app-app.db-20260102T000000Z.db',
      'app-app.db-20260102T000000Z.db.sha256',
    ]);
    run('sha256sum', ['-c', 'app-app.db-20260102T000000Z.db.sha256'], { cwd: local });
    assert.equal((await pull(c.config, { engine })).status, 'up-to-date');
    // Our sidecar beside a plain snapshot: verify checks it, then integrity_check.
    const v = await verify(join(local, second.name), { engine });
    assert.deepEqual([v.ok, v.compressed, v.checksum], [true, false, 'ok']);

    // The CLI says what it pulled; a damaged plain snapshot is refused and nothing is published.
    const cliRun = run(process.execPath, [cli, '--no-timestamps', 'pull', '--config', c.file], { allowFail: true });
    assert.equal(cliRun.status, 0, cliRun.stderr);
    assert.match(cliRun.stdout, /up to date/);
    const bad = 'app-app.db-20260103T000000Z.db';
    const bytes = readFileSync(join(remoteDir, second.name));
    bytes.fill(0x55, 4096, 8192); // a b-tree page overwritten
    writeFileSync(join(remoteDir, bad), bytes);
    await assert.rejects(pull(c.config, { engine }), (e: unknown) => isBackupError(e, ErrorCode.INTEGRITY));
    assert.ok(!existsSync(join(local, bad)));
  });

  it('db given as the link name an rsync client pulls ("latest-logs-logs.db"): the newest logs snapshot', async (t) => {
    if (!requireSshd(t)) return;
    const c = client('db = "latest-logs-logs.db"');
    const r = await pull(c.config, { engine });
    assert.deepEqual([r.status, r.name, r.plain], ['pulled', 'logs-logs.db-20260101T000000Z.db', true]);
    assert.equal(nativeDump(r.path, c.dir), nativeDump(logs, c.dir));
    // verify of the store's newest snapshot of one database (CLI: verify sftp://... --db logs-logs.db).
    const transport = await openPullTransport(c.config.pull as never);
    try {
      const v = await verifyInStore(transport, undefined, { engine, dbName: 'logs-logs.db' });
      assert.deepEqual([v.ok, v.name, v.compressed, v.checksum], [true, 'logs-logs.db-20260101T000000Z.db', false, 'absent']);
    } finally {
      await transport.close();
    }
    const none = client('db = "nope-nope.db"');
    await assert.rejects(pull(none.config, { engine }), /no backup of database "nope-nope\.db" in .* \(it holds app-app\.db, logs-logs\.db\)/);
  });

  it('prune over SFTP: never the snapshot a latest-* link points to (same size and mtime), nor the link', async (t) => {
    if (!requireSshd(t)) return;
    const dir = join(sshd().sftpRoot, 'pruned');
    addUpstreamSnapshot(dir, 'app', app, '20260101T000000Z', false);
    sqlite3(app, "INSERT INTO audit VALUES ('for the prune', 'x');");
    addUpstreamSnapshot(dir, 'app', app, '20260102T000000Z', true);
    addUpstreamSnapshot(dir, 'app', app, '20260103T000000Z', true);
    const transport = await openPullTransport(client('', 'pruned').config.pull as never);
    try {
      const r = await pruneStore(transport, { keepLast: 1, keepDaily: 0, keepWeekly: 0 }, { now: new Date('2026-02-01T00:00:00Z') });
      assert.deepEqual(r.removed, ['app-app.db-20260102T000000Z.bck.gz']);
    } finally {
      await transport.close();
    }
    assert.deepEqual(readdirSync(dir).sort(), ['app-app.db-20260101T000000Z.db', 'app-app.db-20260103T000000Z.bck.gz', 'latest-app-app.db']);
  });
});
