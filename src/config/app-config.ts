/**
 * The config from a restinpieces database, as the Go original read it: table `app_config` (`id`,
 * `scope`, `content` BLOB, `format`, `description`, `created_at`), one row per saved version, the
 * content age-encrypted to the application's X25519 key. We read scope `db_backup_config` (the Go
 * original's single-database document), else the `[backup]` section of scope `application` (the
 * restinpieces application config, whose `[backup.vacuum.<label>]` / `[backup.online.<label>]`
 * entries are restinpieces-backup's).
 *
 * Newest version wins: the greatest `created_at` (restinpieces writes it as RFC 3339 UTC text with
 * microseconds, so text order is time order), and among rows with the same `created_at` the
 * greatest `id` (AUTOINCREMENT: the one inserted last).
 *
 * The database is the application's live one: it is read like a backup source - copied and
 * validated into a private temp file (engine copyLive), then queried read-only there - so it is
 * never written and a concurrent write cannot give us a torn page. The scope is bound as a
 * parameter. Every problem a user must fix (no table, no scope, wrong key, unencrypted, not TOML)
 * is ECONFIG, exit 2 in the CLI.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify, TomlDate, TomlError } from 'smol-toml';
import { ageDecrypt, loadAgeIdentities, type AgeIdentities } from '../crypto/age-identity.js';
import { WasmEngine, type Engine, type SqlValue } from '../engine/index.js';
import { BackupError, ErrorCode, errnoOf, fsReason, isBackupError } from '../errors.js';
import { parseConfig, type Config } from './config.js';

/** The Go original's scope: a single-database document (source_path, backup_dir, ...). */
export const APP_CONFIG_BACKUP_SCOPE = 'db_backup_config';
/** The restinpieces application config; its `[backup]` section holds restinpieces-backup's entries. */
export const APP_CONFIG_APPLICATION_SCOPE = 'application';
/** The `[backup]` tables of scope `application` that this tool runs; the others belong to other daemons. */
export const APPLICATION_BACKUP_STRATEGIES = ['vacuum', 'online'] as const;

/** Options of loadAppConfig. */
export interface AppConfigOptions {
  /** The age identity file (X25519 `AGE-SECRET-KEY-1...` lines; every key in it is tried). */
  identity: string;
  /** Reuse an engine (it is not closed); by default one is started and closed. */
  engine?: Engine;
  /** Where the private copy of the database is made. @default os.tmpdir() */
  tempDir?: string;
  /** Non-fatal problems, e.g. an identity file others can read. */
  warn?: (message: string) => void;
  signal?: AbortSignal;
}

/** Which row a config came from, for messages and `--json`. */
export interface AppConfigSource {
  database: string;
  scope: string;
  id: number;
  createdAt: string;
}

/**
 * Reads, decrypts and parses the newest config of a restinpieces database. Relative paths in it
 * resolve against the current directory, as restinpieces resolves them (against the application's
 * working directory). The returned Config's configPath is the database.
 */
export async function loadAppConfig(dbArg: string, options: AppConfigOptions): Promise<Config & { appConfig: AppConfigSource }> {
  const database = resolve(dbArg);
  // The key first: a missing identity is the cheaper mistake to report, before copying a database.
  const identities = await loadAgeIdentities(options.identity, { warn: options.warn });
  try {
    const st = await stat(database);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
  } catch (e) {
    const errno = errnoOf(e);
    const why = errno === 'ENOENT' ? 'does not exist' : errno === 'EISDIR' ? 'is a directory' : `cannot be read (${errno ? fsReason(errno) : (e as Error).message})`;
    throw new BackupError(ErrorCode.CONFIG, `--app-config database "${database}" ${why}`, { path: database, cause: e, errno });
  }
  const row = await readNewestRow(database, options);
  return { ...(await configOfRow(row, identities)), configPath: database, appConfig: row.source };
}

interface Row {
  source: AppConfigSource;
  content: SqlValue;
  format: SqlValue;
}

const HAS_TABLE_SQL = "SELECT 1 FROM sqlite_schema WHERE type IN ('table', 'view') AND name = 'app_config'";
const NEWEST_SQL = 'SELECT id, scope, content, format, created_at FROM app_config WHERE scope = ? ORDER BY created_at DESC, id DESC LIMIT 1';

async function readNewestRow(database: string, options: AppConfigOptions): Promise<Row> {
  const engine = options.engine ?? new WasmEngine();
  const work = await mkdtemp(join(resolve(options.tempDir ?? tmpdir()), 'sqlite-backup-app-config-'));
  const copy = join(work, 'app-config.db');
  const call = { signal: options.signal };
  try {
    try {
      await engine.copyLive(database, copy, call);
    } catch (e) {
      if (isBackupError(e, ErrorCode.NOT_A_DATABASE) || isBackupError(e, ErrorCode.SOURCE_NOT_FOUND)) {
        throw new BackupError(ErrorCode.CONFIG, `--app-config "${database}" is not a SQLite database (${e.message})`, { path: database, cause: e });
      }
      throw e;
    }
    if ((await engine.selectRows(copy, HAS_TABLE_SQL, [], call)).length === 0) {
      throw new BackupError(ErrorCode.CONFIG, `--app-config "${database}" has no app_config table: is it the restinpieces database?`, { path: database });
    }
    for (const scope of [APP_CONFIG_BACKUP_SCOPE, APP_CONFIG_APPLICATION_SCOPE]) {
      let rows: SqlValue[][];
      try {
        rows = await engine.selectRows(copy, NEWEST_SQL, [scope], call);
      } catch (e) {
        if (!isBackupError(e, ErrorCode.SQLITE)) throw e;
        // A table of another shape (e.g. key/value): name the columns we need.
        throw new BackupError(
          ErrorCode.CONFIG,
          `--app-config "${database}": table app_config is not restinpieces' (it needs columns id, scope, content, format, created_at): ${e.message.replace(/^.*failed: /, '')}`,
          { path: database, cause: e },
        );
      }
      const [id, , content, format, createdAt] = rows[0] ?? [];
      if (rows.length === 0) continue;
      return { source: { database, scope, id: Number(id), createdAt: String(createdAt) }, content: content ?? null, format: format ?? null };
    }
    throw new BackupError(
      ErrorCode.CONFIG,
      `--app-config "${database}" has no config for scope "${APP_CONFIG_BACKUP_SCOPE}" nor "${APP_CONFIG_APPLICATION_SCOPE}" in table app_config`,
      { path: database },
    );
  } finally {
    await rm(work, { recursive: true, force: true });
    if (options.engine === undefined) await engine.close();
  }
}

function describe(row: Row): string {
  return `app_config row ${row.source.id} (scope "${row.source.scope}", created_at ${row.source.createdAt}) of "${row.source.database}"`;
}

async function configOfRow(row: Row, identities: AgeIdentities): Promise<Config> {
  const what = describe(row);
  const format = row.format === null ? 'toml' : String(row.format).trim().toLowerCase();
  if (format !== 'toml') {
    throw new BackupError(ErrorCode.CONFIG, `${what} has format "${String(row.format)}": only "toml" is supported`, { path: row.source.database });
  }
  const bytes = row.content instanceof Uint8Array ? row.content : row.content === null ? new Uint8Array() : new TextEncoder().encode(String(row.content));
  if (bytes.length === 0) throw new BackupError(ErrorCode.CONFIG, `${what} is empty`, { path: row.source.database });
  const plain = await ageDecrypt(bytes, identities, what);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(plain);
  } catch (e) {
    throw new BackupError(ErrorCode.CONFIG, `${what} decrypts to bytes that are not UTF-8 text, so not TOML`, { path: row.source.database, cause: e });
  }
  const document = row.source.scope === APP_CONFIG_APPLICATION_SCOPE ? backupSectionOfApplication(text, what) : text;
  return parseConfig(document, { source: what });
}

/**
 * The `[backup]` section of a restinpieces application config, as a TOML document of its own
 * (`[backup.vacuum.<label>]`, `[backup.online.<label>]`), for the config parser. The application's
 * other sections, and `[backup]` tables of other daemons (sqlite-rsync, s3-upload, s3-download),
 * are left out: they are not ours to check.
 */
export function backupSectionOfApplication(text: string, what = 'the application config'): string {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    if (!(e instanceof TomlError)) throw e;
    const reason = e.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
    throw new BackupError(ErrorCode.CONFIG, `${what} is not valid TOML: line ${e.line}, column ${e.column}: ${reason}`, { cause: e });
  }
  const backup = doc.backup;
  if (!isTable(backup)) {
    throw new BackupError(ErrorCode.CONFIG, `${what} has no [backup] section (restinpieces-backup's [backup.vacuum.<label>] / [backup.online.<label>] entries)`);
  }
  const ours = Object.fromEntries(APPLICATION_BACKUP_STRATEGIES.filter((s) => s in backup).map((s) => [s, backup[s]]));
  if (Object.keys(ours).length === 0) {
    throw new BackupError(
      ErrorCode.CONFIG,
      `${what}: its [backup] section has no [backup.vacuum.<label>] or [backup.online.<label>] entry (it has: ${Object.keys(backup).join(', ') || 'nothing'})`,
    );
  }
  return stringify({ backup: ours });
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof TomlDate);
}
