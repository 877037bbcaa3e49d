/** The CLI's help texts: one overview and one page per command (`sqlite-backup <command> --help`). */

export const DEFAULT_CONFIG_FILE = 'sqlite-backup.toml';

const GLOBAL_OPTIONS = `global options (every command):
  --json          one JSON object per result on stdout (errors too), for scripts and monitoring
  -q, --quiet     print nothing but errors (and warnings about security)
  -v, --verbose   also print each error's cause chain
  --timestamps    start every human line (results too) with the UTC time; stderr lines have it
                  anyway when stderr is not a terminal (a log), unless --no-timestamps or --json
  -h, --help      help for the command
`;

export const OVERVIEW = `usage: sqlite-backup <command> [options]

commands:
  init [file]            write a commented config template (never overwrites)
  backup                 snapshot, check, gzip and publish a backup of source_path into backup_dir
  backup <db> <dir>      the same for one database, with every default and no config file
  backup --every <d>     keep running, one backup every <d> (e.g. 6h), for hosts without cron
  pull                   fetch the newest backup from [pull] (SFTP or S3), verify it, publish it locally
  verify <file|url>      check a backup: sha256 sidecar, gzip CRC, integrity_check
  restore <backup> <db>  check and decompress a backup into place
  list [dir|url]         the backups in a directory or store (s3://, sftp://), oldest first
  prune [dir|url]        apply retention (keep_last / keep_hourly / keep_daily / ... / keep_yearly)
  status [dir]           the newest backup, its age and sidecar; --max-age 26h exits 1 when it is older

backup and pull read --config <file>, else the file $SQLITE_BACKUP_CONFIG names, else
./${DEFAULT_CONFIG_FILE}; list and prune read that file too when it exists, status when given no
directory; verify and restore only when --config is given. Instead of a file, every command that takes
--config takes --app-config <db> --age-identity <key file>: the age-encrypted config of a restinpieces
database (table app_config; the key file may also come from $SQLITE_BACKUP_AGE_IDENTITY).
"sqlite-backup <command> --help" shows a command's options.

${GLOBAL_OPTIONS}  --version       print the version

exit codes: 0 ok, 1 the operation failed, 2 usage or config error, 130 interrupted (Ctrl-C)
`;

const PAGES: Record<string, string> = {
  init: `usage: sqlite-backup init [file]

Writes a config template to <file> (default ./${DEFAULT_CONFIG_FILE}), mode 0600: every key with its
description and default, commented out except source_path and backup_dir. An existing file is never
overwritten.
`,
  backup: `usage: sqlite-backup backup [--config <file> | --app-config <db> --age-identity <file>]
                             [--every <duration> [--jitter <duration>]]
       sqlite-backup backup <db> <dir> [--every <duration> [--jitter <duration>]]

Backs up source_path into backup_dir: a consistent copy of the live database, VACUUM INTO (or the
online backup API), PRAGMA integrity_check, gzip with a sha256 sidecar, latest.txt, then retention.
Then, for each [[push]] table of the config, the same backup is published at that destination
(s3://bucket/prefix or sftp://user@host/path) with its sidecar, latest.txt and retention there. A
failed destination keeps the local backup, lets the others run, and makes the exit code 1 (EPUSH).
With an [encryption] table (age_recipients = ["age1..."] or age_recipients_file), the backup is gzip
then age, published as <name>.db.gz.age (the sidecar hashes the encrypted file); the snapshot is made
in a private 0700 directory under $TMPDIR, never in backup_dir. Only public keys go in the config.
With <db> <dir> and no config: backs up <db> into <dir> with every default (vacuum, gzip, full
integrity check, keep_last 30).

A config of [vacuum.<label>] / [online.<label>] tables (the restinpieces-backup shape) backs up each
entry that is due (its newest backup older than its frequency), one at a time, with one result per
entry; a failed entry lets the others run and makes the exit code 1.

  -c, --config <file>    config file (default $SQLITE_BACKUP_CONFIG, else ./${DEFAULT_CONFIG_FILE})
  --app-config <db>      read the config from a restinpieces database instead of a file: the newest
                         app_config row of scope db_backup_config, else the [backup] section of scope
                         application, age-encrypted (the database is copied, never written)
  --age-identity <file>  the age identity file that decrypts it (AGE-SECRET-KEY-1... lines; every key
                         is tried); default $SQLITE_BACKUP_AGE_IDENTITY
  --every <duration>     keep running and back up every <duration> ("30m", "6h", "1h30m"): the first
                         backup at once, then one per interval counted from the first start; a backup
                         still running when the next one is due skips that slot (never two at once);
                         a failed backup is reported and the schedule goes on. SIGINT/SIGTERM stop it
                         cleanly (a running backup is aborted and cleaned up) with exit code 0.
  --jitter <duration>    random delay added to each scheduled start (default: 10% of the interval,
                         at most 5m), so many hosts on one schedule do not start in the same second
`,
  pull: `usage: sqlite-backup pull [--config <file>] [--restore-to <db> [--keep-before-restore <n>]]
                         [--age-identity <file>] [--insecure-skip-host-key-check]

Fetches the newest backup from the [pull] server over SFTP, checks the host key, the sha256, the gzip
CRC and PRAGMA integrity_check, and only then publishes it in local_dir. Exit 0 also when the newest
backup was already there. A remote directory with several databases (restinpieces-backup's
dest_path) needs db = "<label>-<basename>" in [pull]; plain .db snapshots are pulled as they are.
An age-encrypted backup (.db.gz.age, .bck.gz.age) is stored as published (still encrypted, with the
server's .sha256) and decrypted only to check it and to restore it: it needs an identity (exit 2,
ECONFIG, before downloading, without one); a key that does not fit, or altered ciphertext, is exit 1
(EDECRYPT) with nothing published or restored.

  -c, --config <file>                config file (default $SQLITE_BACKUP_CONFIG, else ./${DEFAULT_CONFIG_FILE})
  --app-config <db>                  the config from a restinpieces database (see "backup --help")
  --age-identity <file>              the age identity file (age-keygen format) that decrypts encrypted
                                     backups, and an --app-config (default
                                     $SQLITE_BACKUP_AGE_IDENTITY, else age_identity of [pull])
  --restore-to <db>                  then restore the pulled backup to <db> (the previous file is kept
                                     as <db>.before-restore-<time>)
  --keep-before-restore <n>          keep the newest <n> such copies, older ones are deleted
                                     (default: keep_before_restore of [pull], else 2)
  --insecure-skip-host-key-check     accept any server key (warned on every run, with the fingerprint
                                     to pin); only for a first look at a server
The passphrase of an encrypted private key comes from SQLITE_BACKUP_KEY_PASSPHRASE; an ssh-agent
(SSH_AUTH_SOCK) is used when there is no key file.
`,
  verify: `usage: sqlite-backup verify <file|dir|url> [--db <name>] [--quick] [--config <file>] [--endpoint <url>]
                         [--region <r>] [--age-identity <file>]

Checks a backup (.db.gz, any gzip, .db, or age-encrypted .db.gz.age): its .sha256 sidecar when there
is one, the gzip CRC-32 and length, and PRAGMA integrity_check. Exit 1 when it is damaged. A backup
directory, or a store URL (s3://bucket/prefix, sftp://user@host/path), checks the backup latest.txt
names there (without a latest.txt: the newest backup by name); <url>/<backup name> that backup.
An encrypted backup is decrypted with --age-identity. Without an identity only its sidecar can be
checked: exit 0 when it matches, with "content NOT checked" ("contentChecked": false in --json);
exit 1 when there is no sidecar either (nothing could be checked).

  --db <name>            a directory or store: the newest backup of this database (needed when it
                         holds several, e.g. a restinpieces-backup dest_path: --db app-app.db)
  --quick                PRAGMA quick_check instead of integrity_check
  -c, --config <file>    take verify = "full" | "quick" (and a store url's options) from this config
  --app-config <db>      the config from a restinpieces database (see "backup --help")
  --age-identity <file>  the age identity file that decrypts an encrypted backup (and --app-config):
                         AGE-SECRET-KEY-1... lines, every key is tried; default
                         $SQLITE_BACKUP_AGE_IDENTITY, else [pull] age_identity of --config
  --endpoint <url>       S3: the service's endpoint (else the [[push]]/[pull] entry with this url in
                         --config, else AWS); credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
                         AWS_PROFILE or ~/.aws
  --region <region>      S3 region (default us-east-1)
`,
  restore: `usage: sqlite-backup restore <backup|dir> <target> [--db <name>] [--force [--keep-before-restore <n>]]
                         [--quick] [--config <file>] [--age-identity <file>]

Checks a backup and decompresses it into <target> (a file path, not a directory) through a temp file
and a rename. Given a backup directory, restores the backup its latest.txt names (without a
latest.txt: the newest backup by name). Stop the application that uses the database first.
An encrypted backup (.db.gz.age) needs --age-identity (exit 2 without it, before anything is
written); a key that does not fit, or altered data, is exit 1 with <target> untouched.

  --db <name>            a directory: the newest backup of this database (needed when it holds
                         several, e.g. a restinpieces-backup dest_path: --db app-app.db)
  --force                replace an existing <target>: it is kept (with its -wal and -journal) as
                         <target>.before-restore-<time>; the restored file gets its owner, group
                         and mode (a warning when only root could set the owner)
  --keep-before-restore <n>  keep only the newest <n> such copies (default: all)
  --quick                PRAGMA quick_check instead of integrity_check
  -c, --config <file>    take verify = "full" | "quick" from this config
  --app-config <db>      the config from a restinpieces database (see "backup --help")
  --age-identity <file>  the age identity file that decrypts an encrypted backup (and --app-config):
                         AGE-SECRET-KEY-1... lines, every key is tried; default
                         $SQLITE_BACKUP_AGE_IDENTITY, else [pull] age_identity of --config
`,
  list: `usage: sqlite-backup list [dir|url] [--db <name>] [--config <file>] [--endpoint <url>] [--region <r>]

Lists the backups in <dir> (default: backup_dir of --config, else of $SQLITE_BACKUP_CONFIG's file, else
of ./sqlite-backup.toml) or in a
store (s3://bucket/prefix, sftp://user@host/path), oldest first, marking the one latest.txt names.
Reads our file names and both Go layouts. A malformed latest.txt is a warning (prune refuses).
With a many-entry config ([vacuum.<label>] / [online.<label>]) and no <dir>: each entry's backups
in its dest_path, one result per entry (--db: only that entry).

  --db <name>            only the backups of this database name
  -c, --config <file>    list backup_dir of this config
  --app-config <db>      the config from a restinpieces database (see "backup --help")
  --age-identity <file>  its age identity file (default $SQLITE_BACKUP_AGE_IDENTITY)
  --endpoint <url>       S3: the service's endpoint (else the [[push]]/[pull] entry with this url in
                         --config, else AWS); credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
                         AWS_PROFILE or ~/.aws
  --region <region>      S3 region (default us-east-1)
`,
  status: `usage: sqlite-backup status [dir] [--max-age <duration>] [--db <name>] [--config <file>]
                         [--age-identity <file>]

Reports the newest backup in <dir> (default: backup_dir of the config, else its [pull] local_dir):
the one latest.txt names (else the newest by name), when it was taken and how long ago, and whether it
matches its .sha256 sidecar (the file is hashed). Writes nothing. Exit 1 when there is no backup, when
the sidecar does not match, or with --max-age when the newest backup is older: run it from a monitor
or a second timer to catch a backup job that silently stopped. With a many-entry config
([vacuum.<label>] / [online.<label>]) and no <dir>: each entry's newest backup in its dest_path, one
result per entry; exit 1 when any entry has none, a mismatch, or (--max-age) is older. An entry's
frequency is not a limit by itself: give --max-age. An encrypted newest backup is shown as such; with
an age identity, exit 1 (EDECRYPT) when none of its keys opens it (only the age header is read:
"verify" checks the content).

  --max-age <duration>   the newest backup must be younger than this ("26h", "2d", "90m")
  --db <name>            only the backups of this database name (with a config: its source_path's)
  -c, --config <file>    config file (default $SQLITE_BACKUP_CONFIG, else ./${DEFAULT_CONFIG_FILE};
                         read only without <dir>)
  --app-config <db>      the config from a restinpieces database (see "backup --help")
  --age-identity <file>  the age identity file that must open the newest backup when it is encrypted
                         (and decrypts --app-config); default $SQLITE_BACKUP_AGE_IDENTITY, else
                         [pull] age_identity of the config
`,
  prune: `usage: sqlite-backup prune [dir|url] [--dry-run] [--db <name>] [--keep-last N] [--keep-hourly N]
       [--keep-daily N] [--keep-weekly N] [--keep-monthly N] [--keep-yearly N] [--config <file>]

Applies retention to <dir> (default: backup_dir of the config) or to a store (s3://bucket/prefix,
sftp://user@host/path), exactly as backup would. The config is --config, else $SQLITE_BACKUP_CONFIG's
file, else ./sqlite-backup.toml when it exists. Its keep_* keys (default keep_last 30) apply to its backup_dir and pull.local_dir, a
[[push]] entry's to its url (without flags: only the config's database, as backup prunes). A flag
overrides one key and prunes every database there (--db narrows it). A place no config covers
needs at least one --keep-* flag (the other keys then take their defaults): without one, prune
refuses (exit 2) and removes nothing. The backup latest.txt names is never removed; a backup without
sidecar is verified first, then adopted or removed. A many-entry config ([vacuum.<label>] /
[online.<label>]): without <dir>, each entry's keep_* (none: everything is kept) on its dest_path, for
that entry's database only, as backup prunes after it; with <dir>, the entries whose dest_path it is.
Flags override an entry's keys; --db narrows to one entry.

  --dry-run              say what would be removed, remove nothing
  --db <name>            only the backups of this database name
  --keep-last N          keep the newest N (0 keeps everything)
  --keep-hourly N        also the newest of each of the last N hours (UTC) that have backups
  --keep-daily N         ... of the last N days (UTC)
  --keep-weekly N        ... of the last N ISO weeks
  --keep-monthly N       ... of the last N months (UTC)
  --keep-yearly N        ... of the last N years (UTC)
  -c, --config <file>    take keep_* (and the directory) from this config
  --app-config <db>      the config from a restinpieces database (see "backup --help")
  --age-identity <file>  its age identity file (default $SQLITE_BACKUP_AGE_IDENTITY)
  --endpoint <url>       S3: the service's endpoint (else the [[push]]/[pull] entry with this url in
                         --config, else AWS); credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
                         AWS_PROFILE or ~/.aws
  --region <region>      S3 region (default us-east-1)
`,
};

export function commandHelp(command: string): string {
  return `${PAGES[command] ?? OVERVIEW}\n${GLOBAL_OPTIONS}`;
}
