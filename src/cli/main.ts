#!/usr/bin/env node
/**
 * The `sqlite-backup` command. This first version only verifies a database; the backup job, pull,
 * list, restore and prune commands arrive with the backup-job and CLI issues.
 */
import { readFileSync } from 'node:fs';
import { WasmEngine } from '../engine/index.js';
import { BackupError } from '../errors.js';

const USAGE = `usage: sqlite-backup <command>

commands:
  verify <file> [--quick]   run PRAGMA integrity_check (or quick_check) on a database
  --version                 print the version
  --help                    this text
`;

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
  if (!command || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  if (command === 'verify') {
    const files = rest.filter((a) => !a.startsWith('--'));
    if (files.length !== 1) {
      process.stderr.write(`sqlite-backup verify: expected one file\n${USAGE}`);
      return 2;
    }
    const engine = new WasmEngine();
    try {
      const r = await engine.integrityCheck(files[0]!, { mode: rest.includes('--quick') ? 'quick' : 'full' });
      if (r.ok) process.stdout.write(`ok: ${files[0]} (${r.pageCount} pages)\n`);
      else process.stdout.write(`NOT OK: ${files[0]}\n${r.messages.map((m) => `  ${m}`).join('\n')}\n`);
      return r.ok ? 0 : 1;
    } finally {
      await engine.close();
    }
  }
  process.stderr.write(`sqlite-backup: unknown command "${command}"\n${USAGE}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const code = e instanceof BackupError ? ` [${e.code}]` : '';
    process.stderr.write(`sqlite-backup: ${(e as Error).message}${code}\n`);
    process.exitCode = 1;
  },
);
