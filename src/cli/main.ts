#!/usr/bin/env node
/**
 * The `sqlite-backup` command: thin over src/api. Exit codes: 0 success; 1 the operation failed
 * (source missing or not a database, corrupt backup, check failed, ...); 2 usage or config error;
 * 130/143 interrupted (SIGINT/SIGTERM: the running operation is aborted and cleans up first).
 */
import { readFileSync } from 'node:fs';
import { BackupError, ErrorCode } from '../errors.js';
import {
  backupCommand,
  listCommand,
  pruneCommand,
  pullCommand,
  restoreCommand,
  UsageError,
  verifyCommand,
  type CommandContext,
} from './commands.js';

const USAGE = `usage: sqlite-backup <command> [options]

commands:
  backup --config <file>                 snapshot, check, gzip and publish a backup of source_path
                                         into backup_dir, then apply retention
  pull --config <file> [--restore-to <db>] [--insecure-skip-host-key-check]
                                         fetch the newest backup from [pull] over SFTP, verify it
                                         (host key, sha256, gzip, integrity_check), publish it in local_dir
  verify <file> [--quick]                check a backup (.db.gz or .db): sha256 sidecar, gzip, integrity_check
  restore <backup> <target> [--force]    check and decompress a backup into place; --force keeps the
                                         previous database (with its -wal) as <target>.before-restore-<time>
  list <dir> [--db <name>] [--json]      the backups in a directory, oldest first
  prune <dir> [--dry-run] [--db <name>] [--keep-last N] [--keep-daily N] [--keep-weekly N]
                                         apply retention (defaults: keep_last 30; or from --config)
  --version                              print the version
  --help                                 this text

verify, restore, list and prune read a config file only when --config <file> is given.
exit codes: 0 ok, 1 the operation failed, 2 usage or config error, 130 interrupted
`;

const COMMANDS: Record<string, (argv: string[], ctx: CommandContext) => Promise<number>> = {
  backup: backupCommand,
  verify: verifyCommand,
  restore: restoreCommand,
  list: listCommand,
  prune: pruneCommand,
  pull: pullCommand,
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    (command ? process.stdout : process.stderr).write(USAGE);
    return command ? 0 : 2;
  }
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`sqlite-backup: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const controller = new AbortController();
  let interrupted = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = signal === 'SIGINT' ? 130 : 143;
    process.stderr.write(`sqlite-backup: ${signal}: stopping and cleaning up\n`);
    controller.abort(new Error(signal));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await run(rest, {
      signal: controller.signal,
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
    });
  } catch (e) {
    if (interrupted) return interrupted;
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`sqlite-backup ${e.message}\nrun "sqlite-backup --help" for usage\n`);
      process.exitCode = 2;
      return;
    }
    const code = e instanceof BackupError ? ` [${e.code}]` : '';
    process.stderr.write(`sqlite-backup: ${(e as Error).message}${code}\n`);
    process.exitCode = e instanceof BackupError && e.code === ErrorCode.CONFIG ? 2 : 1;
  },
);
