/**
 * The library bundled with esbuild into one directory, as an Electron app ships it, and run from a
 * copy of that directory with no node_modules anywhere above it: backup + verify (SQLite-WASM in the
 * engine worker, gzip in the compress workers), and a pull over SFTP (ssh2 bundled). The copies with
 * sqlite3.wasm or compress-worker.js taken out must fail: the run really loads what the directory ships.
 * The optional AWS SDK, both ways: bundled (with a require banner) a backup pushes to a real Ceph RGW;
 * marked external (`@aws-sdk/*`, for apps without S3) the bundle backs up, verifies and pushes over
 * SFTP, and only the S3 destination fails, with ECONFIG naming both packages.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { tempDir } from './helpers/tmp.js';
import { hasCommand, requirePeer, sqlite3 } from './helpers/peers.js';
import { createLarge } from './helpers/databases.js';
import { runBytes } from './helpers/gzip.js';
import { findFiles, REPO_ROOT } from './helpers/pack.js';
import { requireSshd, startSshd, type Sshd } from './helpers/sshd.js';
import { cephSkipReason, startCephRgw, type CephRgw } from './helpers/ceph-rgw.js';
import {
  AWS_SDK_EXTERNAL,
  AWS_SDK_PACKAGES,
  bundleConsumer,
  ENTRY_NAMES,
  S3_BANNER,
  WASM_NAME,
  type BundleOutput,
} from './helpers/bundle.js';

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `node <entry> <job>` in `dir` (bundle-consumer.js unless told), with nothing from our environment
 * that could resolve modules, no AWS_* of the developer's shell, and `extraEnv` on top.
 */
function runConsumer(dir: string, job: object, { entry = 'bundle-consumer.js', extraEnv = {} }: { entry?: string; extraEnv?: Record<string, string> } = {}): Promise<Outcome> {
  const env = { ...process.env };
  // NODE_TEST_CONTEXT would make the child report to our test runner.
  for (const k of ['NODE_PATH', 'NODE_OPTIONS', 'NODE_TEST_CONTEXT']) delete env[k];
  for (const k of Object.keys(env)) if (k.startsWith('AWS_')) delete env[k];
  Object.assign(env, extraEnv);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(dir, entry), JSON.stringify(job)], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every directory from `dir` up to the root that has a node_modules a bundle could resolve from. */
function nodeModulesAbove(dir: string): string[] {
  const found: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) found.push(join(d, 'node_modules'));
    if (dirname(d) === d) return found;
  }
}

const rowCount = (db: string): string => sqlite3(db, 'SELECT count(*) FROM big;').stdout.trim();

/** What push-consumer.js prints (see test/helpers/bundle.ts). */
interface PushRun {
  backup: { name: string; path: string };
  push: { url: string; ok: boolean; name: string; bytes: number; error?: { kind: string; code: string; message: string } }[];
  verify: { ok: boolean; messages: string[]; checksum: string };
  error?: { code: string; message: string };
}

/** `node push-consumer.js` with this config text; its JSON result (printed for a backup published locally). */
async function runPush(dir: string, config: string, extraEnv?: Record<string, string>): Promise<{ code: number | null; out: PushRun; stderr: string }> {
  const r = await runConsumer(dir, { config, baseDir: dir }, { entry: 'push-consumer.js', ...(extraEnv ? { extraEnv } : {}) });
  assert.notEqual(r.stdout, '', `no result: ${r.stderr}`);
  return { code: r.code, out: JSON.parse(r.stdout) as PushRun, stderr: r.stderr };
}

/** The packages a bundle's code still imports at run time. */
function externalsOf(b: BundleOutput): Set<string> {
  const externals = new Set<string>();
  for (const out of Object.values(b.metafile.outputs)) for (const i of out.imports) if (i.external) externals.add(i.path);
  return externals;
}
const awsInputs = (b: BundleOutput): string[] => Object.keys(b.metafile.inputs).filter((p) => p.includes('node_modules/@aws-sdk/'));
const toml = (s: string): string => JSON.stringify(s);
const MISSING_SDK = /S3 needs the optional packages @aws-sdk\/client-s3 and @aws-sdk\/lib-storage/;

describe('bundled with esbuild into one directory, run with no node_modules', { concurrency: false }, () => {
  const root = tempDir('sqlite-backup-bundle-');
  const source = join(root, 'app.db');
  let bundle: BundleOutput;
  /** The shipped directory: a copy of the build output, away from the repository. */
  const app = join(root, 'app');
  /** A copy of `app` with one file removed (for the negative checks). */
  function without(file: string): string {
    const dir = join(root, `app-without-${file}`);
    cpSync(app, dir, { recursive: true });
    rmSync(join(dir, file));
    return dir;
  }
  let server: Sshd | undefined;
  /** The sshd, started by the first test that needs it. */
  const sshd = async (): Promise<Sshd> => (server ??= await startSshd());
  /** One Ceph cluster for the file, started in `before` alongside the bundling (when installed). */
  let rgw: CephRgw | undefined;
  let rgwError: unknown;
  let s3: S3Client | undefined;
  after(async () => {
    s3?.destroy();
    await Promise.all([server?.stop(), rgw?.stop()]);
  });

  before(async () => {
    let usable = false;
    try {
      usable = cephSkipReason() === false;
    } catch {
      // under CI: the S3 tests fail in requireCeph
    }
    const starting = usable ? startCephRgw().then((r) => void (rgw = r), (e: unknown) => void (rgwError = e)) : undefined;
    try {
      bundle = await bundleConsumer(join(root, 'build'));
      cpSync(bundle.dir, app, { recursive: true });
      // Over 1 MiB (CHUNK_SIZE): backup() then deflates in the compress workers, not inline.
      if (hasCommand('sqlite3')) createLarge(source, 3);
    } finally {
      await starting;
    }
  });

  /** The running gateway; skips when Ceph is not installed (throws under CI, and when it did not start). */
  function requireCeph(t: TestContext): CephRgw | undefined {
    const reason = cephSkipReason();
    if (reason) {
      t.skip(reason);
      return undefined;
    }
    if (!rgw) throw rgwError instanceof Error ? rgwError : new Error(`Ceph RGW did not start: ${String(rgwError)}`);
    // Our own SDK clients here (and the harness's) would print the SDK's Node 22 notice to the test
    // log; runConsumer drops every AWS_* variable, so the bundled app never sees this switch.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    s3 ??= new S3Client({ endpoint: rgw.endpoint, region: rgw.region, forcePathStyle: true, credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey } });
    return rgw;
  }
  async function s3Get(bucket: string, key: string): Promise<Buffer> {
    const r = await s3!.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await r.Body!.transformToByteArray());
  }
  /** A config: the test database, a local backup_dir, then the [[push]] tables given. */
  const pushConfig = (backupDir: string, ...push: string[]): string =>
    [`source_path = ${toml(source)}`, `backup_dir = ${toml(backupDir)}`, ...push.map((p) => `[[push]]\n${p}`)].join('\n') + '\n';
  /** A backup pushed to a fresh bucket of the gateway from `dir`; checks what the bucket holds with the SDK. */
  async function pushToRgw(g: CephRgw, dir: string, prefix: string): Promise<PushRun> {
    const bucket = await g.createBucket();
    const url = `s3://${bucket}/${prefix}`;
    const { code, out, stderr } = await runPush(dir, pushConfig(join(root, `backups-${prefix}`), `url = ${toml(url)}\nendpoint = ${toml(g.endpoint)}`), g.env);
    assert.equal(code, 0, `${stderr}\n${JSON.stringify(out)}`);
    // The bundled SDK's Node 22 notice (and anything else) stays off the app's stderr, as the README says.
    assert.equal(stderr, '');
    assert.deepEqual(out.verify, { ok: true, messages: ['ok'], checksum: 'ok' });
    const local = readFileSync(out.backup.path);
    assert.deepEqual(out.push, [{ ...out.push[0], url, ok: true, name: out.backup.name, bytes: local.length }]);
    assert.equal((await s3Get(bucket, `${prefix}/latest.txt`)).toString(), out.backup.name);
    assert.ok((await s3Get(bucket, `${prefix}/${out.backup.name}`)).equals(local), 'the pushed .gz holds the local bytes');
    return out;
  }
  /** The bundle an app without S3 builds (README): `@aws-sdk/*` external; built once, by the first test that needs it. */
  let noSdk: Promise<{ bundle: BundleOutput; dir: string }> | undefined;
  const noSdkApp = (): Promise<{ bundle: BundleOutput; dir: string }> =>
    (noSdk ??= bundleConsumer(join(root, 'build-no-sdk'), { s3: false }).then((b) => {
      const dir = join(root, 'app-no-sdk');
      cpSync(b.dir, dir, { recursive: true });
      return { bundle: b, dir };
    }));

  it('the directory holds the entries, sqlite3.wasm and package.json; no native addon; externals are node builtins', () => {
    assert.deepEqual(readdirSync(app).sort(), [...ENTRY_NAMES, WASM_NAME, 'package.json'].sort());
    assert.deepEqual(findFiles(app, '.node'), []);
    assert.deepEqual(nodeModulesAbove(app), [], 'a node_modules above the run directory would let the bundle resolve packages');
    const externals = externalsOf(bundle);
    // ssh2's optional native parts stay out (it catches their load failure); everything else is bundled.
    const other = [...externals].filter((p) => !isBuiltin(p) && p !== 'cpu-features' && !p.endsWith('.node'));
    assert.deepEqual(other, []);
    const inputs = Object.keys(bundle.metafile.inputs);
    // The AWS SDK too: installed here (devDependencies), so the library's lazy import() of it is followed.
    for (const pkg of ['ssh2-sftp-client', 'ssh2', '@sqlite.org/sqlite-wasm', 'fflate', 'smol-toml', ...AWS_SDK_PACKAGES]) {
      assert.ok(inputs.some((p) => p.startsWith(`node_modules/${pkg}/`)), `${pkg} is bundled`);
    }
    // No absolute path of the build machine: the directory works wherever it is copied.
    for (const name of ENTRY_NAMES) assert.ok(!readFileSync(join(app, name), 'utf8').includes(REPO_ROOT), `${name} names ${REPO_ROOT}`);
  });

  it('backup + verify from the copied directory: a gzip that gunzip -dc and sqlite3 accept', async (t) => {
    if (!requirePeer(t, 'sqlite3') || !requirePeer(t, 'gzip')) return;
    const backupDir = join(root, 'backups');
    const r = await runConsumer(app, { source, backupDir });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { backup: { path: string; dbBytes: number }; verify: { ok: boolean; messages: string[]; checksum: string } };
    assert.ok(existsSync(out.backup.path), out.backup.path);
    assert.ok(out.backup.dbBytes > 2 * 1024 * 1024, `dbBytes ${out.backup.dbBytes}`);
    assert.deepEqual(out.verify, { ok: true, messages: ['ok'], checksum: 'ok' });
    const restored = join(root, 'gunzipped.db');
    writeFileSync(restored, runBytes('gzip', ['-dc', out.backup.path]));
    assert.equal(sqlite3(restored, 'PRAGMA integrity_check;').stdout.trim(), 'ok');
    assert.equal(rowCount(restored), rowCount(source));
  });

  it('pull over SFTP from a real sshd, run from the copied directory (ssh2 is in the bundle)', async (t) => {
    if (!requirePeer(t, 'sqlite3') || !requireSshd(t)) return;
    const server = await sshd();
    const knownHosts = join(root, 'known_hosts');
    writeFileSync(knownHosts, `${server.knownHostsLine()}\n`);
    const remote = join(server.sftpRoot, 'backups');
    const local = join(root, 'pulled');
    const restoreTo = join(root, 'restored.db');
    const pull = {
      host: server.host,
      port: server.port,
      user: server.username,
      privateKeyPath: server.userKey.privatePath,
      knownHosts,
      remoteDir: 'backups',
      localDir: local,
      restoreTo,
    };
    const r = await runConsumer(app, { source, backupDir: remote, pull });
    assert.equal(r.code, 0, `${r.stderr}\n${server.log()}`);
    const out = JSON.parse(r.stdout) as { backup: { name: string }; pull: { status: string; name: string; path: string; remoteChecksum: string; restoredTo: string } };
    assert.equal(out.pull.status, 'pulled');
    assert.equal(out.pull.name, out.backup.name);
    assert.equal(out.pull.remoteChecksum, 'ok');
    assert.deepEqual(readFileSync(out.pull.path), readFileSync(join(remote, out.backup.name)));
    assert.equal(out.pull.restoredTo, restoreTo);
    assert.equal(sqlite3(restoreTo, 'PRAGMA integrity_check;').stdout.trim(), 'ok');
    assert.equal(rowCount(restoreTo), rowCount(source));
  });

  it('a backup-only bundle (ssh2-sftp-client external, no banner) backs up and verifies; only a pull needs ssh2', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const slim = await bundleConsumer(join(root, 'build-slim'), { sftp: false });
    assert.ok(!Object.keys(slim.metafile.inputs).some((p) => p.includes('node_modules/ssh2')), 'ssh2 is not bundled');
    const dir = join(root, 'app-slim');
    cpSync(slim.dir, dir, { recursive: true });
    const backupDir = join(root, 'backups-slim');
    const ok = await runConsumer(dir, { source, backupDir });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { verify: { ok: boolean } }).verify.ok, true);
    // The pull then fails on the first connect, saying what is missing (nothing listens on port 1).
    const key = join(root, 'no-key');
    writeFileSync(key, 'not a key\n', { mode: 0o600 });
    const pull = { host: '127.0.0.1', port: 1, user: 'nobody', privateKeyPath: key, knownHosts: key, remoteDir: 'b', localDir: join(root, 'slim-pulled'), restoreTo: join(root, 'slim.db') };
    const failed = await runConsumer(dir, { source, backupDir, pull });
    assert.notEqual(failed.code, 0);
    assert.match(failed.stderr, /"error":.*ssh2-sftp-client/);
    // The AWS SDK is bundled here (not external) but there is no banner: its CommonJS cannot require
    // Node's builtins, so S3 fails (before any connection) with ECONFIG saying why; the local backup stands.
    const noBanner = await runPush(dir, pushConfig(join(root, 'backups-slim-s3'), 'url = "s3://some-bucket/app"\nendpoint = "http://127.0.0.1:9"'));
    assert.equal(noBanner.code, 1);
    assert.equal(noBanner.out.error?.code, 'EPUSH');
    assert.equal(noBanner.out.verify.ok, true);
    assert.equal(noBanner.out.push[0]?.error?.code, 'ECONFIG', noBanner.out.push[0]?.error?.message);
    assert.match(noBanner.out.push[0]!.error!.message, MISSING_SDK);
    assert.match(noBanner.out.push[0]!.error!.message, /could not be loaded \(Dynamic require of "[^"]+" is not supported\)/);
  });

  it('with the AWS SDK bundled (the recipe, its banner): a backup from the copied directory pushes to a real Ceph RGW', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const g = requireCeph(t);
    if (!g) return;
    assert.ok(awsInputs(bundle).length > 0, 'the SDK is bundled');
    assert.deepEqual([...externalsOf(bundle)].filter((p) => p.startsWith('@aws-sdk/')), [], 'nothing of the SDK is left to import at run time');
    await pushToRgw(g, app, 'full');
  });

  it("an S3 app without SFTP: ssh2-sftp-client external, the SDK bundled with the README's short require banner, pushes to Ceph RGW", async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const g = requireCeph(t);
    if (!g) return;
    // The banner the README's "The S3 client" paragraph shows, literally.
    assert.ok(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8').includes(`--banner:js="${S3_BANNER}"`), 'README shows S3_BANNER');
    const b = await bundleConsumer(join(root, 'build-s3-only'), { sftp: false, banner: S3_BANNER });
    assert.ok(awsInputs(b).length > 0, 'the SDK is bundled');
    assert.ok(!Object.keys(b.metafile.inputs).some((p) => p.includes('node_modules/ssh2')), 'ssh2 is not bundled');
    const dir = join(root, 'app-s3-only');
    cpSync(b.dir, dir, { recursive: true });
    await pushToRgw(g, dir, 's3-only');
  });

  it(`without the AWS SDK (--external:${AWS_SDK_EXTERNAL}, as the README advises when S3 is unused): builds, and from the copied directory backs up and verifies`, async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const { bundle: b, dir } = await noSdkApp();
    assert.deepEqual(awsInputs(b), [], 'no file of the SDK is bundled');
    // The library's two lazy import()s stay imports, resolved (and failing) only at run time.
    assert.deepEqual([...externalsOf(b)].filter((p) => p.startsWith('@aws-sdk/')).sort(), [...AWS_SDK_PACKAGES].sort());
    assert.deepEqual(readdirSync(dir).sort(), [...ENTRY_NAMES, WASM_NAME, 'package.json'].sort());
    const r = await runConsumer(dir, { source, backupDir: join(root, 'backups-no-sdk') });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { backup: { path: string }; verify: { ok: boolean; messages: string[]; checksum: string } };
    assert.ok(existsSync(out.backup.path), out.backup.path);
    assert.deepEqual(out.verify, { ok: true, messages: ['ok'], checksum: 'ok' });
  });

  it('without the AWS SDK: a [[push]] to s3:// fails with ECONFIG naming both packages; the local backup and an SFTP push are unaffected', async (t) => {
    if (!requirePeer(t, 'sqlite3') || !requireSshd(t)) return;
    const { dir } = await noSdkApp();
    const server = await sshd();
    const knownHosts = join(root, 'known_hosts-no-sdk');
    writeFileSync(knownHosts, `${server.knownHostsLine()}\n`);
    const sftpDir = join(server.sftpRoot, 'pushed-no-sdk');
    const s3Url = 's3://some-bucket/app';
    const sftpUrl = `sftp://${server.username}@127.0.0.1:${server.port}${sftpDir}`;
    // Nothing listens on port 9: the S3 destination must fail on the missing SDK, before any connection.
    const { code, out, stderr } = await runPush(
      dir,
      pushConfig(
        join(root, 'backups-no-sdk-push'),
        `url = ${toml(s3Url)}\nendpoint = "http://127.0.0.1:9"`,
        `url = ${toml(sftpUrl)}\nprivate_key_path = ${toml(server.userKey.privatePath)}\nknown_hosts = ${toml(knownHosts)}`,
      ),
    );
    assert.equal(code, 1, stderr);
    assert.equal(stderr, '', 'nothing on stderr but what the app prints');
    const [s3Push, sftpPush] = out.push;
    assert.deepEqual(out.push.map((p) => [p.url, p.ok]), [[s3Url, false], [sftpUrl, true]], JSON.stringify(out.push));
    assert.equal(s3Push!.error!.code, 'ECONFIG', s3Push!.error!.message);
    assert.equal(s3Push!.error!.kind, 'config');
    assert.match(s3Push!.error!.message, MISSING_SDK);
    assert.match(s3Push!.error!.message, /@aws-sdk\/client-s3/);
    assert.match(s3Push!.error!.message, /@aws-sdk\/lib-storage/);
    assert.match(s3Push!.error!.message, /they are not installed/);
    assert.equal(out.error?.code, 'EPUSH');
    assert.match(out.error!.message, /published locally, but 1 of 2 destination\(s\) failed/);
    // Published locally, verified; the SFTP destination holds the same bytes, latest.txt naming them.
    assert.deepEqual(out.verify, { ok: true, messages: ['ok'], checksum: 'ok' });
    assert.equal(sftpPush!.name, out.backup.name);
    assert.deepEqual(readFileSync(join(sftpDir, out.backup.name)), readFileSync(out.backup.path));
    assert.equal(readFileSync(join(sftpDir, 'latest.txt'), 'utf8'), out.backup.name);
  });

  it('without sqlite3.wasm the same directory fails, naming the file; no backup is published', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const backupDir = join(root, 'backups-no-wasm');
    mkdirSync(backupDir);
    const r = await runConsumer(without(WASM_NAME), { source, backupDir });
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /"error":.*ENOENT.*sqlite3\.wasm/);
    assert.deepEqual(readdirSync(backupDir).filter((f) => f.endsWith('.gz')), []);
  });

  it('without compress-worker.js the backup fails with ECOMPRESS_WORKER: the gzip really runs in the shipped worker', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const backupDir = join(root, 'backups-no-worker');
    mkdirSync(backupDir);
    const r = await runConsumer(without('compress-worker.js'), { source, backupDir });
    assert.notEqual(r.code, 0);
    const err = (JSON.parse(r.stderr.trim().split('\n').at(-1)!) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, 'ECOMPRESS_WORKER', err.message);
    assert.match(err.message, /compress-worker\.js/);
    assert.deepEqual(readdirSync(backupDir).filter((f) => f.endsWith('.gz')), []);
  });
});
