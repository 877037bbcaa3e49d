/**
 * Every code example of README.md is run, so the docs cannot rot (runner: helpers/markdown-examples.ts).
 *
 * Conventions for the README author:
 * - Fences with the language `js`, `sh` or `toml` are examples and are run. Fences without a language,
 *   `text` or `console` are output / illustrations and are not run. Any other language is an error
 *   (so a block cannot stop running by accident), as is a malformed or misplaced directive.
 * - A directive is an HTML comment (invisible on GitHub) on its own line before the fence, blank lines
 *   between allowed; several comments, or several directives in one comment, combine:
 *     <!-- example: skip (reason) -->   not run; the reason is required. For `npm ci && npm start`,
 *                                       `npm test` (run by CI and test/demo.test.ts), Electron, ...
 *                                       In README.md a skipped sh or js block is still syntax-checked
 *                                       (`sh -n`, `node --check`).
 *     <!-- example: file=NAME -->       toml only: after it loads with parseConfig, it is written into
 *                                       the playground as NAME. A toml block without file= must load.
 *     <!-- example: setup=pull-server --> js/sh: first start a real sshd (helpers/sshd.ts), publish a
 *                                       backup of the playground's app.db in its `backups/` and
 *                                       (over)write `pull.toml` pointing at it (127.0.0.1, its port,
 *                                       user, key file, pinned host_key_sha256, remote_dir "backups",
 *                                       local_dir "pulled", restore_to "replica.db"); stopped after.
 *                                       Outside CI a missing sshd skips the block; under CI it fails.
 *     <!-- example: expect-exit=N -->   js/sh: the block must exit with N (default 0).
 * - All blocks share ONE playground temp dir and run in document order, so later blocks use files
 *   earlier ones made. It starts with `app.db` (the demo's sample database: customers, orders),
 *   `node_modules/restinpieces-sqlite-backup` linked to this repo (imports resolve through package.json
 *   `exports` to dist/, so build first) and `node_modules/.bin/sqlite-backup` (the CLI).
 * - `js`: written as `example-<line>.mjs` and run with `node` in the playground (ES module: top-level
 *   await works); `sh`: `sh -e -c <block>` there (`#` comments fine). PATH starts with the playground's
 *   node_modules/.bin, so `sqlite-backup ...` and `npx sqlite-backup ...` both run the local CLI
 *   offline. The environment is ours (CI, HOME unchanged). Timeout 120 s per block.
 * - Each block is one test, `README line <n>: <first code line>`; a failure shows the line, the code,
 *   stdout and stderr. README_EXAMPLES_FILE=<path> runs another Markdown file the same way.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createPlayground,
  exampleSkipReason,
  extractExamples,
  firstCodeLine,
  runExample,
  type Example,
  type Playground,
} from './helpers/markdown-examples.js';

const README = process.env.README_EXAMPLES_FILE ?? fileURLToPath(new URL('../../README.md', import.meta.url));
const SAMPLE = fileURLToPath(new URL('../../test/fixtures/examples-sample.md', import.meta.url));

/** One test per example of `file`, in order, sharing one playground. */
function describeDocument(file: string, source: string): void {
  describe(`${source} examples`, { concurrency: false }, () => {
    let examples: Example[] = [];
    try {
      examples = extractExamples(readFileSync(file, 'utf8'), source);
    } catch (e) {
      it(`${source} directives are well formed`, () => {
        throw e;
      });
      return;
    }
    let playground: Playground | undefined;
    before(async () => {
      playground = await createPlayground();
    });
    after(() => playground?.remove());
    for (const example of examples) {
      const name = `${source} line ${example.line}: ${firstCodeLine(example)}`;
      if (example.skip !== undefined && (example.lang === 'sh' || example.lang === 'js')) {
        // Not run here (the reason says where it is run), but it must still be valid shell / JS.
        it(`${name} (not run: ${example.skip}; syntax checked)`, () => {
          const r =
            example.lang === 'sh'
              ? spawnSync('sh', ['-n', '-c', example.code], { encoding: 'utf8' })
              : spawnSync(process.execPath, ['--input-type=module', '--check'], { input: example.code, encoding: 'utf8' });
          assert.equal(r.status, 0, `${source} line ${example.line}: syntax check says: ${r.stderr}`);
        });
        continue;
      }
      it(name, example.skip !== undefined ? { skip: example.skip } : {}, async (t) => {
        const reason = exampleSkipReason(example); // throws under CI when sshd is missing
        if (reason) return t.skip(reason);
        const r = await runExample(example, playground!);
        assert.ok(r.ok, r.failure);
      });
    }
  });
}

describeDocument(README, basename(README, '.md'));

describe('markdown example runner', { concurrency: false }, () => {
  const sample = readFileSync(SAMPLE, 'utf8');
  let playground: Playground | undefined;
  // npm_config_offline: an npx that needed the registry would fail here instead of downloading.
  before(async () => {
    playground = await createPlayground({ npm_config_offline: 'true' });
  });
  after(() => playground?.remove());
  const dir = (): string => playground!.dir;

  it('extracts the runnable blocks of the sample with their directives and line numbers', () => {
    const examples = extractExamples(sample, 'sample');
    assert.deepEqual(
      examples.map((e) => [e.lang, e.line, e.skip ?? null, e.file ?? null, e.setup ?? null, e.expectExit]),
      [
        ['js', 8, null, null, null, 0],
        ['sh', 17, null, null, null, 0],
        ['sh', 35, 'needs Electron; proves a skipped block never runs', null, null, 0],
        ['toml', 44, null, 'backup.toml', null, 0],
        ['toml', 52, null, null, null, 0],
        ['sh', 60, null, null, null, 0],
        ['js', 66, null, null, null, 3],
        ['sh', 71, null, null, null, 2],
        ['toml', 78, null, 'pull.toml', null, 0],
        ['sh', 92, null, null, 'pull-server', 0],
        ['js', 98, null, null, 'pull-server', 0],
      ],
    );
    assert.equal(examples[1]!.code.split('\n')[0], '# comments are fine');
    assert.equal(firstCodeLine(examples[0]!), "import { writeFileSync } from 'node:fs';");
  });

  it('runs the sample in order: files carry over, skip is not run, file= writes, exits as expected', async (t) => {
    let pulled = false;
    for (const example of extractExamples(sample, 'sample')) {
      const reason = exampleSkipReason(example); // throws under CI when sshd is missing
      if (reason) {
        t.diagnostic(`sample line ${example.line} skipped: ${reason}`);
        continue;
      }
      const r = await runExample(example, playground!);
      pulled ||= example.setup === 'pull-server';
      assert.ok(r.ok, r.failure);
      if (example.expectExit === 3) assert.equal(r.status, 3);
    }
    assert.equal(readFileSync(join(dir(), 'hello.txt'), 'utf8'), 'keep_last=30\n');
    assert.equal(readFileSync(join(dir(), 'npx-version.txt'), 'utf8').trim(), readVersion());
    assert.ok(!existsSync(join(dir(), 'skipped-block-ran.txt')), 'a skipped block must not run');
    assert.match(readFileSync(join(dir(), 'backup.toml'), 'utf8'), /^keep_last {3}= 3$/m);
    assert.ok(existsSync(join(dir(), 'backups', 'latest.txt')));
    assert.ok(existsSync(join(dir(), 'example-66.mjs')), 'js blocks are written as example-<line>.mjs');
    if (pulled) {
      // The harness replaced the README's pull.toml with the real server's.
      assert.match(readFileSync(join(dir(), 'pull.toml'), 'utf8'), /^host += "127\.0\.0\.1"$/m);
      assert.ok(existsSync(join(dir(), 'replica.db')));
    }
  });

  it('reports a js block that throws, with the line, the code and stderr', async () => {
    const [example] = extractExamples('text\n\n```js\nthrow new Error("docs rotted");\n```\n', 'doc');
    const r = await runExample(example!, playground!);
    assert.equal(r.ok, false);
    assert.equal(r.status, 1);
    assert.match(r.failure!, /^doc line 3 \(js\) exited 1, expected exit 0/);
    assert.match(r.failure!, /--- code\nthrow new Error\("docs rotted"\);/);
    assert.match(r.failure!, /--- stderr\n[^]*Error: docs rotted/);
  });

  it('reports a wrong exit status both ways', async () => {
    const [fails, exitsZero] = extractExamples('```sh\necho out; echo err >&2; exit 3\n```\n<!-- example: expect-exit=3 -->\n```sh\ntrue\n```\n');
    const r = await runExample(fails!, playground!);
    assert.equal(r.ok, false);
    assert.equal(r.status, 3);
    assert.match(r.failure!, /exited 3, expected exit 0[^]*--- stdout\nout\n[^]*--- stderr\nerr\n/);
    const z = await runExample(exitsZero!, playground!);
    assert.equal(z.ok, false);
    assert.match(z.failure!, /exited 0, expected exit 3/);
  });

  it('kills a block that runs too long, with what it started', async () => {
    const [example] = extractExamples('```sh\nsleep 60 & echo $! > sleep.pid\nwait\n```\n');
    const r = await runExample(example!, playground!, { timeoutMs: 500 });
    assert.equal(r.ok, false);
    assert.match(r.failure!, /line 1 \(sh\) timed out after 0.5 s/);
    const pid = Number(readFileSync(join(dir(), 'sleep.pid'), 'utf8'));
    assert.ok(pid > 0);
    assert.ok(!running(pid), `the sleep started by the block (pid ${pid}) must be killed too`);
  });

  it('rejects a toml block that does not load, and does not write its file', async () => {
    const [example] = extractExamples('<!-- example: file=bad.toml -->\n```toml\nsource_path = "app.db"\nkeep_lats = 3\n```\n');
    const r = await runExample(example!, playground!);
    assert.equal(r.ok, false);
    assert.match(r.failure!, /line 2 \(toml\) does not load with parseConfig[^]*keep_lats/);
    assert.ok(!existsSync(join(dir(), 'bad.toml')));
  });

  it('rejects malformed directives and blocks that would silently stop running', () => {
    const cases: [string, RegExp][] = [
      ['<!-- example: skip -->\n```sh\ntrue\n```\n', /line 1: "skip" needs a reason/],
      ['<!-- example: skip () -->\n```sh\ntrue\n```\n', /line 1: "skip" needs a reason/],
      ['<!-- example: skip (unclosed -->\n```sh\ntrue\n```\n', /"skip" needs a reason/],
      ['<!-- example: timeout=5 -->\n```sh\ntrue\n```\n', /unknown directive "timeout="/],
      ['<!-- example: setup=ftp -->\n```sh\ntrue\n```\n', /unknown setup "ftp"/],
      ['<!-- example: expect-exit=x -->\n```sh\ntrue\n```\n', /expect-exit=x: an exit status/],
      ['<!-- example: file=a.toml -->\n```sh\ntrue\n```\n', /"file=" applies to toml blocks only/],
      ['<!-- example: file=../a.toml -->\n```toml\n```\n', /must stay inside the playground/],
      ['<!-- example: skip (x) expect-exit=1 -->\n```sh\ntrue\n```\n', /cannot be combined/],
      ['<!-- example: expect-exit=1 -->\n<!-- example: expect-exit=2 -->\n```sh\ntrue\n```\n', /line 2: "expect-exit" given twice/],
      ['<!-- example: skip (x) -->\nSome prose.\n```sh\ntrue\n```\n', /line 1: directive is not followed by a code fence/],
      ['<!-- example: skip (x) -->\n```text\nout\n```\n', /directive before a `text` fence/],
      ['<!-- example skip (x) -->\n```sh\ntrue\n```\n', /line 1: malformed directive/],
      ['text\n```bash\nls\n```\n', /line 2: fence language "bash"/],
      ['```sh\ntrue\n', /line 1: code fence is never closed/],
    ];
    for (const [markdown, error] of cases) assert.throws(() => extractExamples(markdown, 'doc'), error, markdown);
  });

  it('reads indented fences (in list items) and ~~~ fences, and ignores output fences', () => {
    const examples = extractExamples('- step:\n\n  ```sh\n  echo a\n    echo b\n  ```\n\n~~~js title="x"\nlet a = 1;\n~~~\n```console\n$ x\n```\n');
    assert.deepEqual(examples.map((e) => [e.lang, e.line, e.code]), [
      ['sh', 3, 'echo a\n  echo b'],
      ['js', 8, 'let a = 1;'],
    ]);
  });
});

/** True while `pid` runs; a killed process whose new parent has not reaped it yet (a zombie) does not count. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function readVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}
