/**
 * `npm start`: the whole job on an embedded sample database, no server needed. Creates ./demo/,
 * writes a sample database, backs it up, lists and verifies the backups, restores one, and says
 * what it did and where the files are.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { WasmEngine } from '../engine/index.js';
import { writeSampleDatabase } from './sample-database.js';

const MARKER = '.sqlite-backup-demo';

function say(step: string, text: string): void {
  process.stdout.write(`${step.padEnd(8)} ${text}\n`);
}

function timestamp(d = new Date()): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.(\d{3})Z$/, '.$1Z');
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
  say('sample', `${rel(source)}: ${counts.customers} customers, ${counts.orders} orders (${statSync(source).size} bytes)`);

  const engine = new WasmEngine();
  try {
    const name = `sample-${timestamp()}-vacuum.db`;
    const snap = await engine.vacuumInto(source, join(root, 'backups', name));
    const check = await engine.integrityCheck(snap.dest);
    if (!check.ok) throw new Error(`snapshot failed its integrity check: ${check.messages.join('; ')}`);
    say('backup', `VACUUM INTO ${rel(snap.dest)}: ${snap.pageCount} pages of ${snap.pageSize} bytes in ${snap.durationMs} ms, integrity_check ok`);

    for (const f of readdirSync(join(root, 'backups')).sort()) {
      const st = statSync(join(root, 'backups', f));
      say('list', `${f}  ${st.size} bytes  mode ${(st.mode & 0o777).toString(8)}`);
    }

    const verified = await engine.integrityCheck(snap.dest, { mode: 'full' });
    say('verify', `${rel(snap.dest)}: ${verified.ok ? 'ok' : `NOT OK: ${verified.messages.join('; ')}`}`);

    const restored = join(root, 'restored.db');
    const copy = await engine.onlineBackup(snap.dest, restored);
    const restoredCheck = await engine.integrityCheck(restored);
    say('restore', `${rel(restored)}: ${copy.pageCount} pages copied with the online backup API, integrity_check ${restoredCheck.ok ? 'ok' : 'FAILED'}`);
    if (!verified.ok || !restoredCheck.ok) process.exitCode = 1;
  } finally {
    await engine.close();
  }
  say('done', `files are in ${rel(root)}/ (delete it when you like)`);
}

main().catch((e: unknown) => {
  process.stderr.write(`demo failed: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
