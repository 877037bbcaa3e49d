/**
 * The package as a user installs it: `npm pack` of this checkout, installed into a fresh project with
 * `npm install --ignore-scripts --omit=dev` (a locked-down host: no compiler, no install scripts).
 * Checks what the tarball holds, that no native addon lands anywhere, that the installed CLI backs up
 * and verifies a database, and that the typings work for consumers under NodeNext and Bundler.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requirePeer, run, sqlite3 } from './helpers/peers.js';
import { findFiles, installTarball, packTarball, REPO_ROOT, type PackedTarball } from './helpers/pack.js';
import { tempDir } from './helpers/tmp.js';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  version: string;
  scripts?: Record<string, string>;
  bin: Record<string, string>;
  exports: Record<string, unknown>;
  types: string;
  engines: { node: string };
  dependencies: Record<string, string>;
};

/** Every module the build produces from src/ (so a stale file in dist/ would show up as extra). */
function sourceModules(dir = join(REPO_ROOT, 'src'), prefix = 'dist/src'): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceModules(join(dir, e.name), `${prefix}/${e.name}`)
      : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')
        ? [`${prefix}/${e.name.replace(/\.ts$/, '.js')}`]
        : [],
  );
}

describe('the npm package', { timeout: 600_000 }, () => {
  const dir = tempDir();
  let tarball: PackedTarball;
  let project: string;
  before(() => {
    tarball = packTarball(join(dir, 'pack'));
    project = installTarball(tarball.path, join(dir, 'consumer'));
  });

  it('the tarball: built JS with typings, the workers, the CLI, README and LICENSE; no tests, sources, maps or addons', () => {
    const files = new Set(tarball.files);
    for (const must of ['package.json', 'README.md', 'LICENSE', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'dist/src/engine/worker.js', 'dist/src/compress/compress-worker.js']) {
      assert.ok(files.has(must), `${must} is missing from the tarball`);
    }
    const js = tarball.files.filter((f) => f.endsWith('.js'));
    assert.deepEqual(js.sort(), sourceModules().sort(), 'exactly one .js per source module (no stale build output)');
    for (const f of js) assert.ok(files.has(f.replace(/\.js$/, '.d.ts')), `${f} has no .d.ts`);
    // Nothing else: no tests, benches, sources, source maps or addons.
    const unexpected = tarball.files.filter(
      (f) => !['package.json', 'README.md', 'LICENSE'].includes(f) && !(f.startsWith('dist/src/') && (f.endsWith('.js') || f.endsWith('.d.ts'))),
    );
    assert.deepEqual(unexpected, []);
  });

  it('package.json: no install scripts, ESM exports with types, a bin, Node >= 20.19, pinned dependencies', () => {
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) assert.equal(pkg.scripts?.[hook], undefined, `a "${hook}" script would run on users' machines`);
    // age-encryption's @noble primitives declare node >= 20.19 (the last Node 20 line).
    assert.equal(pkg.engines.node, '>=20.19');
    assert.ok(existsSync(join(REPO_ROOT, pkg.types)));
    // The root and the documented subpath (README "API"), and the worker entries a bundler needs as
    // extra entry points (README "Bundlers and Electron"); each with its typings.
    assert.deepEqual(Object.keys(pkg.exports).sort(), ['.', './compress', './compress-worker', './engine-worker', './package.json']);
    for (const [key, entry] of Object.entries(pkg.exports)) {
      if (key === './package.json') continue;
      const { types, default: js } = entry as { types?: string; default?: string };
      assert.ok(types && js, `${key}: exports needs { types, default }`);
      assert.ok(existsSync(join(REPO_ROOT, js)), `${key}: ${js}`);
      assert.ok(existsSync(join(REPO_ROOT, types)), `${key}: ${types}`);
      assert.equal(types, js.replace(/\.js$/, '.d.ts'), `${key}: the typings of the module itself`);
    }
    assert.equal(pkg.bin['sqlite-backup'], './dist/src/cli/main.js');
    assert.match(readFileSync(join(REPO_ROOT, 'dist/src/cli/main.js'), 'utf8'), /^#!\/usr\/bin\/env node\n/);
    for (const [name, range] of Object.entries(pkg.dependencies)) assert.match(range, /^\d+\.\d+\.\d+(-[\w.]+)?$/, `${name} is not pinned: ${range}`);
  });

  it('installed with --ignore-scripts --omit=dev: no native addon anywhere, only the four runtime dependencies at the top', () => {
    const modules = join(project, 'node_modules');
    assert.deepEqual(findFiles(modules, '.node'), [], 'a .node file means a native addon was built or shipped');
    assert.ok(!existsSync(join(modules, 'typescript')) && !existsSync(join(modules, 'esbuild')), 'dev dependencies must not be installed');
    for (const dep of Object.keys(pkg.dependencies)) assert.ok(existsSync(join(modules, dep, 'package.json')), `${dep} is not installed`);
    // ssh2 and cpu-features have install scripts (an optional native crypto binding): skipped, and not needed.
    assert.ok(!existsSync(join(modules, 'ssh2', 'lib', 'protocol', 'crypto', 'build')), "ssh2's optional binding was not built");
  });

  it('the installed CLI: --version, then a backup and a verify of a small database', (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const bin = join(project, 'node_modules', '.bin', 'sqlite-backup');
    assert.ok(statSync(bin).mode & 0o111, 'the bin is executable');
    const cli = (args: string[]) => run(bin, args, { cwd: project, allowFail: true });
    assert.equal(cli(['--version']).stdout.trim(), pkg.version);
    sqlite3(join(project, 'app.db'), "CREATE TABLE t(x); INSERT INTO t VALUES ('installed');");
    writeFileSync(join(project, 'sqlite-backup.toml'), 'source_path = "app.db"\nbackup_dir = "backups"\n');
    const b = cli(['backup', '--json']);
    assert.equal(b.status, 0, b.stderr);
    const name = (JSON.parse(b.stdout) as { name: string }).name;
    const v = cli(['verify', join('backups', name)]);
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /^ok: .*sha256 sidecar ok/);
    // The library too, imported by name from the consumer project.
    writeFileSync(join(project, 'use.mjs'), "import { verify } from 'restinpieces-sqlite-backup';\nconst r = await verify(process.argv[2]);\nconsole.log(r.ok);\n");
    assert.equal(run(process.execPath, ['use.mjs', join('backups', name)], { cwd: project }).stdout.trim(), 'true');
    // And the documented subpath: the backup's gzip reads back through it.
    writeFileSync(
      join(project, 'use-compress.mjs'),
      "import { gunzipFile } from 'restinpieces-sqlite-backup/compress';\nconst s = await gunzipFile(process.argv[2], 'out.db');\nconsole.log(s.members);\n",
    );
    assert.equal(run(process.execPath, ['use-compress.mjs', join('backups', name)], { cwd: project }).stdout.trim(), '1');
  });

  it('ESM-only, and require()-able where Node supports require(esm): no top-level await in the graph', () => {
    assert.equal((pkg as { type?: string }).type, 'module');
    writeFileSync(join(project, 'use.cjs'), "const m = require('restinpieces-sqlite-backup');\nconsole.log(typeof m.backup, typeof m.status);\n");
    const r = run(process.execPath, ['use.cjs'], { cwd: project, allowFail: true });
    // Node >= 20.19 / 22.12 load ES modules with require() unless the graph has a top-level await
    // (ERR_REQUIRE_ASYNC_MODULE); older Nodes refuse every ES module (ERR_REQUIRE_ESM), as the README says.
    const features = process.features as { require_module?: boolean };
    if (features.require_module) {
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'function function');
      assert.doesNotMatch(r.stderr, /ERR_REQUIRE|ExperimentalWarning/);
    } else {
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /ERR_REQUIRE_ESM/);
    }
  });

  for (const [module, moduleResolution] of [
    ['NodeNext', 'NodeNext'],
    ['ESNext', 'Bundler'],
  ] as const) {
    it(`the typings type-check a consumer under moduleResolution ${moduleResolution}`, () => {
      const sub = join(project, `types-${moduleResolution.toLowerCase()}`);
      run('mkdir', ['-p', sub]);
      writeFileSync(
        join(sub, 'consumer.ts'),
        [
          "import { backup, loadConfig, pull, verify, BackupError, ErrorCode, type BackupResult, type PullResult } from 'restinpieces-sqlite-backup';",
          "import { gzipFile, type GzipSummary } from 'restinpieces-sqlite-backup/compress';",
          'export const pack = (src: string): Promise<GzipSummary> => gzipFile(src, `${src}.gz`, { level: 9 });',
          '// @ts-expect-error 10 is not a gzip level',
          'void gzipFile("a", "b", { level: 10 });',
          'export async function nightly(path: string): Promise<BackupResult> {',
          '  const result = await backup(await loadConfig(path), { onProgress: (p) => void p.phase });',
          '  const check = await verify(result.path, { mode: "quick" });',
          '  if (!check.ok) throw new BackupError(ErrorCode.INTEGRITY, check.messages.join("; "));',
          '  return result;',
          '}',
          'export const later: (p: string) => Promise<PullResult["status"]> = async (p) => (await pull(await loadConfig(p))).status;',
          '// @ts-expect-error a number is not a config path',
          'void loadConfig(42);',
          '',
        ].join('\n'),
      );
      writeFileSync(
        join(sub, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            module,
            moduleResolution,
            target: 'ES2022',
            strict: true,
            noEmit: true,
            typeRoots: [join(REPO_ROOT, 'node_modules', '@types')],
            types: ['node'],
          },
          files: ['consumer.ts'],
        }),
      );
      // The consumer's package.json says "type": "module"; its node_modules is one level up.
      const tsc = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', sub], { encoding: 'utf8' });
      assert.equal(tsc.status, 0, `tsc (${moduleResolution}): ${tsc.stdout}${tsc.stderr}`);
    });
  }
});
