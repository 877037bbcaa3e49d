/**
 * The CLI's commands, thin over src/api: each declares its options and positionals (main.ts parses
 * them with node:util parseArgs, strict) and reports through Output, so --json / --quiet / progress
 * behave the same everywhere. Usage mistakes throw UsageError (exit 2); config problems are ECONFIG
 * (exit 2); everything else that fails is the operation failing (exit 1).
 */
import { realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import { backup, type BackupResult } from '../api/backup.js';
import { backupEntries, type EntryOutcome } from '../api/backup-entries.js';
import { PushError, type PushOutcome } from '../api/push.js';
import { latestProblemOf, listStore } from '../store/listing.js';
import { linkedBackups, pruneStore } from '../store/prune.js';
import { parseBackupName, sanitizeDbName } from '../format/naming.js';
import { verifyInStore } from '../api/verify-store.js';
import { isRemoteStoreUrl, openStoreArg, STORE_OPTIONS } from './store-arg.js';
import { CONFIG_DEFAULTS, loadConfig, parseConfig, type BackupEntryConfig, type Config, type VerifyMode } from '../config/config.js';
import { loadAppConfig } from '../config/app-config.js';
import { AGE_IDENTITY_ENV, ageIdentityPath, loadAgeIdentities, type AgeIdentities } from '../crypto/age-identity.js';
import { humanDuration, parseDuration } from '../config/duration.js';
import { pull } from '../api/pull.js';
import { BEFORE_RESTORE_MARKER, restore } from '../api/restore.js';
import { describeRetention, prune, resolveRetention, retentionOf, type FullRetentionPolicy, type RetentionField, type WrittenRetention } from '../api/retention.js';
import { verify } from '../api/verify.js';
import { status, type StatusResult } from '../api/status.js';
import { BackupError, ErrorCode, isBackupError } from '../errors.js';
import { LocalTransport } from '../transport/local/local.js';
import { DEFAULT_CONFIG_FILE } from './help.js';
import { writeConfigTemplate } from './init-template.js';
import { cliMessage, mib, type Output } from './output.js';
import { defaultJitterMs, runEvery } from './scheduler.js';

export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose usage was wrong, for the "--help" hint. */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface CommandContext {
  signal: AbortSignal;
  out: Output;
}

export type Values = Record<string, string | boolean | undefined>;
export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface Command {
  options: OptionSpec;
  /** Positional names; a trailing `?` marks an optional one. */
  positionals: string[];
  /** Resolves to the exit code. */
  run(values: Values, args: string[], ctx: CommandContext): Promise<number>;
}

const CONFIG_OPTION: OptionSpec = {
  config: { type: 'string', short: 'c' },
  'app-config': { type: 'string' },
  'age-identity': { type: 'string' },
};

/** Names the config file when --config is not given (before ./sqlite-backup.toml). */
export const CONFIG_ENV = 'SQLITE_BACKUP_CONFIG';

function str(values: Values, key: string): string | undefined {
  const v = values[key];
  return typeof v === 'string' ? v : undefined;
}

/** The config file named by SQLITE_BACKUP_CONFIG, if set (an empty value counts as unset). */
function envConfigFile(): string | undefined {
  const v = process.env[CONFIG_ENV];
  return v === undefined || v === '' ? undefined : v;
}

/**
 * --app-config <db> [--age-identity <file>]: the config from a restinpieces database, or undefined
 * when not asked for. Mixing it with --config, or an identity without a database, is a usage error.
 */
async function appConfig(values: Values, out: Output | undefined): Promise<Config | undefined> {
  const db = str(values, 'app-config');
  const identityOption = str(values, 'age-identity');
  if (db === undefined) return undefined;
  if (str(values, 'config') !== undefined) throw new UsageError('give --config <file> or --app-config <database>, not both');
  const identity = ageIdentityPath(identityOption);
  if (identity === undefined) {
    throw new UsageError(`--app-config needs the age identity that decrypts it: --age-identity <key file> or ${AGE_IDENTITY_ENV}=<key file>`);
  }
  return loadAppConfig(db, { identity, warn: out && ((m: string) => out.warn(m)) });
}

/**
 * verify, restore, pull, status: the age identities that decrypt encrypted backups: --age-identity,
 * else $SQLITE_BACKUP_AGE_IDENTITY, else the config's [pull] age_identity; undefined when none is
 * given (the caller decides whether an encrypted backup then is an error). A file that cannot be
 * used is ECONFIG (exit 2); loose permissions are a warning.
 */
export async function backupIdentities(values: Values, config: Config | undefined, out: Output | undefined): Promise<AgeIdentities | undefined> {
  const path = ageIdentityPath(str(values, 'age-identity')) ?? config?.pull?.ageIdentity;
  if (path === undefined) return undefined;
  return loadAgeIdentities(path, { warn: out && ((m: string) => out.warn(m)) });
}

/** Commands that do not decrypt backups take --age-identity only to read an --app-config. */
function identityOnlyWithAppConfig(values: Values, command: string): void {
  if (str(values, 'age-identity') !== undefined && str(values, 'app-config') === undefined) {
    throw new UsageError(`${command}: --age-identity goes with --app-config <restinpieces database> (${command} never decrypts a backup)`, command);
  }
}

/** backup, pull, status: --app-config, else --config, else $SQLITE_BACKUP_CONFIG, else ./sqlite-backup.toml. */
async function requiredConfig(values: Values, out?: Output): Promise<Config> {
  return (await appConfig(values, out)) ?? loadConfig(str(values, 'config') ?? envConfigFile() ?? DEFAULT_CONFIG_FILE);
}

/** verify and restore: only an explicit --config / --app-config. */
async function optionalConfig(values: Values, out?: Output): Promise<Config | undefined> {
  const fromDb = await appConfig(values, out);
  if (fromDb) return fromDb;
  const path = str(values, 'config');
  return path === undefined ? undefined : loadConfig(path);
}

function integrityMode(values: Values, config: Config | undefined): VerifyMode {
  return values.quick ? 'quick' : (config?.verify ?? CONFIG_DEFAULTS.verify);
}

/** list and prune: the directory argument, else backup_dir of --config. */
function directory(command: string, args: string[], config: Config | undefined): string {
  const dir = args[0] ?? config?.backupDir;
  if (dir === undefined) throw new UsageError(`${command}: give a directory, or --config <file> with backup_dir`);
  return resolve(dir);
}

function durationFlag(command: string, flag: string, text: string, { zeroOk = false } = {}): number {
  try {
    const ms = text === '0' ? 0 : parseDuration(text);
    if (ms > 0 || (zeroOk && ms === 0)) return ms;
  } catch {
    // reported below
  }
  const what = zeroOk ? 'a duration such as "0", "30s" or "5m"' : 'a duration longer than 0 such as "30m", "6h", "1h30m" or "1d"';
  throw new UsageError(`${command}: --${flag} expects ${what}, got "${text}"`);
}

const init: Command = {
  options: {},
  positionals: ['file?'],
  async run(_values, args, { out }) {
    const path = resolve(args[0] ?? DEFAULT_CONFIG_FILE);
    await writeConfigTemplate(path);
    out.result('init', true, { path }, [
      `wrote ${path} (mode 0600)`,
      `  set source_path and backup_dir in it, then: sqlite-backup backup --config ${args[0] ?? DEFAULT_CONFIG_FILE}`,
    ]);
    return 0;
  },
};

function backupLines(r: BackupResult): string[] {
  const lines = [
    `published ${r.path}`,
    r.encrypted
      ? `  ${r.strategy} snapshot ${mib(r.dbBytes)} -> gzip, encrypted (age, ${r.recipients} recipient${r.recipients === 1 ? '' : 's'}) ${mib(r.gzBytes)}, ${r.integrity} integrity check ok, sha256 ${r.sha256}`
      : r.compressed
      ? `  ${r.strategy} snapshot ${mib(r.dbBytes)} -> gzip ${mib(r.gzBytes)}, ${r.integrity} integrity check ok, sha256 ${r.sha256}`
      : `  ${r.strategy} snapshot ${mib(r.dbBytes)}, uncompressed, ${r.integrity} integrity check ok, sha256 ${r.sha256}`,
  ];
  if (r.latestLink !== undefined) lines.push(`  ${r.latestLink} -> ${r.name}`);
  if (r.copyAttempts > 1) lines.push(`  the source was busy: ${r.copyAttempts} copies until one was consistent`);
  if (r.pruned.length > 0) lines.push(`  retention removed ${r.pruned.length}: ${r.pruned.join(', ')}`);
  for (const p of r.push) lines.push(...pushLines(p));
  lines.push(`  took ${humanDuration(r.timings.totalMs)}`);
  return lines;
}

function pushLines(p: PushOutcome): string[] {
  if (!p.ok) return [`  push to ${p.url} FAILED (${p.error!.kind}): ${p.error!.message}`];
  const lines = [`  pushed to ${p.url} (${mib(p.bytes)}, ${humanDuration(p.durationMs)})`];
  if (p.pruned.length > 0) lines.push(`    retention there removed ${p.pruned.length}: ${p.pruned.join(', ')}`);
  return lines;
}

/**
 * backup's config: `backup <db> <dir>` backs up one database with every default and no config
 * (like `sqlite3 db ".backup"`); otherwise the config as for every command (requiredConfig).
 */
async function backupConfig(values: Values, args: string[], out: Output): Promise<Config> {
  identityOnlyWithAppConfig(values, 'backup');
  if (args.length === 0) return requiredConfig(values, out);
  if (args.length === 1) throw new UsageError('backup: give both <db> and <dir> (sqlite-backup backup app.db backups/), or neither to use a config', 'backup');
  if (str(values, 'config') !== undefined || str(values, 'app-config') !== undefined) {
    throw new UsageError('backup: <db> <dir> backs up without a config: give either them or --config/--app-config, not both', 'backup');
  }
  return { ...parseConfig(''), sourcePath: resolve(args[0]!), backupDir: resolve(args[1]!) };
}

/** One result per entry of a restinpieces-backup shaped config; false when any entry failed. */
async function backupEntriesOnce(config: Config, signal: AbortSignal, out: Output): Promise<boolean> {
  const report = (o: EntryOutcome): void => {
    out.endProgress();
    const { result, error, ...about } = o;
    const head = `[${o.strategy}.${o.label}]`;
    if (o.status === 'published') {
      const lines = backupLines(result!);
      out.result('backup', true, { ...about, ...result }, [`${head} ${lines[0]}`, ...lines.slice(1)]);
    } else if (o.status === 'not-due') {
      const when = o.dueAt ? `; due at ${o.dueAt.toISOString().replace(/\.\d{3}Z$/, 'Z')}` : '';
      out.result('backup', true, about, [`${head} not due: the newest backup ${o.newest ?? ''} is younger than its frequency${when}`]);
    } else {
      const e = error as Partial<BackupError> & Error;
      const info = { code: e instanceof BackupError ? e.code : 'EINTERNAL', message: cliMessage(e), path: e.path || undefined };
      out.result('backup', false, { ...about, error: info }, [`${head} FAILED: ${o.sourcePath} was not backed up`]);
      out.error('backup', e, { json: false });
    }
  };
  const outcomes = await backupEntries(config, { signal, onProgress: out.progress, onEntry: report });
  return outcomes.every((o) => o.status !== 'failed');
}

const backupCommand: Command = {
  options: { ...CONFIG_OPTION, every: { type: 'string' }, jitter: { type: 'string' } },
  positionals: ['db?', 'dir?'],
  async run(values, args, ctx) {
    const { out } = ctx;
    const config = (): Promise<Config> => backupConfig(values, args, out);
    const every = str(values, 'every');
    const jitter = str(values, 'jitter');
    if (jitter !== undefined && every === undefined) throw new UsageError('backup: --jitter needs --every');
    /** One run; false when the backup was published locally but a destination failed (reported here). */
    const once = async (signal: AbortSignal): Promise<boolean> => {
      // Read on every run, like the job handler: an edited config applies to the next scheduled run.
      const c = await config();
      out.setProgressInterval(c.progressLogIntervalMs);
      if (c.entries) return backupEntriesOnce(c, signal, out);
      try {
        const r = await backup(c, { signal, onProgress: out.progress });
        out.endProgress();
        out.result('backup', true, r, backupLines(r));
        return true;
      } catch (e) {
        if (!(e instanceof PushError)) throw e;
        out.endProgress();
        const r = e.result as BackupResult;
        out.result('backup', false, { ...r, error: { code: e.code, message: e.message } }, backupLines(r));
        out.error('backup', e, { json: false });
        return false;
      }
    };
    if (every === undefined) return (await once(ctx.signal)) ? 0 : 1;
    const intervalMs = durationFlag('backup', 'every', every);
    const jitterMs = jitter === undefined ? defaultJitterMs(intervalMs) : durationFlag('backup', 'jitter', jitter, { zeroOk: true });
    if (jitterMs > intervalMs) {
      throw new UsageError(`backup: --jitter ${jitter} is longer than --every ${every}: a start could slip past the next one; use a jitter of at most the interval`);
    }
    // A wrong config is a usage problem to report now, not at every scheduled run.
    await config();
    out.note(`backing up every ${humanDuration(intervalMs)} (each start up to ${humanDuration(jitterMs)} late, at random); Ctrl-C or SIGTERM stops`);
    await runEvery(async (signal) => void (await once(signal)), {
      intervalMs,
      jitterMs,
      signal: ctx.signal,
      onSkip: (s) => out.note(`the last backup took ${humanDuration(s.lastRunMs)}: ${s.skipped} scheduled run(s) skipped, never two at once`),
      // A failed run is reported; the schedule goes on (a transient failure must not end the daemon).
      onError: (e) => out.error('backup', e),
    });
    out.note('stopped');
    return 0;
  },
};

const pullCommand: Command = {
  options: {
    ...CONFIG_OPTION,
    'restore-to': { type: 'string' },
    'keep-before-restore': { type: 'string' },
    'insecure-skip-host-key-check': { type: 'boolean' },
  },
  positionals: [],
  async run(values, _args, { signal, out }) {
    const config = await requiredConfig(values, out);
    out.setProgressInterval(config.progressLogIntervalMs);
    const restoreTo = str(values, 'restore-to');
    const keep = str(values, 'keep-before-restore');
    if (keep !== undefined && !/^\d+$/.test(keep)) throw new UsageError(`pull: --keep-before-restore expects a whole number >= 0, got "${keep}"`, 'pull');
    const insecure = values['insecure-skip-host-key-check'] === true;
    const ageIdentity = await backupIdentities(values, config, out);
    const r = await pull(config, {
      ageIdentity,
      signal,
      onProgress: out.progress,
      restoreTo: restoreTo ? resolve(restoreTo) : undefined,
      keepBeforeRestore: keep === undefined ? undefined : Number(keep),
      // Always shown, --quiet or not: the host key check is off.
      warn: (m: string) => out.warn(m),
      insecureSkipHostKeyCheck: insecure,
    });
    out.endProgress();
    const lines: string[] = [];
    if (r.status === 'up-to-date') lines.push(`up to date: ${r.path} is already the latest verified backup`);
    else {
      const sidecar = r.remoteChecksum === 'ok' ? "sha256 matches the server's sidecar" : 'no sidecar on the server';
      const resumed = r.resumedFrom > 0 ? `, resumed at ${mib(r.resumedFrom)}` : '';
      const content = r.plain ? 'plain snapshot' : r.encrypted ? `age decrypted with ${r.encrypted.identity} (kept encrypted), gzip ok` : 'gzip ok';
      lines.push(`pulled ${r.path} (${mib(r.bytes)}${resumed}): ${sidecar}, ${content}, integrity_check ok`);
    }
    if (r.restoredTo) lines.push(`restored it to ${r.restoredTo}`);
    for (const p of r.restore?.movedAside ?? []) lines.push(`  kept the previous file as ${p}`);
    for (const p of r.restore?.removed ?? []) lines.push(`  removed ${p.includes(BEFORE_RESTORE_MARKER) ? 'older copy' : 'stale'} ${p}`);
    for (const w of r.restore?.warnings ?? []) out.warn(w);
    if (r.pruned.length > 0) lines.push(`  retention removed ${r.pruned.length}: ${r.pruned.join(', ')}`);
    out.result('pull', true, r, lines);
    return 0;
  },
};

const verifyCommand: Command = {
  options: { ...CONFIG_OPTION, ...STORE_OPTIONS, quick: { type: 'boolean' }, db: { type: 'string' } },
  positionals: ['file'],
  async run(values, args, { signal, out }) {
    const config = await optionalConfig(values, out);
    let file = args[0]!;
    const mode = integrityMode(values, config);
    const identities = await backupIdentities(values, config, out);
    let r;
    const db = str(values, 'db');
    if (isRemoteStoreUrl(file)) {
      // s3://bucket/prefix verifies the latest backup there; s3://bucket/prefix/<backup name> that one.
      const last = file.replace(/\/+$/, '').split('/').pop()!;
      const name = parseBackupName(last) ? last : undefined;
      const storeUrl = name ? file.replace(/\/+$/, '').slice(0, -(last.length + 1)) : file;
      const transport = await openStoreArg(storeUrl, values, config);
      try {
        r = await verifyInStore(transport, name, { mode, signal, onProgress: out.progress, ageIdentity: identities, dbName: db });
      } finally {
        await transport.close();
      }
      file = r.location;
    } else {
      r = await verify(file, { mode, signal, onProgress: out.progress, ageIdentity: identities, dbName: db });
    }
    out.endProgress();
    const checksum = r.checksum === 'ok' ? ', sha256 sidecar ok' : r.checksum === 'absent' ? ', no sidecar' : '';
    if (r.chosenBy) file = r.path;
    const lines = [
      ...chosenLine(r.chosenBy, r.path),
      ...(!r.ok
        ? [`NOT OK: ${file}`, ...r.messages.map((m) => `  ${m}`)]
        : r.contentChecked
          ? [`ok: ${file} (${r.encrypted ? 'age-encrypted, ' : ''}${r.compressed ? 'gzip, ' : ''}${r.pageCount} pages${checksum})`]
          : [`ok: ${file} (age-encrypted${checksum}); content NOT checked: ${CONTENT_NOT_CHECKED}`]),
    ];
    out.result('verify', r.ok, r, lines);
    return r.ok ? 0 : 1;
  },
};

/** What verify of an encrypted backup without an identity could not do, and how to make it. */
const CONTENT_NOT_CHECKED = `it is encrypted and no age identity was given to decrypt it; pass --age-identity <file> (or set ${AGE_IDENTITY_ENV}) to check the database inside`;

const restoreCommand: Command = {
  options: { ...CONFIG_OPTION, force: { type: 'boolean' }, quick: { type: 'boolean' }, 'keep-before-restore': { type: 'string' }, db: { type: 'string' } },
  positionals: ['backup', 'target'],
  async run(values, args, { signal, out }) {
    const config = await optionalConfig(values, out);
    const keep = str(values, 'keep-before-restore');
    if (keep !== undefined && !/^\d+$/.test(keep)) throw new UsageError(`restore: --keep-before-restore expects a whole number >= 0, got "${keep}"`, 'restore');
    const db = str(values, 'db');
    const identities = await backupIdentities(values, config, out);
    const r = await restore(args[0]!, args[1]!, {
      force: values.force === true,
      ageIdentity: identities,
      dbName: db,
      mode: integrityMode(values, config),
      signal,
      onProgress: out.progress,
      keepBeforeRestore: keep === undefined ? undefined : Number(keep),
    });
    out.endProgress();
    for (const w of r.warnings) out.warn(w);
    out.result('restore', true, r, [
      ...chosenLine(r.chosenBy, r.backup),
      `restored ${r.chosenBy ? r.backup : args[0]} -> ${r.target} (${mib(r.bytes)}, ${r.encrypted ? 'decrypted, ' : ''}integrity ok${r.checksum === 'ok' ? ', sha256 ok' : ''})`,
      ...r.movedAside.map((p) => `  kept the previous file as ${p}`),
      ...r.removed.map((p) => `  removed ${p.includes(BEFORE_RESTORE_MARKER) ? 'older copy' : 'stale'} ${p}`),
    ]);
    return 0;
  },
};

/**
 * list and prune: --app-config or --config, else $SQLITE_BACKUP_CONFIG, else ./sqlite-backup.toml when
 * there is one (the file backup reads), else none. A default file that exists but is broken is an error, as for backup: prune's policy comes from it.
 */
async function listOrPruneConfig(command: 'list' | 'prune', values: Values, out?: Output): Promise<Config | undefined> {
  identityOnlyWithAppConfig(values, command);
  const fromDb = await appConfig(values, out);
  if (fromDb) return fromDb;
  const path = str(values, 'config') ?? envConfigFile();
  if (path !== undefined) return loadConfig(path);
  try {
    return await loadConfig(DEFAULT_CONFIG_FILE);
  } catch (e) {
    if (isBackupError(e, ErrorCode.CONFIG) && e.errno === 'ENOENT') return undefined;
    throw e;
  }
}

/** Two local paths name the same directory (symlinks resolved when they exist). */
function sameDir(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  return resolve(a) === resolve(b) || real(a) === real(b);
}

/** For restore/verify of a directory: which backup was taken, and why. */
function chosenLine(chosenBy: 'latest.txt' | 'newest' | undefined, file: string): string[] {
  if (chosenBy === 'latest.txt') return [`using ${file} (named by latest.txt)`];
  if (chosenBy === 'newest') return [`using ${file} (no usable latest.txt: the newest backup by name)`];
  return [];
}

const listCommand: Command = {
  options: { ...CONFIG_OPTION, ...STORE_OPTIONS, db: { type: 'string' } },
  positionals: ['dir?'],
  async run(values, args, { out, signal }) {
    const config = await listOrPruneConfig('list', values, out);
    const db = str(values, 'db');
    const entries = args[0] === undefined ? configEntries(config, db) : undefined;
    if (entries) {
      // A many-entry config and no directory: each entry's backups in its dest_path, one result each.
      for (const e of entries) await listDir(values, config, e.destPath, { dbName: e.dbName }, false, out, signal, entryAbout(e));
      return 0;
    }
    const filter = db !== undefined ? { dbName: db } : {};
    const remote = args[0] !== undefined && isRemoteStoreUrl(args[0]);
    const dir = remote ? args[0]! : directory('list', args, config);
    await listDir(values, config, dir, filter, remote, out, signal, {});
    return 0;
  },
};

/** The `[strategy.label]` an entry's results carry, and the head of its human lines. */
function entryAbout(e: BackupEntryConfig): { entry: string; label: string; strategy: string; dbName: string; destPath: string } {
  return { entry: `[${e.strategy}.${e.label}]`, label: e.label, strategy: e.strategy, dbName: e.dbName, destPath: e.destPath };
}

/**
 * The entries of a many-entry config (the restinpieces-backup shape) that list/prune/status with no
 * directory work through, narrowed by --db; undefined for a single-database config or none.
 */
function configEntries(config: Config | undefined, db: string | undefined): BackupEntryConfig[] | undefined {
  if (!config?.entries) return undefined;
  const entries = config.entries.filter((e) => db === undefined || e.dbName === db);
  if (entries.length === 0) {
    throw new UsageError(`--db ${db}: no entry of ${config.configPath ?? 'the config'} has that database (${config.entries.map((e) => e.dbName).join(', ')})`);
  }
  return entries;
}

async function listDir(
  values: Values,
  config: Config | undefined,
  dir: string,
  filter: { dbName?: string },
  remote: boolean,
  out: Output,
  signal: AbortSignal,
  about: Partial<ReturnType<typeof entryAbout>>,
): Promise<void> {
  const transport = remote ? await openStoreArg(dir, values, config) : new LocalTransport(dir);
  let listing;
  let linked: Set<string>;
  try {
    listing = await listStore(transport, { ...filter, signal });
    // The snapshots a restinpieces-backup latest-* link points to: what prune always keeps.
    linked = await linkedBackups(transport, listing);
  } finally {
    await transport.close();
  }
  const linkOf = (e: { name: string; dbName: string | undefined }) => (linked.has(e.name) && e.dbName !== undefined ? listing.latestLinks.get(e.dbName) : undefined);
  const backups = listing.backups.map((e) => {
    const link = linkOf(e);
    return { ...e, path: remote ? undefined : join(dir, e.name), latestLink: link };
  });
  // The same judgement and message as prune's refusal; the listing itself is still shown.
  const latestProblem = latestProblemOf(listing);
  if (latestProblem) out.warn(latestProblem.message);
  const head = about.entry !== undefined ? `${about.entry} ` : '';
  const lines = backups.length === 0 ? [`${head}no backups in ${dir}${about.dbName !== undefined ? ` of "${about.dbName}"` : ''}`] : about.entry !== undefined ? [`${about.entry} ${dir}`] : [];
  for (const e of backups) {
    const flags = [e.isLatest ? 'latest' : '', e.latestLink !== undefined ? `= ${e.latestLink}` : '', e.hasChecksum ? 'sha256' : 'no sidecar', e.layout === 'ours' ? '' : e.layout].filter(Boolean);
    lines.push(`${e.time.toISOString()}  ${mib(e.size).padStart(12)}  ${e.name}  (${flags.join(', ')})`);
  }
  const problem = latestProblem && { code: latestProblem.code, message: cliMessage(latestProblem.message), path: latestProblem.path || undefined };
  out.result('list', true, { ...about, dir, backups, latestProblem: problem || undefined }, lines);
}

const RETENTION_FLAGS = {
  'keep-last': 'keepLast',
  'keep-hourly': 'keepHourly',
  'keep-daily': 'keepDaily',
  'keep-weekly': 'keepWeekly',
  'keep-monthly': 'keepMonthly',
  'keep-yearly': 'keepYearly',
} as const satisfies Record<string, RetentionField>;

/**
 * prune's policy (resolveRetention 'prune'): the flags, each missing one taken from the policy the
 * config applies to that place - backup_dir or pull.local_dir (the top level's keys), a [[push]]
 * url (that entry's) - or, for a place no config covers, from backup's defaults. Neither a flag
 * nor a config for the place: a usage error, nothing is removed. Without flags, the config's
 * backup_dir or [[push]] store is pruned for the config's database only, as backup's own prune is.
 */
function retentionFlags(values: Values): WrittenRetention {
  const flags: WrittenRetention = {};
  for (const [flag, field] of Object.entries(RETENTION_FLAGS)) {
    const v = str(values, flag);
    if (v === undefined) continue;
    if (!/^\d+$/.test(v)) throw new UsageError(`prune: --${flag} expects a whole number >= 0, got "${v}"`);
    flags[field] = Number(v);
  }
  return flags;
}

function prunePolicy(values: Values, config: Config | undefined, place: string, remote: boolean): { policy: FullRetentionPolicy; dbName?: string; from: string } {
  const flags = retentionFlags(values);
  let inherited: FullRetentionPolicy | undefined;
  let dbName: string | undefined;
  let from = 'flags';
  const configName = config?.configPath ?? DEFAULT_CONFIG_FILE;
  if (config && remote) {
    const entry = config.push?.find((p) => p.url === place);
    if (entry) {
      inherited = retentionOf(entry);
      from = `[[push]] ${entry.url} in ${configName}`;
    }
  } else if (config) {
    if (config.backupDir !== undefined && sameDir(place, config.backupDir)) {
      inherited = retentionOf(config);
      from = `backup_dir of ${configName}`;
    } else if (config.pull?.localDir !== undefined && sameDir(place, config.pull.localDir)) {
      inherited = retentionOf(config);
      from = `pull.local_dir of ${configName}`;
    }
  }
  const anyFlag = Object.keys(flags).length > 0;
  // The config's own policy is its database's, as backup and push prune: without a flag, only that
  // database's backups. Flags are the user's policy for the whole place (--db narrows it).
  if (inherited && !anyFlag && (remote || from.startsWith('backup_dir')) && config?.sourcePath !== undefined) dbName = sanitizeDbName(config.sourcePath);
  const policy = resolveRetention('prune', flags, inherited);
  if (policy === undefined) {
    const why = config
      ? `${configName} covers ${[...new Set([config.backupDir, config.pull?.localDir, ...(config.push ?? []).map((p) => p.url), ...(config.entries ?? []).map((e) => e.destPath)])].filter((p) => p !== undefined).join(', ') || 'no directory'}, not this one`
      : `no --config and no ./${DEFAULT_CONFIG_FILE} here`;
    throw new UsageError(
      `prune: no retention policy for ${place} (${why}); nothing was removed. Pass --keep-last N ` +
        '(and --keep-hourly/--keep-daily/--keep-weekly/--keep-monthly/--keep-yearly N), or --config <file> whose backup_dir it is',
      'prune',
    );
  }
  if (anyFlag) from = inherited ? `flags, then ${from}` : 'flags (others: backup\'s defaults)';
  return { policy, dbName, from };
}

const pruneCommand: Command = {
  options: {
    ...CONFIG_OPTION,
    ...STORE_OPTIONS,
    'dry-run': { type: 'boolean' },
    db: { type: 'string' },
    ...Object.fromEntries(Object.keys(RETENTION_FLAGS).map((flag) => [flag, { type: 'string' as const }])),
  },
  positionals: ['dir?'],
  async run(values, args, { out, signal }) {
    const config = await listOrPruneConfig('prune', values, out);
    const remote = args[0] !== undefined && isRemoteStoreUrl(args[0]) ? args[0] : undefined;
    const dryRun = values['dry-run'] === true;
    // A many-entry config: each entry's own policy (flags over it) on its dest_path, for its database
    // only, as backup prunes after that entry's backup. With a directory, the entries whose dest_path it is.
    const db = str(values, 'db');
    const entries =
      remote !== undefined ? undefined
      : args[0] === undefined ? configEntries(config, db)
      : config?.entries?.filter((e) => sameDir(args[0]!, e.destPath) && (db === undefined || e.dbName === db));
    if (entries && entries.length > 0) {
      const flags = retentionFlags(values);
      const configName = config?.configPath ?? DEFAULT_CONFIG_FILE;
      for (const e of entries) {
        const policy = resolveRetention('prune', flags, retentionOf(e))!;
        const of = `[${e.strategy}.${e.label}] in ${configName}`;
        const from = Object.keys(flags).length > 0 ? `flags, then ${of}` : of;
        await pruneDir(config, e.destPath, undefined, policy, from, e.dbName, dryRun, values, out, signal, entryAbout(e));
      }
      return 0;
    }
    const dir = remote ?? directory('prune', args, config);
    const { policy, dbName, from } = prunePolicy(values, config, dir, remote !== undefined);
    await pruneDir(config, dir, remote, policy, from, db ?? dbName, dryRun, values, out, signal, {});
    return 0;
  },
};

async function pruneDir(
  config: Config | undefined,
  dir: string,
  remote: string | undefined,
  policy: FullRetentionPolicy,
  from: string,
  db: string | undefined,
  dryRun: boolean,
  values: Values,
  out: Output,
  signal: AbortSignal,
  about: Partial<ReturnType<typeof entryAbout>>,
): Promise<void> {
  const pruneOptions = { dryRun, dbName: db };
  let r;
  if (remote !== undefined) {
    const transport = await openStoreArg(remote, values, config);
    try {
      r = await pruneStore(transport, policy, { ...pruneOptions, signal });
    } finally {
      await transport.close();
    }
  } else {
    r = await prune(dir, policy, { ...pruneOptions, signal });
  }
  const verb = dryRun ? 'would remove' : 'removed';
  const adopted = r.adopted ?? [];
  const discarded = r.discarded ?? [];
  out.result(
    'prune',
    true,
    { ...about, dir, dryRun, policy, policyFrom: from, db, removed: r.removed, kept: r.kept, unverified: r.unverified, adopted, discarded },
    [
      `${about.entry !== undefined ? `${about.entry} ${dir}: ` : ''}${verb} ${r.removed.length}, kept ${r.kept.length} (${describeRetention(policy)}; from ${from}${db !== undefined ? `; database ${db}` : ''})`,
      ...r.removed.map((name) => `  ${verb} ${name}`),
      ...adopted.map((name) => `  adopted ${name}: it had no sidecar; it verified, so its sidecar was written`),
      ...discarded.map((name) => `  removed ${name}: it had no sidecar and failed verification (a killed run's)`),
      ...r.unverified.map((name) => `  left ${name}: no sidecar, not yet verified (not counted, not removed${dryRun ? '; a prune without --dry-run verifies it' : ''})`),
    ],
  );
}

const statusCommand: Command = {
  options: { ...CONFIG_OPTION, 'max-age': { type: 'string' }, db: { type: 'string' } },
  positionals: ['dir?'],
  async run(values, args, { out, signal }) {
    if (args[0] !== undefined && isRemoteStoreUrl(args[0])) {
      throw new UsageError(`status: give a local directory (it hashes the newest backup); for a store use "sqlite-backup verify ${args[0]}"`);
    }
    const maxAge = str(values, 'max-age');
    const maxAgeMs = maxAge === undefined ? undefined : durationFlag('status', 'max-age', maxAge);
    const db = str(values, 'db');
    const base = { signal, maxAgeMs, dbName: db };
    // The identity (if any) checks that the newest backup, when encrypted, can be opened with it.
    const withIdentity = async (config: Config | undefined) => {
      const identities = await backupIdentities(values, config, out);
      return { ...base, ageIdentity: identities };
    };
    // No directory: the config's backup_dir (else [pull] local_dir), ./sqlite-backup.toml by default;
    // a many-entry config: every entry's newest backup in its dest_path, not ok when any entry is not.
    if (args[0] === undefined) {
      const config = await requiredConfig(values, out);
      const options = await withIdentity(config);
      const entries = configEntries(config, db);
      if (entries) {
        let ok = true;
        for (const e of entries) {
          const r = await status(e.destPath, { ...options, dbName: e.dbName });
          reportStatus(r, out, entryAbout(e));
          ok &&= r.ok;
        }
        return ok ? 0 : 1;
      }
      return reportStatus(await status(config, options), out, {}) ? 0 : 1;
    }
    return reportStatus(await status(resolve(args[0]), await withIdentity(undefined)), out, {}) ? 0 : 1;
  },
};

/** status's result, lines and stderr problems for one directory (of one entry); true when ok. */
function reportStatus(r: StatusResult, out: Output, about: Partial<ReturnType<typeof entryAbout>>): boolean {
  const lines: string[] = [];
  const n = r.newest;
  if (!n) lines.push(`no backups in ${r.dir}${r.dbName !== undefined ? ` of "${r.dbName}"` : ''}`);
  else {
    const sidecar = n.checksum === 'ok' ? 'sha256 matches its sidecar' : n.checksum === 'absent' ? 'no sidecar' : 'sha256 does NOT match its sidecar';
    lines.push(`newest: ${n.path} (${n.chosenBy === 'latest.txt' ? 'named by latest.txt' : 'newest name; no usable latest.txt'})`);
    lines.push(`  taken ${n.time.toISOString()}, ${n.age} ago; ${mib(n.size)}; ${sidecar}`);
    if (n.encrypted) {
      const opens = n.decryptable === undefined ? 'no identity given to check it opens' : n.decryptable ? 'the age identity opens it' : 'the age identity does NOT open it';
      lines.push(`  encrypted (age); ${opens}`);
    }
    lines.push(`  ${r.count} backup(s) in ${r.dir}`);
    if (r.maxAgeMs !== undefined && !r.problems.some((p) => p.kind === 'too-old')) lines.push(`  within --max-age ${humanDuration(r.maxAgeMs)}`);
  }
  if (about.entry !== undefined) lines[0] = `${about.entry} ${lines[0]}`;
  out.result('status', r.ok, { ...about, ...r }, lines);
  for (const w of r.warnings) out.note(`note: ${w}`);
  // On stderr too, so that `--quiet` (cron mails only what is printed) still says what is wrong.
  for (const p of r.problems) {
    const code = p.kind === 'checksum' ? ErrorCode.CHECKSUM : p.kind === 'decrypt' ? ErrorCode.DECRYPT : ErrorCode.BACKUP_NOT_FOUND;
    out.error('status', new BackupError(code, `${about.entry !== undefined ? `${about.entry} ` : ''}${p.message}`, { path: n?.path ?? r.dir }), { json: false });
  }
  return r.ok;
}

export const COMMANDS: Record<string, Command> = {
  init,
  backup: backupCommand,
  pull: pullCommand,
  verify: verifyCommand,
  restore: restoreCommand,
  list: listCommand,
  prune: pruneCommand,
  status: statusCommand,
};
