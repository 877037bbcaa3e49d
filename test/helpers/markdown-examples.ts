/**
 * Runs the code examples of a Markdown document (the README), so the docs cannot rot. The conventions
 * (which fences run, the `<!-- example: ... -->` directives) are documented at the top of
 * test/readme-examples.test.ts. Two steps, each testable on its own:
 *  - extractExamples(markdown) finds the fenced blocks and their directives; a malformed directive
 *    throws (an example that silently stops running is how docs rot);
 *  - runExample(example, playground) runs one block in a shared playground directory and returns a
 *    result whose `failure` message names the document line, the code, stdout and stderr.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backup, parseConfig } from '../../src/index.js';
import { writeSampleDatabase } from '../../scripts/demo/sample-database.js';
import { sshdSkipReason, startSshd, type Sshd } from './sshd.js';
import { cephSkipReason, startCephRgw, type CephRgw } from './ceph-rgw.js';

/** Fence languages that are run; `text`, `console` and no language are illustrations. */
export const RUN_LANGUAGES = ['js', 'sh', 'toml'] as const;
export const SHOW_LANGUAGES = ['', 'text', 'console'] as const;
export type ExampleLanguage = (typeof RUN_LANGUAGES)[number];
export const SETUPS = ['pull-server', 's3-server'] as const;
export type ExampleSetup = (typeof SETUPS)[number];
/** How long one js or sh block may run. */
export const EXAMPLE_TIMEOUT_MS = 120_000;

export interface Example {
  /** Document name for messages ("README"). */
  source: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: ExampleLanguage;
  code: string;
  /** `skip (reason)`: not run, for this reason. */
  skip?: string;
  /** `file=NAME` (toml only): written into the playground under this name. */
  file?: string;
  setup?: ExampleSetup;
  /** `expect-exit=N` (js, sh). @default 0 */
  expectExit: number;
}

/** Every runnable fenced block of `markdown`, in document order. Throws on a malformed directive. */
export function extractExamples(markdown: string, source = 'README'): Example[] {
  const lines = markdown.split(/\r?\n/);
  const examples: Example[] = [];
  let pending: { line: number; text: string }[] = [];
  const fail = (line: number, message: string): never => {
    throw new Error(`${source} line ${line}: ${message}`);
  };
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!;
    const directive = /^\s*<!--\s*example\b(.*)$/.exec(text);
    if (directive) {
      const body = /^\s*:(.*?)-->\s*$/.exec(directive[1]!);
      if (!body) fail(i + 1, `malformed directive ${JSON.stringify(text.trim())}: write <!-- example: ... --> on one line`);
      pending.push({ line: i + 1, text: body![1]!.trim() });
      continue;
    }
    const fence = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/.exec(text);
    if (!fence) {
      if (text.trim() !== '' && pending.length > 0) fail(pending[0]!.line, 'directive is not followed by a code fence');
      continue;
    }
    const [, indent, marker, langRaw] = fence;
    const open = i + 1;
    const closing = new RegExp(`^\\s*${marker![0] === '`' ? '`' : '~'}{${marker!.length},}\\s*$`);
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !closing.test(lines[j]!); j++) {
      // Fences inside list items are indented: strip the fence's own indentation from its lines.
      body.push(lines[j]!.startsWith(indent!) ? lines[j]!.slice(indent!.length) : lines[j]!.trimStart());
    }
    if (j >= lines.length) fail(open, 'code fence is never closed');
    const lang = langRaw!.toLowerCase();
    const directives = pending;
    pending = [];
    i = j;
    if ((SHOW_LANGUAGES as readonly string[]).includes(lang)) {
      if (directives.length > 0) fail(directives[0]!.line, `directive before a \`${lang || 'plain'}\` fence, which is never run`);
      continue;
    }
    if (!(RUN_LANGUAGES as readonly string[]).includes(lang)) {
      fail(open, `fence language "${lang}": use ${RUN_LANGUAGES.join('/')} (run) or text/console/none (not run)`);
    }
    const example: Example = { source, line: open, lang: lang as ExampleLanguage, code: body.join('\n'), expectExit: 0 };
    applyDirectives(example, directives, fail);
    examples.push(example);
  }
  if (pending.length > 0) fail(pending[0]!.line, 'directive is not followed by a code fence');
  return examples;
}

/**
 * Applies `skip (reason)`, `file=NAME`, `setup=NAME`, `expect-exit=N` from the comments before a fence
 * (one comment may hold several, separated by spaces).
 */
function applyDirectives(example: Example, comments: { line: number; text: string }[], failAt: (line: number, message: string) => never): void {
  const seen = new Set<string>();
  let fail = (message: string): never => failAt(example.line, message);
  const once = (name: string): void => {
    if (seen.has(name)) fail(`"${name}" given twice`);
    seen.add(name);
  };
  for (const comment of comments) {
    fail = (message) => failAt(comment.line, message);
    parseComment(example, comment.text, once, fail);
  }
  if (example.skip !== undefined && seen.size > 1) fail('"skip" cannot be combined with other directives');
  if (example.file !== undefined && example.lang !== 'toml') fail('"file=" applies to toml blocks only');
  if (example.lang === 'toml' && (example.setup || seen.has('expect-exit'))) fail('toml blocks take only "file=" or "skip"');
}

function parseComment(example: Example, text: string, once: (name: string) => void, fail: (message: string) => never): void {
  let rest = text;
  while ((rest = rest.trimStart()) !== '') {
    if (/^skip\b/.test(rest)) {
      once('skip');
      rest = rest.slice(4).trimStart();
      const reason = rest.startsWith('(') ? balanced(rest) : undefined;
      if (reason === undefined || reason.trim() === '') fail('"skip" needs a reason in parentheses: <!-- example: skip (why) -->');
      example.skip = reason!.trim();
      rest = rest.slice(reason!.length + 2);
      continue;
    }
    const kv = /^([a-z-]+)=(\S+)/.exec(rest);
    if (!kv) fail(`unknown directive "${rest}" (known: skip (reason), file=NAME, setup=${SETUPS.join('|')}, expect-exit=N)`);
    const [all, key, value] = kv!;
    rest = rest.slice(all.length);
    if (key === 'file') {
      once('file');
      if (isAbsolute(value!) || normalize(value!).split(sep).includes('..')) fail(`file=${value}: must stay inside the playground`);
      example.file = value!;
    } else if (key === 'setup') {
      once('setup');
      if (!(SETUPS as readonly string[]).includes(value!)) fail(`unknown setup "${value}" (known: ${SETUPS.join(', ')})`);
      example.setup = value as ExampleSetup;
    } else if (key === 'expect-exit') {
      once('expect-exit');
      if (!/^\d{1,3}$/.test(value!) || Number(value) > 255) fail(`expect-exit=${value}: an exit status 0-255`);
      example.expectExit = Number(value);
    } else {
      fail(`unknown directive "${key}=" (known: skip (reason), file=NAME, setup=${SETUPS.join('|')}, expect-exit=N)`);
    }
  }
}

/** The text inside the parentheses that open `s`, nesting allowed; undefined when unclosed. */
function balanced(s: string): string | undefined {
  let depth = 0;
  for (let k = 0; k < s.length; k++) {
    if (s[k] === '(') depth++;
    else if (s[k] === ')' && --depth === 0) return s.slice(1, k);
  }
  return undefined;
}

/** The block's first non-blank line, for test names. */
export function firstCodeLine(example: Example): string {
  const first = example.code.split('\n').find((l) => l.trim() !== '')?.trim() ?? '(empty)';
  return first.length > 90 ? `${first.slice(0, 87)}...` : first;
}

export interface Playground {
  dir: string;
  /** Environment of every block: ours with `<dir>/node_modules/.bin` first on PATH. */
  env: NodeJS.ProcessEnv;
  /** Removes the directory. */
  remove(): void;
}

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(REPO, 'dist', 'src', 'cli', 'main.js');

/**
 * A fresh temp dir with `app.db` (the sample database), `node_modules/restinpieces-sqlite-backup`
 * linked to this repository (imports resolve through package.json `exports` to dist/) and
 * `node_modules/.bin/sqlite-backup`. `extraEnv` is added to the blocks' environment.
 */
export async function createPlayground(extraEnv: NodeJS.ProcessEnv = {}): Promise<Playground> {
  const dir = mkdtempSync(join(tmpdir(), 'sqlite-backup-examples-'));
  try {
    await writeSampleDatabase(join(dir, 'app.db'));
    const bin = join(dir, 'node_modules', '.bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(REPO, join(dir, 'node_modules', 'restinpieces-sqlite-backup'), 'dir');
    linkCli(join(bin, 'sqlite-backup'));
    const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}` };
    // Set by node --test for its own children; a block's `node` is not one of our test files.
    delete env.NODE_TEST_CONTEXT;
    return { dir, env, remove: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** npm links a bin to the executable script; tsc output is 0644, so then a sh shim runs it with our node. */
function linkCli(path: string): void {
  let executable = true;
  try {
    accessSync(CLI, constants.X_OK);
  } catch {
    executable = false;
  }
  if (executable && readFileSync(CLI, 'utf8').startsWith('#!')) {
    symlinkSync(CLI, path);
  } else {
    writeFileSync(path, `#!/bin/sh\nexec ${shQuote(process.execPath)} ${shQuote(CLI)} "$@"\n`, { mode: 0o755 });
  }
}

const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Why `example` does not run here (skip reason, or a missing sshd outside CI); throws under CI. */
export function exampleSkipReason(example: Example): string | false {
  if (example.skip !== undefined) return example.skip;
  if (example.setup === 'pull-server') return sshdSkipReason();
  if (example.setup === 's3-server') return cephSkipReason();
  return false;
}

export interface ExampleResult {
  ok: boolean;
  /** Exit status of a js/sh block (null for toml, a signal or a timeout). */
  status: number | null;
  stdout: string;
  stderr: string;
  /** When not ok: what went wrong, with the document line, the code, stdout and stderr. */
  failure?: string;
}

export interface RunExampleOptions {
  /** @default EXAMPLE_TIMEOUT_MS */
  timeoutMs?: number;
}

/** Runs one example in the playground (a skipped example is not run: check exampleSkipReason first). */
export async function runExample(example: Example, playground: Playground, options: RunExampleOptions = {}): Promise<ExampleResult> {
  const { dir } = playground;
  const timeoutMs = options.timeoutMs ?? EXAMPLE_TIMEOUT_MS;
  if (example.lang === 'toml') {
    try {
      parseConfig(example.code, { baseDir: dir, source: `${example.source} line ${example.line}` });
    } catch (e) {
      return failed(example, 'does not load with parseConfig', null, '', String((e as Error).message));
    }
    if (example.file) {
      const path = join(dir, example.file);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, `${example.code}\n`);
    }
    return { ok: true, status: null, stdout: '', stderr: '' };
  }
  let server: Sshd | undefined;
  let rgw: CephRgw | undefined;
  let env = playground.env;
  try {
    if (example.setup === 'pull-server') {
      try {
        server = await startPullServer(dir);
      } catch (e) {
        return failed(example, 'setup=pull-server failed', null, '', String((e as Error).stack ?? e));
      }
    }
    if (example.setup === 's3-server') {
      try {
        rgw = await startS3Server(dir);
        env = { ...env, ...rgw.env };
      } catch (e) {
        return failed(example, 'setup=s3-server failed', null, '', String((e as Error).stack ?? e));
      }
    }
    let args: string[];
    if (example.lang === 'js') {
      const script = `example-${example.line}.mjs`;
      writeFileSync(join(dir, script), `${example.code}\n`);
      args = [process.execPath, script];
    } else {
      args = ['sh', '-e', '-c', example.code];
    }
    const r = await spawnWithTimeout(args, dir, env, timeoutMs);
    if (r.timedOut) return failed(example, `timed out after ${timeoutMs / 1000} s`, null, r.stdout, r.stderr);
    if (r.status !== example.expectExit) {
      const how = r.status === null ? `was killed by ${r.signal}` : `exited ${r.status}`;
      return failed(example, `${how}, expected exit ${example.expectExit}`, r.status, r.stdout, r.stderr);
    }
    return { ok: true, status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    await server?.stop();
    await rgw?.stop();
  }
}

/**
 * setup=s3-server: a real Ceph RADOS Gateway with a bucket `my-backups`, its AWS_* credentials in the
 * block's environment, and `push.toml` (app.db -> backups, pushed to s3://my-backups/app at this
 * gateway's endpoint) plus `pull-s3.toml` ([pull] from there into pulled-s3) in the playground.
 */
async function startS3Server(dir: string): Promise<CephRgw> {
  const rgw = await startCephRgw();
  try {
    await rgw.createBucket('my-backups');
    const q = JSON.stringify;
    const push = ['source_path = "app.db"', 'backup_dir  = "backups"', '', '[[push]]', 'url = "s3://my-backups/app"', `endpoint = ${q(rgw.endpoint)}`, 'keep_last = 30', ''];
    writeFileSync(join(dir, 'push.toml'), push.join('\n'));
    const pull = ['[pull]', 'url       = "s3://my-backups/app"', `endpoint  = ${q(rgw.endpoint)}`, 'local_dir = "pulled-s3"', ''];
    writeFileSync(join(dir, 'pull-s3.toml'), pull.join('\n'));
    return rgw;
  } catch (e) {
    await rgw.stop();
    throw e;
  }
}

function failed(example: Example, what: string, status: number | null, stdout: string, stderr: string): ExampleResult {
  const tail = (s: string): string => (s.length > 6000 ? `...${s.slice(-6000)}` : s);
  const failure = [
    `${example.source} line ${example.line} (${example.lang}) ${what}`,
    '--- code', example.code,
    '--- stdout', tail(stdout),
    '--- stderr', tail(stderr),
  ].join('\n');
  return { ok: false, status, stdout, stderr, failure };
}

/**
 * A real sshd serving a backup of the playground's app.db in `backups/` of its SFTP login dir, and
 * `pull.toml` in the playground pointing at it (one ed25519 host key, pinned by fingerprint).
 */
async function startPullServer(dir: string): Promise<Sshd> {
  const sshd = await startSshd({ hostKeyTypes: ['ed25519'] });
  try {
    const q = JSON.stringify;
    await backup(parseConfig(`source_path = ${q(join(dir, 'app.db'))}\nbackup_dir = ${q(join(sshd.sftpRoot, 'backups'))}\n`));
    const config = [
      '[pull]',
      `host             = "127.0.0.1"`,
      `port             = ${sshd.port}`,
      `user             = ${q(sshd.username)}`,
      `private_key_path = ${q(sshd.userKey.privatePath)}`,
      `host_key_sha256  = ${q(sshd.hostKeys[0]!.fingerprint)}`,
      `remote_dir       = "backups"`,
      `local_dir        = "pulled"`,
      `restore_to       = "replica.db"`,
      '',
    ].join('\n');
    writeFileSync(join(dir, 'pull.toml'), config);
    return sshd;
  } catch (e) {
    await sshd.stop();
    throw e;
  }
}

interface Spawned {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs `args` in its own process group, so a timeout kills what the block started too (by pgid). */
function spawnWithTimeout(args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const child = spawn(args[0]!, args.slice(1), { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, timedOut });
    });
  });
}
