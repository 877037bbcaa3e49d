/**
 * What a user gets from npm: `npm pack` of this checkout, and that tarball installed into a fresh
 * project the way a locked-down host installs it (`--ignore-scripts --omit=dev`). Dependencies come
 * from npm's cache when `npm ci` already fetched them (`--prefer-offline`), else from the registry.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is compiled to dist/test/helpers/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface PackedTarball {
  path: string;
  /** Paths inside the package, e.g. `dist/src/index.js`, `package.json`. */
  files: string[];
}

function npm(args: string[], cwd: string, timeoutMs = 300_000): string {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, npm_config_update_notifier: 'false' } });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} (in ${cwd}) exited ${r.status}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/** `npm pack` of this checkout (as built in dist/) into `outDir`. */
export function packTarball(outDir: string): PackedTarball {
  mkdirSync(outDir, { recursive: true });
  const report = JSON.parse(npm(['pack', '--json', '--pack-destination', outDir], REPO_ROOT)) as { filename: string; files: { path: string }[] }[];
  const first = report[0]!;
  return { path: join(outDir, first.filename), files: first.files.map((f) => f.path).sort() };
}

/**
 * A fresh ESM project in `projectDir` with the tarball installed as a user would, scripts ignored
 * and no dev dependencies. Returns the project directory.
 */
export function installTarball(tarball: string, projectDir: string): string {
  mkdirSync(projectDir, { recursive: true });
  writeFileSync(join(projectDir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }, null, 2));
  npm(['install', '--ignore-scripts', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', tarball], projectDir);
  return projectDir;
}

/** Every file under `dir` whose name ends with `suffix` (e.g. native addons, `.node`). */
export function findFiles(dir: string, suffix: string): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(suffix)) found.push(p);
    }
  };
  walk(dir);
  return found;
}
