/**
 * `npm start`: the whole job on an embedded sample database, no server needed. Creates ./demo/,
 * writes a sample database and a config file, runs the real backup job on it (validated snapshot,
 * integrity check, gzip, sha256 sidecar, latest.txt, retention), lists and verifies the backup,
 * restores it, and says what it did and where the files are.
 */
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { WasmEngine } from '../../src/engine/index.js';
import { backup } from '../../src/api/backup.js';
import { loadConfig } from '../../src/config/config.js';
import { listBackups, pickLatest } from '../../src/api/listing.js';
import { restore } from '../../src/api/restore.js';
import { verify } from '../../src/api/verify.js';
import { mib } from '../../src/cli/output.js';
import { writeSampleDatabase } from './sample-database.js';

const MARKER = '.sqlite-backup-demo';

function say(step: string, text: string): void {
  process.stdout.write(`${step.padEnd(8)} ${text}\n`);
}

async function main(): Promise<void> {
  const root = resolve(process.argv[2] ?? 'demo');
  // Only ever clear a directory this demo created.
  if (existsSync(root)) {
    if (!existsSync(join(root, MARKER))) {
      throw new Error(`"${root}" exists and was not created by this demo; pass another directory`);
    }
    rmSync(root, { recursive: true, force: true });
  }
  mkdirSync(join(root, 'backups'), { recursive: true, mode: 0o700 });
  writeFileSync(join(root, MARKER), 'created by npm start; safe to delete\n');
  const rel = (p: string): string => relative(process.cwd(), p) || '.';

  const source = join(root, 'sample.db');
  const counts = await writeSampleDatabase(source);
  say('sample', `${rel(source)}: ${counts.customers} customers, ${counts.orders} orders (${mib(statSync(source).size)})`);

  // The same config file a real deployment uses (the Go original's keys, plus ours).
  const configPath = join(root, 'backup.toml');
  writeFileSync(configPath, 'source_path = "sample.db"\nbackup_dir = "backups"\nkeep_last = 7\n', { mode: 0o600 });
  say('config', `${rel(configPath)}: source_path = "sample.db", backup_dir = "backups", keep_last = 7`);

  const engine = new WasmEngine();
  const backups = join(root, 'backups');
  try {
    // backup: validated live copy -> VACUUM INTO -> integrity_check -> gzip + sha256 -> sidecar -> latest.txt
    const r = await backup(await loadConfig(configPath), { engine });
    say(
      'backup',
      `${rel(r.path)}: ${mib(r.dbBytes)} -> ${mib(r.gzBytes)}, integrity_check ok, sha256 ${r.sha256.slice(0, 16)}..., ` +
        `published in latest.txt (${r.timings.totalMs} ms)`,
    );

    for (const e of await listBackups(backups)) {
      const mode = (statSync(e.path).mode & 0o777).toString(8);
      say('list', `${e.name}  ${mib(e.size)}  mode ${mode}${e.isLatest ? '  <- latest.txt' : ''}${e.hasChecksum ? '  + .sha256' : ''}`);
    }

    // verify: sidecar sha256, gzip CRC-32 and length, then integrity_check of the decompressed database
    const latest = await pickLatest(backups);
    if (!latest) throw new Error('no backup found');
    const v = await verify(latest.path, { engine });
    say('verify', `${rel(latest.path)}: sha256 ${v.checksum}, gzip ok, integrity_check ${v.ok ? 'ok' : `FAILED: ${v.messages.join('; ')}`}`);

    // restore: checked, decompressed next to the target, integrity-checked, renamed into place
    const restored = join(root, 'restored.db');
    const back = await restore(latest.path, restored, { engine });
    say('restore', `${rel(back.target)}: ${mib(back.bytes)}, integrity_check ok`);
    if (!v.ok) process.exitCode = 1;
  } finally {
    await engine.close();
  }
  say('done', `files are in ${rel(root)}/ (delete it when you like)`);
  // The same steps by hand, with the CLI this package installs (npx finds it in this checkout and in
  // a project that installed the package), then the way to one's own database.
  const cli = 'npx sqlite-backup';
  say('try', `${cli} backup --config ${rel(join(root, 'backup.toml'))}`);
  say('', `${cli} list ${rel(join(root, 'backups'))}   (--json for scripts, --help for every command)`);
  say('', `${cli} status ${rel(join(root, 'backups'))} --max-age 1d   (exit 1 when the newest backup is older)`);
  say('your db', `${cli} init   writes ./sqlite-backup.toml: set source_path and backup_dir in it, then ${cli} backup`);
}

main().catch((e: unknown) => {
  process.stderr.write(`demo failed: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
