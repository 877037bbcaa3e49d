/**
 * The bundling recipe (README) as code: esbuild puts the consumer fixture, the engine worker and the
 * compress worker into one directory, next to a copy of sqlite3.wasm, so that the library's defaults (`new URL('./worker.js', import.meta.url)`,
 * `./compress-worker.js`, sqlite-wasm's `new URL('sqlite3.wasm', import.meta.url)`) resolve there.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Metafile } from 'esbuild';
import { REPO_ROOT } from './pack.js';

/** What the library's code looks for next to the bundle, by name (see the module comment). */
export const ENTRY_NAMES = ['bundle-consumer.js', 'worker.js', 'compress-worker.js'] as const;
export const WASM_NAME = 'sqlite3.wasm';

/**
 * ssh2 is CommonJS: esbuild's ESM output turns its `require('crypto')` into a shim that throws
 * ("Dynamic require of ... is not supported") unless a real `require` is in scope, and one of its
 * files reads `__dirname`. The banner gives the bundle both, from its own location.
 */
export const BANNER = [
  "import { createRequire as __bundleCreateRequire } from 'node:module';",
  "import { fileURLToPath as __bundleFileURLToPath } from 'node:url';",
  "import { dirname as __bundleDirname } from 'node:path';",
  'const require = __bundleCreateRequire(import.meta.url);',
  'const __filename = __bundleFileURLToPath(import.meta.url);',
  'const __dirname = __bundleDirname(__filename);',
].join('\n');

/**
 * ssh2's optional native parts, loaded inside try/catch (it falls back to JavaScript): left out of
 * the bundle, so the require fails at run time and is caught.
 */
export const OPTIONAL_NATIVE = ['cpu-features', '*.node'];

export interface BundleOutput {
  dir: string;
  metafile: Metafile;
}

export interface BundleOptions {
  /**
   * false: a backup-only app. ssh2-sftp-client stays out of the bundle (the library imports it only
   * on the first SFTP connect), which makes the main bundle ~5x smaller and needs no banner.
   * @default true
   */
  sftp?: boolean;
}

/**
 * Bundles test/fixtures/bundle-consumer (as compiled in dist/) with the library into `outDir`:
 * `bundle-consumer.js`, `worker.js`, `compress-worker.js`, `sqlite3.wasm` and a `package.json`
 * that marks the .js files as ES modules (a Node without ESM syntax detection reads them as CommonJS).
 */
export async function bundleConsumer(outDir: string, options: BundleOptions = {}): Promise<BundleOutput> {
  const sftp = options.sftp ?? true;
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    absWorkingDir: REPO_ROOT,
    entryPoints: {
      'bundle-consumer': 'dist/test/fixtures/bundle-consumer.js',
      // The package's own export names, as in the README recipe (esbuild resolves the package by
      // name from inside it: a self-reference through package.json "exports").
      worker: 'restinpieces-sqlite-backup/engine-worker',
      'compress-worker': 'restinpieces-sqlite-backup/compress-worker',
    },
    outdir: outDir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: sftp ? OPTIONAL_NATIVE : ['ssh2-sftp-client'],
    ...(sftp ? { banner: { js: BANNER } } : {}),
    metafile: true,
    logLevel: 'silent',
  });
  mkdirSync(outDir, { recursive: true });
  const wasm = createRequire(join(REPO_ROOT, 'package.json')).resolve('@sqlite.org/sqlite-wasm/sqlite3.wasm');
  copyFileSync(wasm, join(outDir, WASM_NAME));
  writeFileSync(join(outDir, 'package.json'), `${JSON.stringify({ type: 'module', private: true })}\n`);
  return { dir: outDir, metafile: result.metafile };
}
