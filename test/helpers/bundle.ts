/**
 * The bundling recipe (README) as code: esbuild puts the consumer fixture, a push consumer (an app
 * that imports the package by name and backs up with [[push]]), the engine worker and the
 * compress worker into one directory, next to a copy of sqlite3.wasm, so that the library's defaults (`new URL('./worker.js', import.meta.url)`,
 * `./compress-worker.js`, sqlite-wasm's `new URL('sqlite3.wasm', import.meta.url)`) resolve there.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Metafile, Plugin } from 'esbuild';
import { REPO_ROOT } from './pack.js';

/** What the library's code looks for next to the bundle, by name (see the module comment). */
export const ENTRY_NAMES = ['bundle-consumer.js', 'push-consumer.js', 'worker.js', 'compress-worker.js'] as const;
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
 * The README's banner for an ESM bundle that includes the AWS SDK (its "The S3 client" paragraph): the
 * SDK's CommonJS builds `require` Node builtins. Only a `require`; ssh2 needs BANNER. The import is
 * aliased: fflate's ESM build imports `createRequire` itself, which esbuild keeps as a top-level
 * `import { createRequire } from "module"`, so an unaliased banner is a SyntaxError (already declared).
 */
export const S3_BANNER = "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);";

/** What the README says to mark external when S3 is not used. */
export const AWS_SDK_EXTERNAL = '@aws-sdk/*';
export const AWS_SDK_PACKAGES = ['@aws-sdk/client-s3', '@aws-sdk/lib-storage'] as const;

/**
 * push-consumer.js: `node push-consumer.js '{"config": "<TOML>", "baseDir": "..."}'` parses the config,
 * runs backup() (with its [[push]] tables) and verify(), and prints one JSON line:
 * `{ backup: {name, path}, push: PushOutcome[], verify, error? }`. A backup published locally whose
 * push failed (PushError, EPUSH) still prints, with `error`, and exits 1; any other failure prints
 * `{"error": {code, message}}` on stderr and exits 1. It imports the package by name, as an app does.
 */
const PUSH_CONSUMER_SOURCE = `
import { backup, parseConfig, verify } from 'restinpieces-sqlite-backup';
const fail = (e) => ({ code: e?.code ?? null, message: String(e?.message ?? e) });
try {
  const job = JSON.parse(process.argv[2]);
  const config = parseConfig(job.config, { baseDir: job.baseDir });
  let made;
  let push;
  let error;
  try {
    made = await backup(config);
    push = made.push;
  } catch (e) {
    if (e?.code !== 'EPUSH' || !e.result) throw e;
    made = e.result;
    push = e.outcomes;
    error = fail(e);
  }
  const checked = await verify(made.path);
  const verified = { ok: checked.ok, messages: checked.messages, checksum: checked.checksum };
  process.stdout.write(JSON.stringify({ backup: { name: made.name, path: made.path }, push, verify: verified, ...(error ? { error } : {}) }) + '\\n');
  if (error) process.exitCode = 1;
} catch (e) {
  process.stderr.write(JSON.stringify({ error: fail(e) }) + '\\n');
  process.exitCode = 1;
}
`;

/** The push consumer as a virtual entry, resolving its imports from the repository (the package by name). */
const pushConsumerPlugin: Plugin = {
  name: 'push-consumer',
  setup(build) {
    build.onResolve({ filter: /^virtual:push-consumer$/ }, (args) => ({ path: args.path, namespace: 'push-consumer' }));
    build.onLoad({ filter: /.*/, namespace: 'push-consumer' }, () => ({ contents: PUSH_CONSUMER_SOURCE, loader: 'js', resolveDir: REPO_ROOT }));
  },
};

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
  /**
   * false: an app that does not use S3 marks `@aws-sdk/*` external (README); the library's lazy
   * import() of the SDK then stays an import() that fails at run time (ECONFIG on first S3 use).
   * true: the SDK (installed here as a devDependency) is bundled.
   * @default true
   */
  s3?: boolean;
  /** The banner: BANNER by default with SFTP, none without; S3_BANNER for an S3-only app. */
  banner?: string;
}

/**
 * Bundles test/fixtures/bundle-consumer (as compiled in dist/) and the push consumer with the library
 * into `outDir`: `bundle-consumer.js`, `push-consumer.js`, `worker.js`, `compress-worker.js`, `sqlite3.wasm` and a `package.json`
 * that marks the .js files as ES modules (a Node without ESM syntax detection reads them as CommonJS).
 */
export async function bundleConsumer(outDir: string, options: BundleOptions = {}): Promise<BundleOutput> {
  const sftp = options.sftp ?? true;
  const s3 = options.s3 ?? true;
  const banner = options.banner ?? (sftp ? BANNER : undefined);
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    absWorkingDir: REPO_ROOT,
    entryPoints: {
      'bundle-consumer': 'dist/test/fixtures/bundle-consumer.js',
      'push-consumer': 'virtual:push-consumer',
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
    external: [...(sftp ? OPTIONAL_NATIVE : ['ssh2-sftp-client']), ...(s3 ? [] : [AWS_SDK_EXTERNAL])],
    ...(banner !== undefined ? { banner: { js: banner } } : {}),
    plugins: [pushConsumerPlugin],
    metafile: true,
    logLevel: 'silent',
  });
  mkdirSync(outDir, { recursive: true });
  const wasm = createRequire(join(REPO_ROOT, 'package.json')).resolve('@sqlite.org/sqlite-wasm/sqlite3.wasm');
  copyFileSync(wasm, join(outDir, WASM_NAME));
  writeFileSync(join(outDir, 'package.json'), `${JSON.stringify({ type: 'module', private: true })}\n`);
  return { dir: outDir, metafile: result.metafile };
}
