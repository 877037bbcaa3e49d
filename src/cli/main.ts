#!/usr/bin/env node
/**
 * The `sqlite-backup` command: argument parsing, signals and exit codes; the commands are in
 * commands.ts, all printing in output.ts. Exit codes: 0 success; 1 the operation failed (source
 * missing or not a database, corrupt backup, check failed, ...); 2 usage or config error; 130/143
 * interrupted (SIGINT/SIGTERM: the running operation is aborted and cleans up first). `backup
 * --every` is a daemon: SIGINT/SIGTERM is how it is meant to stop, so that exits 0.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BackupError, ErrorCode } from '../errors.js';
import { COMMANDS, UsageError, type OptionSpec, type Values } from './commands.js';
import { commandHelp, OVERVIEW } from './help.js';
import { Output, type OutputMode } from './output.js';
import { safeStream } from './safe-stream.js';

/** A reader that goes away (`| head`) must not end an operation: see safe-stream.ts. */
const stdout = safeStream(process.stdout);
const stderr = safeStream(process.stderr);

const GLOBAL_OPTIONS: OptionSpec = {
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
  timestamps: { type: 'boolean' },
  'no-timestamps': { type: 'boolean' },
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

interface Parsed {
  command: string;
  values: Values;
  args: string[];
}

/** Global flags may come before the command (`sqlite-backup --json list dir`) or anywhere after it. */
function parseCommandLine(argv: string[]): Parsed | { exit: number } {
  const at = argv.findIndex((a) => !a.startsWith('-'));
  const leading = at === -1 ? argv : argv.slice(0, at);
  if (leading.includes('--version') || leading.includes('-V')) {
    stdout.write(`${version()}\n`);
    return { exit: 0 };
  }
  if (at === -1) {
    // No command: help when asked for, else usage on stderr and exit 2.
    const asked = leading.includes('--help') || leading.includes('-h');
    (asked ? stdout : stderr).write(OVERVIEW);
    return { exit: asked ? 0 : 2 };
  }
  const command = argv[at]!;
  if (command === 'help') {
    stdout.write(argv[at + 1] && COMMANDS[argv[at + 1]!] ? commandHelp(argv[at + 1]!) : OVERVIEW);
    return { exit: 0 };
  }
  const spec = COMMANDS[command];
  if (!spec) throw new UsageError(`unknown command "${command}" (commands: ${Object.keys(COMMANDS).join(', ')})`);
  let parsed;
  try {
    parsed = parseArgs({
      args: [...leading, ...argv.slice(at + 1)],
      options: { ...GLOBAL_OPTIONS, ...spec.options },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError(`${command}: ${parseErrorMessage(e, command, { ...GLOBAL_OPTIONS, ...spec.options })}`, command);
  }
  const values = parsed.values as Values;
  if (values.help) {
    stdout.write(commandHelp(command));
    return { exit: 0 };
  }
  const required = spec.positionals.filter((p) => !p.endsWith('?')).length;
  const n = parsed.positionals.length;
  if (n < required || n > spec.positionals.length) {
    const want = spec.positionals.map((p) => (p.endsWith('?') ? `[${p.slice(0, -1)}]` : `<${p}>`)).join(' ');
    throw new UsageError(`${command}: expected ${want || 'no arguments'}, got ${n} argument(s)`, command);
  }
  return { command, values, args: parsed.positionals };
}

/**
 * parseArgs's message, or for an unknown option one that says what to type instead: the closest
 * option of this command (a typo), or the commands that have it (`--keep-last` given to backup).
 */
function parseErrorMessage(e: unknown, command: string, options: OptionSpec): string {
  const message = (e as Error).message;
  const unknown = (e as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'(-[^']*)'/.exec(message)?.[1] : undefined;
  if (unknown === undefined) return message;
  if (!unknown.startsWith('--')) return `unknown option ${unknown}`; // one letter: no typo to guess
  const name = unknown.replace(/^--?/, '').split('=')[0]!;
  const elsewhere = Object.keys(COMMANDS).filter((c) => c !== command && name in COMMANDS[c]!.options);
  if (elsewhere.length > 0) return `unknown option ${unknown}: it is an option of ${elsewhere.map((c) => `"${c}"`).join(', ')}`;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const known of Object.keys(options)) {
    const d = editDistance(name, known);
    if (d < bestDistance) [best, bestDistance] = [known, d];
  }
  // Close enough to be a typo: a third of the name's letters at most (and always one or two).
  const close = best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3));
  return `unknown option ${unknown}${close ? ` (did you mean --${best}?)` : ''}`;
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next.push(Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    row = next;
  }
  return row[b.length]!;
}

/** A usage mistake: the message and where help is on stderr (and an EUSAGE object with --json); exit 2. */
function reportUsageError(e: UsageError, command: string | undefined, json: boolean): number {
  const hint = command ? `sqlite-backup ${command} --help` : 'sqlite-backup --help';
  stderr.write(`sqlite-backup: ${e.message}\n  hint: run "${hint}" for usage\n`);
  if (json) stdout.write(`${JSON.stringify({ command: command ?? null, ok: false, error: { code: 'EUSAGE', message: e.message } })}\n`);
  return 2;
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  let parsed: Parsed | { exit: number };
  try {
    parsed = parseCommandLine(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return reportUsageError(e, e.command, json);
  }
  if ('exit' in parsed) return parsed.exit;
  const { command, values, args } = parsed;
  const timestamps = values['no-timestamps'] === true ? false : values.timestamps === true ? true : undefined;
  const mode: OutputMode = { json: values.json === true, quiet: values.quiet === true, verbose: values.verbose === true, timestamps };
  const out = new Output({ stdout, stderr, env: process.env }, mode);
  const daemon = command === 'backup' && values.every !== undefined;

  const controller = new AbortController();
  let interrupted = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = signal === 'SIGINT' ? 130 : 143;
    out.endProgress();
    out.note(`sqlite-backup: ${signal}: stopping and cleaning up`);
    controller.abort(new Error(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const code = await COMMANDS[command]!.run(values, args, { signal: controller.signal, out });
    return interrupted && !daemon ? interrupted : code;
  } catch (e) {
    if (interrupted) return daemon ? 0 : interrupted;
    if (e instanceof UsageError) return reportUsageError(e, command, mode.json);
    out.error(command, e);
    return e instanceof BackupError && e.code === ErrorCode.CONFIG ? 2 : 1;
  } finally {
    out.endProgress();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // A bug, not an operation failure: show everything.
    stderr.write(`sqlite-backup: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
