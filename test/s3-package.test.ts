/**
 * The AWS SDK is an optional peer dependency of the package: our typings never name it, the code
 * loads it only on first S3 use (with literal import() specifiers that bundlers can follow), and
 * without it installed the library still loads and type-checks, and S3 use fails with ECONFIG saying
 * what to install. The "without" cases run on a copy of dist/src outside this repository, where no
 * node_modules holds the SDK.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from './helpers/pack.js';
import { run } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';
import { missingSdkError } from '../src/transport/s3/s3-sdk.js';
import { ErrorCode } from '../src/errors.js';

const DIST_SRC = join(REPO_ROOT, 'dist', 'src');

function filesUnder(dir: string, suffix: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(suffix))
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
}

/** Runs an ES module script with node in `cwd`; returns its output. */
function node(script: string, cwd: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('S3 and the optional AWS SDK', () => {
  it('no published .d.ts names the AWS SDK (a consumer without it would get TS2307)', () => {
    const dts = filesUnder(DIST_SRC, '.d.ts');
    assert.ok(dts.some((f) => f.endsWith(join('transport', 's3', 's3.d.ts'))));
    for (const f of dts) assert.doesNotMatch(readFileSync(f, 'utf8'), /aws-sdk/, relative(REPO_ROOT, f));
  });

  it('the SDK is imported in one place, lazily, with literal specifiers', () => {
    const importers = filesUnder(DIST_SRC, '.js').filter((f) => /@aws-sdk\//.test(readFileSync(f, 'utf8')));
    assert.deepEqual(importers.map((f) => relative(DIST_SRC, f)), [join('transport', 's3', 's3-sdk.js')]);
    const js = readFileSync(importers[0]!, 'utf8');
    assert.match(js, /await import\('@aws-sdk\/client-s3'\)/);
    assert.match(js, /await import\('@aws-sdk\/lib-storage'\)/);
    assert.doesNotMatch(js, /^import .*@aws-sdk/m, 'no static import');
  });

  it('a process that never uses S3 never loads the SDK; the first S3 call does', () => {
    const r = node(
      `
      import { createRequire } from 'node:module';
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('@aws-sdk')).length;
      await import('./dist/src/index.js');
      const { S3Transport } = await import('./dist/src/transport/s3/s3.js');
      const t = new S3Transport({ bucket: 'backups', prefix: 'x', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
      const before = loaded();
      const e = await t.list().catch((e) => e);
      console.log(before, loaded() > 0, e.code);
      `,
      REPO_ROOT,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '0 true ECONNECT');
  });

  describe('without the SDK installed', () => {
    const dir = tempDir('s3-no-sdk-');
    before(() => {
      cpSync(DIST_SRC, join(dir, 'src'), { recursive: true });
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    });

    it('S3 use fails with ECONFIG naming both packages, the version range and the install command; nothing else breaks', () => {
      const r = node(
        `
        const { S3Transport, parseS3Url } = await import('./src/transport/s3/s3.js');
        const t = new S3Transport({ ...parseS3Url('s3://backups/app'), endpoint: 'http://127.0.0.1:9' });
        for (const op of [() => t.list(), () => t.write('a', 'x'), () => t.close()]) {
          const e = await op().catch((e) => e);
          console.log(e ? e.code + ' ' + e.message : 'ok');
        }
        `,
        dir,
      );
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stdout.trim().split('\n');
      const expected =
        'ECONFIG S3 needs the optional packages @aws-sdk/client-s3 and @aws-sdk/lib-storage (^3.1169.0), and they are not installed: ' +
        'npm install @aws-sdk/client-s3@^3.1169.0 @aws-sdk/lib-storage@^3.1169.0';
      assert.deepEqual(lines, [expected, expected, 'ok']);
      assert.equal(r.stderr, '');
    });

    it('our typings type-check for a consumer without the SDK', () => {
      writeFileSync(
        join(dir, 'consumer.ts'),
        [
          "import { S3Transport, parseS3Url, DEFAULT_S3_IDLE_TIMEOUT_MS, type S3TransportOptions } from './src/transport/s3/s3.js';",
          "const options: S3TransportOptions = { ...parseS3Url('s3://backups/app'), endpoint: 'http://127.0.0.1:7480', idleTimeoutMs: DEFAULT_S3_IDLE_TIMEOUT_MS };",
          'export const files = new S3Transport(options).list();',
          '',
        ].join('\n'),
      );
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            target: 'ES2022',
            strict: true,
            noEmit: true,
            skipLibCheck: false,
            typeRoots: [join(REPO_ROOT, 'node_modules', '@types')],
            types: ['node'],
          },
          files: ['consumer.ts'],
        }),
      );
      const tsc = run(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { allowFail: true });
      assert.equal(tsc.status, 0, `tsc: ${tsc.stdout}${tsc.stderr}`);
    });
  });

  it('the ECONFIG for an SDK that is there but cannot be loaded says why', () => {
    const e = missingSdkError(Object.assign(new SyntaxError('Unexpected token'), { code: undefined }));
    assert.equal(e.code, ErrorCode.CONFIG);
    assert.match(e.message, /could not be loaded \(Unexpected token\): npm install @aws-sdk\/client-s3@\^3\.1169\.0 @aws-sdk\/lib-storage@\^3\.1169\.0$/);
  });
});
