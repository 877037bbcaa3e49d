/**
 * The config file: TOML holding the Go version's `db_backup_config` document (`source_path`,
 * `backup_dir`, upstream's `strategy`, `pages_per_step`, `sleep_interval`, `progress_log_interval`)
 * plus our keys (CONFIG_KEYS in config-schema.ts). The document may sit at the top level or inside one
 * table named after the Go scope, `[db_backup_config]` or upstream's later `[sqlite_backup]`.
 *
 * Every problem in a file is reported at once, in one ConfigError, so a user fixes the file in one
 * pass. Each command checks only its own required keys (requireBackupConfig, requirePullConfig): a
 * pull-only machine needs no source_path.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { parse, TomlDate, TomlError } from 'smol-toml';
import { BackupError, ErrorCode, type BackupErrorDetails } from '../errors.js';
import {
  CONFIG_DEFAULTS,
  CONFIG_KEYS,
  ENCRYPTION_KEYS,
  ENTRY_KEYS,
  Invalid,
  SECRET_KEYS,
  SECRET_MESSAGE,
  show,
  type BackupEntryConfig,
  type Config,
  type EncryptionSettings,
  type KeySpec,
  type PullConfig,
  type PullSettings,
  type PushSettings,
  PUSH_KEYS,
} from './config-schema.js';
import { resolveRetention, type WrittenRetention } from './retention-policy.js';
import { ribDbName } from '../format/naming.js';
import { readRecipientsFile } from '../crypto/age-recipients.js';

export { CONFIG_DEFAULTS, CONFIG_KEYS, ENCRYPTION_KEYS, ENTRY_KEYS, PUSH_KEYS } from './config-schema.js';
export type { BackupEntryConfig, Config, EncryptionSettings, KeySpec, PullConfig, PullSettings, PushSettings, Strategy, VerifyMode } from './config-schema.js';
export { formatDuration, parseDuration } from './duration.js';

/** Table names the Go versions stored the document under; a file may wrap it in one of them. */
export const CONFIG_SCOPES = ['db_backup_config', 'sqlite_backup'] as const;

/** One problem of a config document, as ConfigError lists them. */
export interface ConfigProblem {
  /** The key as written in the document, dotted inside [pull] ("pull.port"); "" for the file itself. */
  key: string;
  message: string;
  /** 1-based line in the file, when it could be found. */
  line?: number;
  column?: number;
}

/** ECONFIG with every problem of the file; `problems` lists them for programs. */
export class ConfigError extends BackupError {
  readonly problems: readonly ConfigProblem[];

  constructor(message: string, problems: ConfigProblem[], details: BackupErrorDetails = {}) {
    super(ErrorCode.CONFIG, message, details);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Options of parseConfig. */
export interface ParseConfigOptions {
  /** Relative local paths resolve against this directory. @default process.cwd() */
  baseDir?: string;
  /** Names the document in messages (a file path, "--config-text"...). */
  source?: string;
}

export type BackupConfig = Config & { sourcePath: string; backupDir: string };
export type ConfigWithPull = Config & { pull: PullConfig };

/** Reads and parses a config file; relative paths in it resolve against the file's directory. */
export async function loadConfig(path: string): Promise<Config> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    const what =
      errno === 'ENOENT' ? 'does not exist' : errno === 'EISDIR' ? 'is a directory' : `cannot be read (${errno ?? (e as Error).message})`;
    const message = `config file "${file}" ${what}`;
    throw new ConfigError(message, [{ key: '', message }], { path: file, cause: e, errno });
  }
  return { ...parseDocument(text, dirname(file), file, file), configPath: file };
}

/**
 * Parses config text (see loadConfig); throws a ConfigError listing every problem. Both shapes: the
 * single-database document, or restinpieces-backup's `[vacuum.<label>]` / `[online.<label>]`
 * entries (also under `[backup]`), which come back in `entries`.
 */
export function parseConfig(text: string, options: ParseConfigOptions = {}): Config {
  return parseDocument(text, resolve(options.baseDir ?? process.cwd()), options.source, undefined);
}

/** The config, typed for a backup run: throws ECONFIG unless source_path and backup_dir are set. */
export function requireBackupConfig(config: Config): BackupConfig {
  const problems: ConfigProblem[] = [];
  if (config.entries !== undefined) {
    const message = 'this config holds [vacuum.<label>] / [online.<label>] entries (many databases): run them with backupEntries, as `sqlite-backup backup --config` does';
    fail(config.configPath, [{ key: '', message }], config.configPath);
  }
  if (config.sourcePath === undefined) problems.push({ key: 'source_path', message: 'required for a backup' });
  if (config.backupDir === undefined) problems.push({ key: 'backup_dir', message: 'required for a backup' });
  if (problems.length > 0) fail(config.configPath, problems, config.configPath);
  return config as BackupConfig;
}

/**
 * The config, typed for a pull: throws ECONFIG unless [pull] has local_dir and either url or host,
 * user and remote_dir.
 */
export function requirePullConfig(config: Config): ConfigWithPull {
  const pull = config.pull;
  const problems: ConfigProblem[] = [];
  if (pull === undefined) {
    problems.push({ key: 'pull', message: 'a [pull] table with local_dir and url (or host, user and remote_dir) is required to pull' });
  } else {
    const required: [string, unknown][] = pull.url !== undefined ? [] : [['host', pull.host], ['user', pull.user], ['remote_dir', pull.remoteDir]];
    for (const [key, value] of [...required, ['local_dir', pull.localDir]]) {
      if (value === undefined) problems.push({ key: `pull.${key}`, message: `required to pull${key === 'local_dir' ? '' : ' (or set pull.url)'}` });
    }
  }
  if (problems.length > 0) fail(config.configPath, problems, config.configPath);
  return config as ConfigWithPull;
}

const TOP_KEYS = new Map(CONFIG_KEYS.filter((s) => !s.key.startsWith('pull.')).map((s) => [s.key, s]));
const PULL_KEYS = new Map(CONFIG_KEYS.filter((s) => s.key.startsWith('pull.')).map((s) => [s.key.slice(5), s]));
const PUSH_KEY_SPECS = new Map(PUSH_KEYS.map((s) => [s.key.slice(5), s]));
const ENTRY_KEY_SPECS = new Map(ENTRY_KEYS.map((s) => [s.key, s]));
const ENCRYPTION_KEY_SPECS = new Map(ENCRYPTION_KEYS.map((s) => [s.key.slice('encryption.'.length), s]));
/** The strategy tables of the restinpieces-backup shape. */
const ENTRY_STRATEGIES = ['vacuum', 'online'] as const;
const ONLINE_ONLY_KEYS = ['pages_per_step', 'sleep_interval'];
/** [pull] keys that belong to the url form, and those of the host form: a table uses one form. */
const PULL_URL_KEYS = ['url', 'endpoint', 'region', 'force_path_style'];
const PULL_HOST_KEYS = ['host', 'port', 'user', 'remote_dir'];
const S3_ONLY_KEYS = ['endpoint', 'region', 'force_path_style'];
const SFTP_ONLY_KEYS = ['private_key_path', 'known_hosts', 'host_key_sha256'];

type Table = Record<string, unknown>;

const AGE_SECRET_KEY = /AGE-SECRET-KEY-1/i;
const AGE_SECRET_MESSAGE =
  'holds an age secret key (not shown here): a config takes public keys ("age-keygen -y key.txt" prints one) and the path of an identity file, never the key itself';

function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof TomlDate);
}

function parseDocument(text: string, baseDir: string, source: string | undefined, path: string | undefined): Config {
  let doc: Table;
  try {
    doc = parse(text.replace(/^\uFEFF/, ''), { unsafeKeyBehaviour: 'throw' });
  } catch (e) {
    if (!(e instanceof TomlError)) throw e;
    const reason = e.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
    fail(source, [{ key: '', message: `invalid TOML: ${reason}`, line: e.line, column: e.column }], path, e);
  }

  const problems: ConfigProblem[] = [];
  const lines = keyLines(text);
  let scope: string[] = [];
  const note = (key: string, message: string) => {
    const line = locate(lines, [...scope, ...key.split('.')]);
    problems.push(line === undefined ? { key, message } : { key, message, line });
  };

  // Unwrap `[db_backup_config]` / `[sqlite_backup]`: the Go config store kept the document under that scope.
  const topLevel = Object.keys(doc);
  const wrapper = topLevel.find((k) => (CONFIG_SCOPES as readonly string[]).includes(k) && isTable(doc[k]));
  if (wrapper !== undefined) {
    if (topLevel.length > 1) {
      const others = topLevel.filter((k) => k !== wrapper).join(', ');
      note(wrapper, `the [${wrapper}] table must hold the whole config, but the file also has: ${others}`);
      doc = Object.fromEntries(Object.entries(doc).filter(([k]) => k !== wrapper));
    } else {
      scope = [wrapper];
      doc = doc[wrapper] as Table;
    }
  }

  // The restinpieces-backup shape: strategy tables at the top, or under [backup] as the restinpieces
  // application config holds them. Its keys live in each entry, so a single-database key beside
  // them would be silently unused: the file is refused instead.
  const hasEntries = (t: Table) => ENTRY_STRATEGIES.some((k) => k in t);
  const entriesAt = hasEntries(doc) ? '' : isTable(doc.backup) && hasEntries(doc.backup) ? 'backup.' : undefined;
  if (entriesAt !== undefined) {
    const home = entriesAt === '' ? doc : (doc.backup as Table);
    const single = Object.keys(doc).filter((k) => k !== 'pull' && k !== 'encryption' && (entriesAt === '' ? !(ENTRY_STRATEGIES as readonly string[]).includes(k) : k !== 'backup'));
    if (wrapper !== undefined || single.length > 0) {
      const what = wrapper !== undefined ? `[${wrapper}]` : single.map((k) => (k === 'push' ? '[[push]]' : k)).join(', ');
      note(
        '',
        `mixes two config shapes: [${entriesAt}vacuum.<label>] / [${entriesAt}online.<label>] entries (restinpieces-backup: one table per database) ` +
          `and single-database settings (${what}); use one shape per file: ` +
          `put source_path, dest_path and the per-database keys in each entry${single.includes('push') ? ' ([[push]] works with the single-database shape only)' : ''}`,
      );
    }
    if (entriesAt !== '') {
      for (const k of Object.keys(home).filter((k) => !(ENTRY_STRATEGIES as readonly string[]).includes(k))) {
        note(`backup.${k}`, 'unknown key: [backup] holds only [backup.vacuum.<label>] and [backup.online.<label>] tables');
      }
    }
  }

  const read = (table: Table, specs: Map<string, KeySpec>, prefix: string, into: Table) => {
    for (const [name, value] of Object.entries(table)) {
      const key = prefix + name;
      if (prefix === '' && (name === 'pull' || name === 'push' || name === 'encryption')) continue;
      const spec = specs.get(name);
      if (SECRET_KEYS.includes(name)) note(key, SECRET_MESSAGE);
      // Before anything could echo the value (`got "..."`, a file name that does not exist): an age
      // secret key pasted into any string key must never reach a message or a log.
      else if (typeof value === 'string' && AGE_SECRET_KEY.test(value)) note(key, AGE_SECRET_MESSAGE);
      else if (spec === undefined) note(key, unknownKeyMessage(key));
      else {
        try {
          const v = spec.read(value);
          into[spec.prop] = spec.localPath ? localPath(v as string, baseDir) : v;
        } catch (e) {
          if (!(e instanceof Invalid)) throw e;
          note(key, e.message);
        }
      }
    }
  };

  const top: Table = {};
  if (entriesAt === undefined) read(doc, TOP_KEYS, '', top);
  const entries = entriesAt === undefined ? undefined : readEntries(entriesAt === '' ? doc : (doc.backup as Table), entriesAt, read, note);
  let pull: PullSettings | undefined;
  if ('pull' in doc) {
    if (!isTable(doc.pull)) note('pull', `expected a table ([pull] with host, user, remote_dir, local_dir), got ${show(doc.pull)}`);
    else {
      const settings: Table = {};
      read(doc.pull, PULL_KEYS, 'pull.', settings);
      pull = {
        port: CONFIG_DEFAULTS.pull.port,
        connectTimeoutMs: CONFIG_DEFAULTS.pull.connectTimeoutMs,
        idleTimeoutMs: CONFIG_DEFAULTS.pull.idleTimeoutMs,
        keepBeforeRestore: CONFIG_DEFAULTS.pull.keepBeforeRestore,
        ...settings,
      };
      if (doc.pull.url !== undefined) {
        const mixed = PULL_HOST_KEYS.filter((k) => k in (doc.pull as Table));
        if (mixed.length > 0) note('pull.url', `url replaces ${mixed.join(', ')}: use one form or the other`);
        checkKindKeys(doc.pull as Table, String(doc.pull.url), 'pull.', note);
      } else {
        for (const k of PULL_URL_KEYS.filter((k) => k !== 'url' && k in (doc.pull as Table))) note(`pull.${k}`, 'only used with pull.url = "s3://..."');
      }
      // Without a pinned fingerprint the server key must be in known_hosts: never trust an unknown host.
      if (pull.knownHosts === undefined && pull.hostKeySha256 === undefined) {
        pull.knownHosts = localPath(CONFIG_DEFAULTS.pull.knownHosts, baseDir);
      }
    }
  }

  const encryption = 'encryption' in doc ? readEncryption(doc.encryption, read, note) : undefined;
  if (encryption && entries) {
    for (const e of entries.filter((e) => !e.compression)) {
      note(
        `${entriesAt}${e.strategy}.${e.label}.compression`,
        'must be true with [encryption]: an entry with compression = false publishes the plain .db snapshot, which cannot be encrypted (nothing plaintext may be published)',
      );
    }
  }

  const topRetention = resolveRetention('backup', top as WrittenRetention);
  let push: PushSettings[] | undefined;
  if ('push' in doc) {
    const entries = Array.isArray(doc.push) ? doc.push : [doc.push];
    push = [];
    entries.forEach((entry, i) => {
      const label = entries.length > 1 ? `push[${i + 1}].` : 'push.';
      if (!isTable(entry)) {
        note('push', `expected [[push]] tables with a url, got ${show(entry)}`);
        return;
      }
      const settings: Table = {};
      read(entry, PUSH_KEY_SPECS, label, settings);
      if (settings.url === undefined) {
        if (!('url' in entry)) note(`${label}url`, 'required: where to push ("s3://bucket/prefix" or "sftp://user@host/path")');
        return;
      }
      checkKindKeys(entry, settings.url as string, label, note);
      const p = { ...settings, ...resolveRetention('push', settings as WrittenRetention, topRetention) } as PushSettings;
      if (p.url.startsWith('sftp://') && p.knownHosts === undefined && p.hostKeySha256 === undefined) {
        p.knownHosts = localPath(CONFIG_DEFAULTS.pull.knownHosts, baseDir);
      }
      push!.push(p);
    });
    const urls = push.map((p) => p.url);
    const dup = urls.find((u, i) => urls.indexOf(u) !== i);
    if (dup !== undefined) note('push', `the url ${JSON.stringify(dup)} appears twice`);
  }
  if (problems.length > 0) fail(source, problems, path);

  const { pull: _pullDefaults, ...defaults } = CONFIG_DEFAULTS;
  // A config has the sections its file has: no `pull: undefined` in what a caller logs or compares.
  return {
    ...defaults,
    ...top,
    ...topRetention,
    ...(pull ? { pull } : {}),
    ...(push ? { push } : {}),
    ...(entries ? { entries } : {}),
    ...(encryption ? { encryption } : {}),
  } as Config;
}

/** `[encryption]`: age_recipients or age_recipients_file (read here, so a bad file fails at load). */
function readEncryption(value: unknown, read: Reader, note: (key: string, message: string) => void): EncryptionSettings | undefined {
  if (!isTable(value)) {
    note('encryption', `expected a table ([encryption] with age_recipients = ["age1..."]), got ${show(value)}`);
    return undefined;
  }
  const settings: Table = {};
  read(value, ENCRYPTION_KEY_SPECS, 'encryption.', settings);
  const { recipients, recipientsFile } = settings as { recipients?: string[]; recipientsFile?: string };
  if ('age_recipients' in value && 'age_recipients_file' in value) {
    note('encryption', 'give age_recipients or age_recipients_file, not both');
    return undefined;
  }
  if (recipientsFile !== undefined) {
    try {
      return { recipients: readRecipientsFile(recipientsFile), recipientsFile };
    } catch (e) {
      note('encryption.age_recipients_file', (e as Error).message);
      return undefined;
    }
  }
  if (recipients !== undefined) return { recipients };
  if (!('age_recipients' in value) && !('age_recipients_file' in value)) {
    note('encryption', 'needs age_recipients = ["age1..."] or age_recipients_file = "<file>" (generate a key with "age-keygen -o key.txt")');
  }
  return undefined;
}

type Reader = (table: Table, specs: Map<string, KeySpec>, prefix: string, into: Table) => void;

/**
 * The `[vacuum.<label>]` / `[online.<label>]` tables under `home`, in file order. Two entries whose
 * files would share names (same dest_path and `<label>-<basename>`: `a-b` with `c.db` and `a` with
 * `b-c.db`) are refused: their backups, retention and latest- link would mix.
 */
function readEntries(home: Table, prefix: string, read: Reader, note: (key: string, message: string) => void): BackupEntryConfig[] {
  const entries: BackupEntryConfig[] = [];
  const owner = new Map<string, string>();
  for (const strategy of ENTRY_STRATEGIES) {
    const group = home[strategy];
    if (group === undefined) continue;
    const groupKey = `${prefix}${strategy}`;
    if (!isTable(group)) {
      note(groupKey, `expected tables [${groupKey}.<label>] with source_path and dest_path, got ${show(group)}`);
      continue;
    }
    for (const [label, body] of Object.entries(group)) {
      const key = `${groupKey}.${label}`;
      if (!isTable(body)) {
        note(key, `expected a table [${key}] with source_path and dest_path, got ${show(body)}`);
        continue;
      }
      const settings: Table = {};
      read(body, ENTRY_KEY_SPECS, `${key}.`, settings);
      if (strategy === 'vacuum') {
        for (const k of ONLINE_ONLY_KEYS.filter((k) => k in body)) note(`${key}.${k}`, `only used by [${prefix}online.<label>] entries (the online backup API); VACUUM INTO copies in one step`);
      }
      for (const k of ['source_path', 'dest_path'].filter((k) => !(k in body))) note(`${key}.${k}`, 'required');
      const { sourcePath, destPath } = settings as { sourcePath?: string; destPath?: string };
      if (sourcePath === undefined || destPath === undefined) continue;
      let dbName: string;
      try {
        dbName = ribDbName(label, sourcePath);
      } catch (e) {
        note(key, (e as Error).message);
        continue;
      }
      const clash = owner.get(`${destPath}\0${dbName}`);
      if (clash !== undefined) {
        note(key, `writes the same file names ("${dbName}-<time>...") in ${destPath} as [${clash}]: give one of them another label or dest_path`);
        continue;
      }
      owner.set(`${destPath}\0${dbName}`, key);
      const { pull: _p, ...defaults } = CONFIG_DEFAULTS;
      entries.push({
        strategy,
        compression: false,
        pagesPerStep: defaults.pagesPerStep,
        sleepIntervalMs: defaults.sleepIntervalMs,
        compressionLevel: defaults.compressionLevel,
        verify: defaults.verify,
        lockTimeoutMs: defaults.lockTimeoutMs,
        ...settings,
        ...resolveRetention('restinpieces', settings as WrittenRetention),
        label,
        dbName,
        sourcePath,
        destPath,
      } as BackupEntryConfig);
    }
    if (isTable(group) && Object.keys(group).length === 0) note(groupKey, `no entries: add a [${groupKey}.<label>] table`);
  }
  return entries;
}

/** S3 keys on an sftp:// store, or SSH keys on an s3:// one, are mistakes worth a message. */
function checkKindKeys(table: Table, url: string, prefix: string, note: (key: string, message: string) => void): void {
  const isS3 = /^s3:/i.test(url);
  for (const k of isS3 ? SFTP_ONLY_KEYS : S3_ONLY_KEYS) {
    if (k in table) note(`${prefix}${k}`, isS3 ? 'only used with sftp:// URLs' : 'only used with s3:// URLs');
  }
}

function fail(source: string | undefined, problems: ConfigProblem[], path: string | undefined, cause?: unknown): never {
  const name = source === undefined ? 'config' : `config "${source}"`;
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  const message = `${name} has ${count}:\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`;
  throw new ConfigError(message, problems, { path: path || undefined, cause });
}

function formatProblem(p: ConfigProblem): string {
  const at = p.line === undefined ? '' : p.column === undefined ? `line ${p.line}` : `line ${p.line}, column ${p.column}`;
  if (p.key === '') return at ? `${at}: ${p.message}` : p.message;
  return `${p.key}${at ? ` (${at})` : ''}: ${p.message}`;
}

/** `~` and `~/...` expand to the home directory; other relative paths resolve against `baseDir`. */
function localPath(p: string, baseDir: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/') || (sep === '\\' && p.startsWith('~\\'))) return join(homedir(), p.slice(2));
  if (p.startsWith('~')) throw new Invalid(`"~user" paths are not supported, got ${show(p)}: write the full path`);
  return resolve(baseDir, p);
}

/** "unknown key", with the closest valid key in this table, or the table where the key belongs. */
function unknownKeyMessage(key: string): string {
  const entry = /^(?:backup\.)?(?:vacuum|online)\.(?:[^.]+|"[^"]*")\./.exec(key);
  if (entry) {
    const name = key.slice(entry[0].length);
    const alias: Record<string, string> = { backup_dir: 'dest_path', strategy: 'the table: [vacuum.<label>] or [online.<label>]' };
    if (alias[name] !== undefined) return `unknown key in an entry (did you mean ${alias[name]!.includes(' ') ? alias[name] : `"${entry[0]}${alias[name]}"`}?)`;
    const near = [...ENTRY_KEY_SPECS.keys()].find((k) => distance(name.replace(/[-_]/g, ''), k.replace(/[-_]/g, '')) <= Math.max(1, Math.floor(k.length / 4)));
    return near !== undefined ? `unknown key (did you mean "${entry[0]}${near}"?)` : 'unknown key in an entry';
  }
  const push = /^push(\[\d+\])?\./.exec(key);
  if (push) {
    const name = key.slice(push[0].length);
    const near = [...PUSH_KEY_SPECS.keys()].find((k) => distance(name.replace(/[-_]/g, ''), k.replace(/[-_]/g, '')) <= Math.max(1, Math.floor(k.length / 4)));
    return near !== undefined ? `unknown key (did you mean "${push[0]}${near}"?)` : 'unknown key in [[push]]';
  }
  if (key.startsWith('encryption.')) {
    const name = key.slice('encryption.'.length);
    if (/identity|secret|private/i.test(name)) {
      return 'unknown key: [encryption] holds only public keys (age_recipients or age_recipients_file); the identity that decrypts is given to verify/restore/pull (--age-identity, or [pull] age_identity)';
    }
    const near = [...ENCRYPTION_KEY_SPECS.keys()].find((k) => distance(name.replace(/[-_]/g, ''), k.replace(/[-_]/g, '')) <= Math.max(1, Math.floor(k.length / 4)));
    return near !== undefined ? `unknown key (did you mean "encryption.${near}"?)` : 'unknown key in [encryption] (it holds age_recipients or age_recipients_file)';
  }
  const inPull = key.startsWith('pull.');
  const name = inPull ? key.slice(5) : key;
  const here = [...(inPull ? PULL_KEYS : TOP_KEYS).keys()];
  const there = inPull ? [...TOP_KEYS.keys()] : [...PULL_KEYS.keys()].map((k) => `pull.${k}`);
  const norm = (k: string) => k.replace(/^pull\./, '').replace(/[-_]/g, '').toLowerCase();
  const close = (k: string) => distance(norm(name), norm(k)) <= Math.max(1, Math.floor(norm(k).length / 4));
  const near = here.find(close);
  if (near !== undefined) return `unknown key (did you mean "${inPull ? `pull.${near}` : near}"?)`;
  const moved = there.find(close);
  if (moved !== undefined) {
    const where = inPull ? 'at the top level, not in [pull]' : 'in the [pull] table';
    return `unknown key here (did you mean "${moved}"? it belongs ${where})`;
  }
  return 'unknown key';
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length]!;
}

/**
 * Line of every key and table header in the text, keyed by the full dotted path. smol-toml gives
 * lines only for syntax errors, so this light scan (bare and quoted keys, dotted keys, [table]
 * headers, skipping multi-line strings) lets value problems point at their line too. Best effort:
 * a key it cannot place simply has no line.
 */
function keyLines(text: string): Map<string, number> {
  const found = new Map<string, number>();
  const keyPart = String.raw`(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')`;
  const header = new RegExp(String.raw`^\[\[?\s*(${keyPart}(?:\s*\.\s*${keyPart})*)\s*\]\]?\s*(?:#.*)?$`);
  const assignment = new RegExp(String.raw`^(${keyPart}(?:\s*\.\s*${keyPart})*)\s*=(.*)$`);
  const split = (dotted: string) => [...dotted.matchAll(/[A-Za-z0-9_-]+|"([^"]*)"|'([^']*)'/g)].map((m) => m[1] ?? m[2] ?? m[0]);
  const add = (path: string[], line: number) => {
    const k = path.join('\0');
    if (!found.has(k)) found.set(k, line);
  };
  let table: string[] = [];
  let openQuote: string | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (openQuote !== undefined) {
      if (raw.split(openQuote).length % 2 === 0) openQuote = undefined;
      return;
    }
    const h = header.exec(line);
    if (h) {
      table = split(h[1]!);
      add(table, i + 1);
      return;
    }
    const a = assignment.exec(line);
    if (!a) return;
    add([...table, ...split(a[1]!)], i + 1);
    openQuote = ['"""', "'''"].find((q) => a[2]!.split(q).length % 2 === 0);
  });
  return found;
}

/** The line of `path`, or of its nearest enclosing table (a missing key points at its [table]). */
function locate(lines: Map<string, number>, path: string[]): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const line = lines.get(path.slice(0, n).join('\0'));
    if (line !== undefined) return line;
  }
  return undefined;
}
