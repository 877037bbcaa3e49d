/**
 * Everything the CLI prints goes through here, so the modes hold for every command:
 * - results on stdout: human lines, or with --json one JSON object per result (errors too);
 * - progress on stderr: a redrawn bar when stderr is a TTY, else a line per progress_log_interval;
 * - errors on stderr: one line naming what failed and its code, a hint when we know one, and with
 *   --verbose the cause chain.
 * --quiet leaves errors and security warnings only. Secrets never reach this module: messages come
 * from BackupErrors, which never include passphrases or key material.
 *
 * Timestamps: a log (cron's mail, a file, journald through a pipe) needs to say when each line
 * happened, a terminal does not. So every stderr message starts with an ISO 8601 UTC time when stderr is
 * not a TTY; `--timestamps` forces them on every human message, stdout's results included;
 * `--no-timestamps` turns them off. Results on stdout carry none by default (scripts read them), and
 * JSON objects never do. A message's indented continuation lines are not stamped.
 */
import { asBackupError, BackupError, ErrorCode } from '../errors.js';
import { createProgressDisplay, formatSize, type ProgressDisplay, type ProgressStream } from './progress-bar.js';

export interface OutputStreams {
  stdout: { write(s: string): boolean };
  stderr: ProgressStream;
  env: NodeJS.ProcessEnv;
}

export interface OutputMode {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  /** true: stamp every human message; false: none; undefined: stderr lines when stderr is not a TTY (not with --json). */
  timestamps?: boolean | undefined;
}

/** One step of a long operation, in the shape every API callback is mapped to. */
export interface ProgressEvent {
  phase: string;
  bytesDone?: number;
  bytesTotal?: number;
}

export class Output {
  private readonly bar: ProgressDisplay;
  private readonly started = Date.now();
  /** The first line after one interval: a quick run prints none. */
  private lastLine = this.started;
  /** Whether stdout's human lines / stderr lines start with a timestamp (see the module comment). */
  private readonly stampOut: boolean;
  private readonly stampErr: boolean;

  constructor(
    private readonly streams: OutputStreams,
    readonly mode: OutputMode,
    /** Non-TTY progress lines at most this often; 0 = none (the config's progress_log_interval). */
    private progressIntervalMs = 0,
  ) {
    // TERM=dumb (Emacs shell, some CI consoles) shows cursor codes as junk: lines instead of a bar.
    const drawable = !mode.quiet && streams.env.TERM !== 'dumb';
    this.bar = createProgressDisplay({ stream: drawable ? streams.stderr : { write: () => true }, env: streams.env });
    this.stampOut = mode.timestamps === true;
    this.stampErr = mode.timestamps ?? (!mode.json && streams.stderr.isTTY !== true);
  }

  /**
   * `text` plus a newline, starting with the time when `stamp`. One message, one time: the indented
   * lines that continue it (hint, caused by, a result's details) follow unstamped.
   */
  private lines(text: string, stamp: boolean): string {
    return stamp ? `${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')} ${text}\n` : `${text}\n`;
  }

  setProgressInterval(ms: number): void {
    this.progressIntervalMs = ms;
  }

  /** A finished operation: `data` as JSON (with `command` and `ok`), else the human lines. */
  result(command: string, ok: boolean, data: object, lines: string[]): void {
    this.bar.clear();
    if (this.mode.json) this.streams.stdout.write(`${JSON.stringify({ command, ok, ...data })}\n`);
    else if (!this.mode.quiet) lines.forEach((line, i) => this.streams.stdout.write(this.lines(line, this.stampOut && i === 0)));
  }

  /** Something worth knowing on stderr (not a result): hidden by --quiet. */
  note(line: string): void {
    if (this.mode.quiet) return;
    this.bar.clear();
    this.streams.stderr.write(this.lines(line, this.stampErr));
  }

  /** A warning that --quiet must not hide (an insecure option in use). */
  warn(line: string): void {
    this.bar.clear();
    // The library's warnings may say WARNING themselves (and name their layer): say it once.
    this.streams.stderr.write(this.lines(`WARNING: ${cliMessage(line).replace(/^WARNING: /, '')}`, this.stampErr));
  }

  progress = (p: ProgressEvent): void => {
    if (this.mode.quiet) return;
    // A total that was an estimate (pages read twice, a -wal that grew) never shows as over 100%.
    if (p.bytesDone !== undefined && p.bytesTotal !== undefined && p.bytesDone > p.bytesTotal) p = { ...p, bytesTotal: p.bytesDone };
    if (this.bar.active) {
      this.bar.update({
        phase: p.phase,
        unit: 'bytes',
        done: p.bytesDone,
        total: p.bytesTotal,
      });
      return;
    }
    // Not a terminal (a log file, journald): a line now and then, as the Go job logged.
    if (this.progressIntervalMs <= 0 || this.mode.json) return;
    const now = Date.now();
    if (now - this.lastLine < this.progressIntervalMs) return;
    this.lastLine = now;
    const pct = p.bytesDone !== undefined && p.bytesTotal ? ` ${Math.min(100, Math.floor((100 * p.bytesDone) / p.bytesTotal))}%` : '';
    const bytes = p.bytesDone !== undefined && p.bytesTotal ? ` (${mib(p.bytesDone)} of ${mib(p.bytesTotal)})` : '';
    this.streams.stderr.write(this.lines(`[${((now - this.started) / 1000).toFixed(1)}s] ${p.phase}${pct}${bytes}`, this.stampErr));
  };

  /** Ends the progress bar (before the process exits or a scheduler waits). */
  endProgress(): void {
    this.bar.clear();
  }

  /**
   * A failed operation: stderr line(s) always; with --json also a JSON object on stdout (unless
   * `json: false`: the result object already carried the error).
   */
  error(command: string, error_: unknown, options: { json?: boolean } = {}): void {
    this.bar.clear();
    // A raw fs error that escaped a layer is still an fs failure (EIO), not an internal one.
    const e = asBackupError(error_);
    const lines = describeError(e, this.mode.verbose);
    this.streams.stderr.write(this.lines(lines.join('\n'), this.stampErr));
    if (this.mode.json && options.json !== false) {
      const err = e as Partial<BackupError>;
      const error = {
        code: err instanceof BackupError ? err.code : 'EINTERNAL',
        message: cliMessage(e),
        path: err.path || undefined,
        host: err.host || undefined,
        // The errno name, as BackupError types it (Node's own errors carry a negative number there).
        errno: typeof err.errno === 'string' ? err.errno : undefined,
        pid: typeof err.pid === 'number' ? err.pid : undefined,
      };
      this.streams.stdout.write(`${JSON.stringify({ command, ok: false, error })}\n`);
    }
  }
}

/** A size as all human output shows it (formatSize: `512 bytes`, `12.3 KiB`, `4.0 MiB`). */
export function mib(bytes: number): string {
  return formatSize(bytes);
}

/**
 * A library message as the CLI says it: without a bracket prefix (library messages carry none, see
 * src/errors.ts; this strips any that a caller's own error or an older message still has) and with
 * the CLI's flags where the library names its options.
 */
export function cliMessage(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.replace(/^(\[[a-z0-9-]+\] )+/, '').replace(/ \(force: true\)/g, '');
}

/** `sqlite-backup: <message> [CODE]`, then `  hint: ...` when we know one, then causes with --verbose. */
export function describeError(e: unknown, verbose: boolean): string[] {
  const message = cliMessage(e);
  const code = e instanceof BackupError ? e.code : undefined;
  const lines = [`sqlite-backup: ${message}${code ? ` [${code}]` : ''}`];
  const hint = e instanceof BackupError ? hintFor(e) : undefined;
  if (hint) lines.push(`  hint: ${hint}`);
  if (verbose) {
    const seen = new Set<unknown>([e]);
    for (let cause = (e as Error)?.cause; cause !== undefined && !seen.has(cause); cause = (cause as Error)?.cause) {
      seen.add(cause);
      const c = cause as NodeJS.ErrnoException;
      lines.push(`  caused by: ${c?.name && c.name !== 'Error' ? `${c.name}: ` : ''}${c?.message ?? String(cause)}${c?.code ? ` (${c.code})` : ''}`);
    }
    if (!(e instanceof BackupError) && e instanceof Error && e.stack) lines.push(e.stack);
  }
  return lines;
}

/** What to do next, for the failures where the message alone does not say it. */
function hintFor(e: BackupError): string | undefined {
  switch (e.code) {
    case ErrorCode.CONFIG:
      // A private key file (missing, unprotected): the message names the file and the fix; the
      // config file itself was found, so a --config hint would mislead.
      if (/private key file/i.test(e.message)) {
        return e.errno === 'ENOENT' ? 'set private_key_path to your key file, or remove it to authenticate with an ssh-agent (SSH_AUTH_SOCK)' : undefined;
      }
      return e.errno === 'ENOENT' || /does not exist/.test(e.message)
        ? 'pass --config <file>, or write a template with "sqlite-backup init"'
        : undefined;
    case ErrorCode.HOST_KEY:
      return 'check the fingerprint with the server\'s admin (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the server), then add the key to known_hosts or set pull.host_key_sha256';
    case ErrorCode.AUTH:
      return 'check pull.user and pull.private_key_path (its passphrase goes in SQLITE_BACKUP_KEY_PASSPHRASE), or load the key into ssh-agent';
    case ErrorCode.CONNECT:
      return 'check pull.host and pull.port, and that the server is reachable; an interrupted download resumes on the next run';
    case ErrorCode.BACKUP_NOT_FOUND:
      return /remote directory .* does not exist/.test(e.message) ? 'check remote_dir: a relative path is relative to the SFTP login directory' : undefined;
    case ErrorCode.LOCKED:
      return 'another backup or pull of the same directory is running; wait for it, or set lock_timeout to wait automatically';
    case ErrorCode.PUSH:
      return 'the backup is published locally; fix the failed destination (credentials, network, bucket or directory) and the next run pushes again';
    case ErrorCode.SNAPSHOT_BUSY:
      return 'the database changed during every copy attempt; run the backup at a quieter moment';
    case ErrorCode.SOURCE_HOT_JOURNAL:
      return undefined; // the message says what to do
    case ErrorCode.INTEGRITY:
      return 'nothing was published or replaced; keep the previous backups and check the source database';
    case ErrorCode.CHECKSUM:
      return 'the file does not match its .sha256: it was damaged or replaced after it was written';
    default:
      return e.errno === 'ENOSPC' ? 'free some space on that disk; nothing half-written was left under a final name' : undefined;
  }
}
