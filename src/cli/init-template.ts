/**
 * What `sqlite-backup init` writes: a commented TOML config, in the spirit of the Go version's
 * blueprint generator. The text is generated from CONFIG_KEYS, so every key the loader accepts appears
 * with its description, type and default, and the template cannot drift from the parser.
 *
 * Layout: the document sits in `[db_backup_config]` (the Go scope, which config.ts unwraps); only
 * source_path and backup_dir are set, with placeholder paths. Every other key is a commented-out
 * `# key = value` line showing its default (or an example where it has none), so uncommenting a line
 * always yields a valid value. The pull keys follow in a commented-out `[db_backup_config.pull]` table:
 * inside the wrapper the pull table is the wrapper's `pull` sub-table.
 */
import { open, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse } from 'smol-toml';
import { CONFIG_KEYS, type KeySpec } from '../config/config-schema.js';
import { BackupError, ErrorCode } from '../errors.js';

/** The table the template writes the document under (one of config.ts's CONFIG_SCOPES). */
export const TEMPLATE_SCOPE = 'db_backup_config';

/** Comment lines wrap at this column. */
const WIDTH = 100;

/**
 * Values for keys whose default is not a value (required, "none", or a sentence): placeholders, written
 * as TOML. Keys with a literal default (`"vacuum"`, `30`, `"15s"`) need no entry here.
 */
const EXAMPLES: Readonly<Record<string, string>> = {
  source_path: '"./app.db"',
  backup_dir: '"./backups"',
  'pull.url': '"s3://my-bucket/app"',
  'pull.endpoint': '"https://s3.example.org"',
  'pull.force_path_style': 'true',
  'pull.host': '"db.example.org"',
  'pull.user': '"backup"',
  'pull.private_key_path': '"~/.ssh/id_ed25519"',
  'pull.known_hosts': '"~/.ssh/known_hosts"',
  // A well-formed placeholder: pinning it fails the host key check until the real fingerprint is pasted.
  'pull.host_key_sha256': `"SHA256:${'A'.repeat(43)}"`,
  'pull.remote_dir': '"/srv/app/backups"',
  'pull.local_dir': '"./pulled"',
  'pull.db': '"app-app.db"',
  'pull.restore_to': '"./replica.db"',
  'pull.age_identity': '"./age-key.txt"',
};

/**
 * [pull] keys of the store-URL form, the alternative to host/user/remote_dir: a table uses one form,
 * so these are shown after the others under their own note.
 */
export const PULL_URL_KEYS: readonly string[] = ['pull.url', 'pull.endpoint', 'pull.region', 'pull.force_path_style'];

const PULL_URL_INTRO = `# Or pull from S3-compatible storage (or any store URL) instead of host, user and remote_dir:
# S3 credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE or ~/.aws.`;

const PUSH_INTRO = `# Push every new backup to other places too: one [[${TEMPLATE_SCOPE}.push]] table per
# destination, with url = "s3://bucket/prefix" or "sftp://user@host:22/path" (see the README).
# Retention there: keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly and keep_yearly in
# the table; each one not written takes the value above.`;

const ENCRYPTION_INTRO = `# Encrypt every backup with age (published as <name>.db.gz.age): make a key pair with
# "age-keygen -o age-key.txt", keep age-key.txt somewhere safe and NOT only on this machine (losing it
# loses every backup: the public keys below cannot decrypt), then add a table
# [${TEMPLATE_SCOPE}.encryption] holding its public key ("age-keygen -y age-key.txt"), e.g.
#     age_recipients = ["age1..."]
# (or age_recipients_file = "<file>", in age's -R format). See "Encrypted backups" in the README.`;

/** Keys written as live settings; everything else is commented out. */
const SET_KEYS = new Set(['source_path', 'backup_dir']);

const HEADER = `# sqlite-backup configuration, written by \`sqlite-backup init\`.
#
# Set source_path and backup_dir, then run: sqlite-backup backup --config <this file>
# Every other key is commented out and shows its default; uncomment a line to change it.
# Relative paths resolve against this file's directory, and "~/" is your home directory.
# Durations are Go duration strings: "300ms", "1.5s", "1m30s", "2h"; "1d" for days too.
# No passwords or passphrases here: use key files without a passphrase, or an ssh-agent.
`;

const PULL_INTRO = `# Pull the latest backup from another machine over SFTP (sqlite-backup pull): uncomment the
# table header and at least host, user, remote_dir and local_dir.`;

/** The commented config template, with a trailing newline. */
export function configTemplate(): string {
  const main = CONFIG_KEYS.filter((s) => !s.key.startsWith('pull.'));
  const pull = CONFIG_KEYS.filter((s) => s.key.startsWith('pull.') && !PULL_URL_KEYS.includes(s.key));
  const pullUrl = CONFIG_KEYS.filter((s) => PULL_URL_KEYS.includes(s.key));
  const out = [HEADER, `[${TEMPLATE_SCOPE}]`, ''];
  for (const spec of main) out.push(...entry(spec, spec.key), '');
  out.push(PULL_INTRO, `# [${TEMPLATE_SCOPE}.pull]`, '');
  for (const spec of pull) out.push(...entry(spec, spec.key.slice('pull.'.length)), '');
  out.push(PULL_URL_INTRO, '');
  for (const spec of pullUrl) out.push(...entry(spec, spec.key.slice('pull.'.length)), '');
  out.push(PUSH_INTRO, '', ENCRYPTION_INTRO, '');
  return `${out.join('\n').trimEnd()}\n`;
}

/** One key: description, type and default as comments, then the setting (commented out unless in SET_KEYS). */
function entry(spec: KeySpec, name: string): string[] {
  const value = exampleValue(spec);
  const setting = `${name} = ${value}`;
  return [
    ...wrap(spec.description),
    `# ${spec.type}; ${spec.default.startsWith('required') ? spec.default : `default: ${spec.default}`}`,
    SET_KEYS.has(spec.key) ? setting : `# ${setting}`,
  ];
}

/** The value written for a key: its example, else its default when that is a TOML value itself. */
function exampleValue(spec: KeySpec): string {
  const value = EXAMPLES[spec.key] ?? spec.default;
  try {
    parse(`v = ${value}`);
  } catch {
    // A new key whose default is prose needs an EXAMPLES entry; fail loudly rather than write bad TOML.
    throw new Error(`init-template: no example value for config key "${spec.key}" (default: ${spec.default})`);
  }
  return value;
}

/** `text` as `# ` comment lines of at most WIDTH columns (a longer single word stays whole). */
function wrap(text: string): string[] {
  const lines: string[] = [];
  let line = '#';
  for (const word of text.split(/\s+/)) {
    if (line.length > 1 && line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = '#';
    }
    line += ` ${word}`;
  }
  lines.push(line);
  return lines;
}

/**
 * Writes configTemplate() to `path` as a new file with mode 0600. Never overwrites: an existing path
 * (file, directory or symlink) is an ECONFIG error and is left unchanged. The parent directory must
 * exist (EDEST_DIR otherwise); other file system failures are EIO. A partly written file is removed.
 */
export async function writeConfigTemplate(path: string): Promise<void> {
  const file = resolve(path);
  let handle;
  try {
    // `wx` is O_CREAT|O_EXCL: atomic "create only if absent", and it refuses to follow a symlink.
    handle = await open(file, 'wx', 0o600);
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    const details = { path: file, cause: e, errno };
    if (errno === 'EEXIST') {
      throw new BackupError(ErrorCode.CONFIG, `init: "${file}" already exists; it was left unchanged (remove it or choose another path)`, details);
    }
    if (errno === 'ENOENT' || errno === 'ENOTDIR') {
      const dir = dirname(file);
      const what = errno === 'ENOENT' ? 'does not exist' : 'is not a directory';
      throw new BackupError(ErrorCode.DEST_DIR, `init: cannot create "${file}": directory "${dir}" ${what}; create it first`, { ...details, path: dir });
    }
    throw new BackupError(ErrorCode.IO, `init: cannot create "${file}" (${errno ?? (e as Error).message})`, details);
  }
  try {
    // The mode given to open() is reduced by the umask; set it exactly.
    await handle.chmod(0o600);
    await handle.writeFile(configTemplate(), 'utf8');
    await handle.close();
  } catch (e) {
    await handle.close().catch(() => {});
    await unlink(file).catch(() => {});
    const errno = (e as NodeJS.ErrnoException).code;
    throw new BackupError(ErrorCode.IO, `init: cannot write "${file}" (${errno ?? (e as Error).message})`, {
      path: file,
      cause: e,
      errno,
    });
  }
}
