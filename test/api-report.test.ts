/**
 * The public API is what etc/*.api.md says it is. api-extractor (scripts/api-report.mjs, check mode)
 * compares the built .d.ts of each public entry point with its committed report and fails on any
 * difference or warning (a type the API uses but does not export, a bad TSDoc tag): a change of the
 * surface shows up in review, and `npm run api` is how it is accepted. The check is shown to fail
 * on a copy of the build with one export added.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './helpers/pack.js';

const SCRIPT = join(REPO_ROOT, 'scripts', 'api-report.mjs');
const ROOT_REPORT = join(REPO_ROOT, 'etc', 'restinpieces-sqlite-backup.api.md');
const COMPRESS_REPORT = join(REPO_ROOT, 'etc', 'restinpieces-sqlite-backup-compress.api.md');

function check(args: string[] = []): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** The runtime values (functions, classes, constants) a report declares, and those without TSDoc. */
function runtimeExports(report: string): { names: string[]; undocumented: string[] } {
  const names = new Set<string>();
  const undocumented = new Set<string>();
  let tag = '';
  for (const line of report.split('\n')) {
    if (line.startsWith('// @')) tag = line;
    const m = /^export (?:declare )?(?:abstract )?(?:function|const|class|enum|namespace|let|var) (\w+)/.exec(line);
    if (m) {
      names.add(m[1]!);
      if (tag.includes('(undocumented)')) undocumented.add(m[1]!);
    }
    if (line.startsWith('export ')) tag = '';
  }
  return { names: [...names], undocumented: [...undocumented] };
}

describe('the API reports (etc/*.api.md)', { timeout: 600_000 }, () => {
  it('match the built .d.ts of every public entry point (else: npm run api, and commit etc/)', () => {
    const r = check();
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /restinpieces-sqlite-backup\.api\.md: up to date/);
    assert.match(r.output, /restinpieces-sqlite-backup-compress\.api\.md: up to date/);
  });

  it('the check fails, showing the diff, when an export is added without updating the report', () => {
    // A copy inside dist/ so that the .d.ts files still resolve their dependencies' types.
    const copy = mkdtempSync(join(REPO_ROOT, 'dist', 'api-selftest-'));
    after(() => rmSync(copy, { recursive: true, force: true }));
    cpSync(join(REPO_ROOT, 'dist', 'src'), join(copy, 'src'), { recursive: true, filter: (f) => !f.endsWith('.js') && !f.endsWith('.map') });
    appendFileSync(join(copy, 'src', 'index.d.ts'), '/** Added by the test. */\nexport declare const ADDED_WITHOUT_REPORT: number;\n');
    const before = readFileSync(ROOT_REPORT, 'utf8');
    const r = check(['--dist', join(copy, 'src')]);
    assert.equal(r.status, 1, r.output);
    assert.match(r.output, /etc\/restinpieces-sqlite-backup\.api\.md is stale/);
    assert.match(r.output, /^\+export const ADDED_WITHOUT_REPORT: number;$/m);
    assert.match(r.output, /npm run api/);
    assert.match(r.output, /restinpieces-sqlite-backup-compress\.api\.md: up to date/, 'the unchanged entry point passes');
    assert.equal(readFileSync(ROOT_REPORT, 'utf8'), before, 'check mode never rewrites the committed report');
  });

  it('the package root exports at most 40 runtime values, every one (and every subpath value) documented', () => {
    const root = runtimeExports(readFileSync(ROOT_REPORT, 'utf8'));
    assert.ok(root.names.length >= 20, `the parser finds the exports (${root.names.length})`);
    assert.ok(root.names.length <= 40, `${root.names.length} runtime values: ${root.names.join(', ')}`);
    assert.deepEqual(root.undocumented, [], 'runtime exports without TSDoc');
    const compress = runtimeExports(readFileSync(COMPRESS_REPORT, 'utf8'));
    assert.ok(compress.names.includes('gzipFile'));
    assert.deepEqual(compress.undocumented, []);
  });

  it("the README's API section lists exactly the runtime exports of the root and of /compress", () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const section = /\n## API\n([\s\S]*?)\n## /.exec(readme)?.[1];
    assert.ok(section, 'README has an "## API" section');
    const [rootPart, compressPart] = section.split('\n`restinpieces-sqlite-backup/compress`');
    assert.ok(compressPart, 'the section has a `restinpieces-sqlite-backup/compress` part');
    // The names a bullet is about: the backticked identifiers before its first "`: ".
    const listed = (text: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith('- `'))
        .flatMap((l) => [...l.slice(0, l.indexOf('`: ') + 1).matchAll(/`([A-Za-z_]\w*)/g)].map((m) => m[1]!))
        .sort();
    assert.deepEqual(listed(rootPart!), runtimeExports(readFileSync(ROOT_REPORT, 'utf8')).names.sort());
    assert.deepEqual(listed(compressPart), runtimeExports(readFileSync(COMPRESS_REPORT, 'utf8')).names.sort());
  });

  it('the README and its example fixture import only the root and /compress, and only what they export', () => {
    const exported = (file: string) =>
      new Set([...readFileSync(file, 'utf8').matchAll(/^export (?:declare )?(?:abstract )?(?:function|const|class|enum|namespace|interface|type) (\w+)/gm)].map((m) => m[1]!));
    const entries: Record<string, Set<string>> = {
      'restinpieces-sqlite-backup': exported(ROOT_REPORT),
      'restinpieces-sqlite-backup/compress': exported(COMPRESS_REPORT),
    };
    let imports = 0;
    for (const doc of ['README.md', join('test', 'fixtures', 'examples-sample.md')]) {
      const text = readFileSync(join(REPO_ROOT, doc), 'utf8');
      for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'(restinpieces-sqlite-backup[^']*)'/g)) {
        const names = entries[m[2]!];
        assert.ok(names, `${doc} imports ${m[2]}: not a documented entry point`);
        for (const name of m[1]!.split(',').map((n) => n.trim().replace(/^type\s+/, '')).filter(Boolean)) {
          assert.ok(names.has(name), `${doc} imports ${name} from ${m[2]}, which does not export it`);
          imports++;
        }
      }
    }
    assert.ok(imports >= 10, `found the README's imports (${imports})`);
  });

  it('test hooks (@internal) are not in the reports', () => {
    for (const file of [ROOT_REPORT, COMPRESS_REPORT]) {
      const report = readFileSync(file, 'utf8');
      assert.doesNotMatch(report, /@internal|freeSpace/, file);
    }
  });
});
