/**
 * The CLI's commands: each parses its own arguments (node:util parseArgs, strict), calls src/api, and
 * prints what it did. Usage mistakes throw UsageError (exit 2); config problems are ECONFIG (exit 2);
 * everything else that fails is the operation failing (exit 1).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolve } from 'node:path';
import { backup, type BackupProgress } from '../api/backup.js';
import { CONFIG_DEFAULTS, loadConfig, type Config } from '../api/config.js';
import { listBackups } from '../api/listing.js';
import { pull } from '../api/pull.js';
import { restore } from '../api/restore.js';
import { prune } from '../api/retention.js';
import { verify } from '../api/verify.js';
import type { IntegrityMode } from '../engine/index.js';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface CommandContext {
  signal: AbortSignal;
  out: (line: string) => void;
  /** Progress and notes: stderr, so stdout stays the result. */
  err: (line: string) => void;
}

type Options = NonNullable<ParseArgsConfig['options']>;

function parse(command: string, argv: string[], options: Options, positionals: string[]) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message}`);
  }
  if (parsed.positionals.length !== positionals.length) {
    const want = positionals.map((p) => `<${p}>`).join(' ');
    throw new UsageError(`${command}: expected ${want || 'no arguments'}, got ${parsed.positionals.length} argument(s)`);
  }
  return { values: parsed.values as Record<string, string | boolean | undefined>, args: parsed.positionals };
}

async function optionalConfig(path: string | boolean | undefined): Promise<Config | undefined> {
  return typeof path === 'string' ? loadConfig(path) : undefined;
}

function integrityMode(values: Record<string, unknown>, config: Config | undefined): IntegrityMode {
  return values.quick ? 'quick' : (config?.verify ?? CONFIG_DEFAULTS.verify);
}

function mib(bytes: number): string {
  return bytes < 1024 * 1024 ? `${bytes} bytes` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Progress lines on stderr, at most one per `intervalMs` (progress_log_interval, as in the Go job). */
function progressPrinter(intervalMs: number, ctx: CommandContext): ((p: BackupProgress) => void) | undefined {
  if (intervalMs <= 0) return undefined;
  const started = Date.now();
  let last = started;
  return (p) => {
    const now = Date.now();
    if (now - last < intervalMs) return;
    last = now;
    const pct = p.bytesDone !== undefined && p.bytesTotal ? ` ${Math.min(100, Math.round((100 * p.bytesDone) / p.bytesTotal))}%` : '';
    const bytes = p.bytesDone !== undefined && p.bytesTotal ? ` (${mib(p.bytesDone)} of ${mib(p.bytesTotal)})` : '';
    ctx.err(`[${((now - started) / 1000).toFixed(1)}s] ${p.phase}${pct}${bytes}`);
  };
}

export async function backupCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { values } = parse('backup', argv, { config: { type: 'string', short: 'c' } }, []);
  if (typeof values.config !== 'string') throw new UsageError('backup: --config <file> is required');
  const config = await loadConfig(values.config);
  const r = await backup(config, { signal: ctx.signal, onProgress: progressPrinter(config.progressLogIntervalMs, ctx) });
  ctx.out(`published ${r.path}`);
  ctx.out(`  ${r.strategy} snapshot ${mib(r.dbBytes)} -> gzip ${mib(r.gzBytes)}, ${r.integrity} integrity check ok, sha256 ${r.sha256}`);
  if (r.copyAttempts > 1) ctx.out(`  the source was busy: ${r.copyAttempts} copies until one was consistent`);
  if (r.pruned.length > 0) ctx.out(`  retention removed ${r.pruned.length}: ${r.pruned.join(', ')}`);
  ctx.out(`  took ${r.timings.totalMs} ms`);
  return 0;
}

export async function verifyCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, args } = parse('verify', argv, { quick: { type: 'boolean' }, config: { type: 'string', short: 'c' } }, ['file']);
  const config = await optionalConfig(values.config);
  const r = await verify(args[0]!, { mode: integrityMode(values, config), signal: ctx.signal });
  const checksum = r.checksum === 'ok' ? ', sha256 sidecar ok' : r.checksum === 'absent' ? ', no sidecar' : '';
  if (r.ok) ctx.out(`ok: ${args[0]} (${r.compressed ? 'gzip, ' : ''}${r.pageCount} pages${checksum})`);
  else ctx.out(`NOT OK: ${args[0]}\n${r.messages.map((m) => `  ${m}`).join('\n')}`);
  return r.ok ? 0 : 1;
}

export async function restoreCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, args } = parse(
    'restore',
    argv,
    { force: { type: 'boolean' }, quick: { type: 'boolean' }, config: { type: 'string', short: 'c' } },
    ['backup', 'target'],
  );
  const config = await optionalConfig(values.config);
  const r = await restore(args[0]!, args[1]!, { force: values.force === true, mode: integrityMode(values, config), signal: ctx.signal });
  ctx.out(`restored ${args[0]} -> ${r.target} (${mib(r.bytes)}, integrity ok${r.checksum === 'ok' ? ', sha256 ok' : ''})`);
  for (const p of r.movedAside) ctx.out(`  kept the previous file as ${p}`);
  for (const p of r.removed) ctx.out(`  removed stale ${p}`);
  return 0;
}

export async function listCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, args } = parse('list', argv, { db: { type: 'string' }, json: { type: 'boolean' } }, ['dir']);
  const entries = await listBackups(resolve(args[0]!), typeof values.db === 'string' ? { dbName: values.db } : {});
  if (values.json) {
    ctx.out(JSON.stringify(entries, null, 2));
    return 0;
  }
  if (entries.length === 0) ctx.out(`no backups in ${args[0]}`);
  for (const e of entries) {
    const flags = [e.isLatest ? 'latest' : '', e.hasChecksum ? 'sha256' : 'no sidecar', e.layout === 'ours' ? '' : e.layout].filter(Boolean);
    ctx.out(`${e.time.toISOString()}  ${mib(e.size).padStart(12)}  ${e.name}  (${flags.join(', ')})`);
  }
  return 0;
}

export async function pruneCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, args } = parse(
    'prune',
    argv,
    {
      'dry-run': { type: 'boolean' },
      db: { type: 'string' },
      'keep-last': { type: 'string' },
      'keep-daily': { type: 'string' },
      'keep-weekly': { type: 'string' },
      config: { type: 'string', short: 'c' },
    },
    ['dir'],
  );
  const config = await optionalConfig(values.config);
  const count = (flag: string, fallback: number): number => {
    const v = values[flag];
    if (v === undefined) return fallback;
    if (typeof v !== 'string' || !/^\d+$/.test(v)) throw new UsageError(`prune: --${flag} expects a whole number >= 0, got "${v}"`);
    return Number(v);
  };
  const policy = {
    keepLast: count('keep-last', config?.keepLast ?? CONFIG_DEFAULTS.keepLast),
    keepDaily: count('keep-daily', config?.keepDaily ?? CONFIG_DEFAULTS.keepDaily),
    keepWeekly: count('keep-weekly', config?.keepWeekly ?? CONFIG_DEFAULTS.keepWeekly),
  };
  const dryRun = values['dry-run'] === true;
  const r = await prune(resolve(args[0]!), policy, { dryRun, ...(typeof values.db === 'string' ? { dbName: values.db } : {}) });
  const verb = dryRun ? 'would remove' : 'removed';
  ctx.out(`${verb} ${r.removed.length}, kept ${r.kept.length} (keep_last=${policy.keepLast}, keep_daily=${policy.keepDaily}, keep_weekly=${policy.keepWeekly})`);
  for (const name of r.removed) ctx.out(`  ${verb} ${name}`);
  return 0;
}

export async function pullCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { values } = parse(
    'pull',
    argv,
    { config: { type: 'string', short: 'c' }, 'restore-to': { type: 'string' }, 'insecure-skip-host-key-check': { type: 'boolean' } },
    [],
  );
  if (typeof values.config !== 'string') throw new UsageError('pull: --config <file> is required');
  const config = await loadConfig(values.config);
  const restoreTo = typeof values['restore-to'] === 'string' ? resolve(values['restore-to']) : undefined;
  const insecure = values['insecure-skip-host-key-check'] === true;
  const r = await pull(config, {
    signal: ctx.signal,
    ...(restoreTo ? { restoreTo } : {}),
    ...(insecure ? { insecureSkipHostKeyCheck: true, warn: (m: string) => ctx.err(`WARNING: ${m}`) } : {}),
  });
  if (r.status === 'up-to-date') ctx.out(`up to date: ${r.path} is already the latest verified backup`);
  else {
    const sidecar = r.remoteChecksum === 'ok' ? 'sha256 matches the server\'s sidecar' : 'no sidecar on the server';
    const resumed = r.resumedFrom > 0 ? `, resumed at ${mib(r.resumedFrom)}` : '';
    ctx.out(`pulled ${r.path} (${mib(r.bytes)}${resumed}): ${sidecar}, gzip ok, integrity_check ok`);
  }
  if (r.restoredTo) ctx.out(`restored it to ${r.restoredTo}`);
  if (r.pruned.length > 0) ctx.out(`  retention removed ${r.pruned.length}: ${r.pruned.join(', ')}`);
  return 0;
}
