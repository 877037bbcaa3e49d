/**
 * `npm start`: the whole job on an embedded sample database, no server needed. Creates ./demo/,
 * writes a sample database, backs it up (snapshot, integrity check, gzip, sha256 sidecar), lists and
 * verifies the backup, restores it, and says what it did and where the files are. The backup
 * directory protocol of the real job (atomic publish, latest.txt, retention) comes with the job.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { WasmEngine } from '../engine/index.js';
import { gunzipFile, gzipFile } from '../compress/index.js';
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
  const backups = join(root, 'backups');
  try {
    // backup: snapshot -> integrity_check -> gzip (sha256 computed on the way) -> sidecar
    const base = `sample-${timestamp()}-vacuum.db`;
    const snapshotPath = join(backups, `.tmp-${base}`);
    const snap = await engine.vacuumInto(source, snapshotPath);
    const check = await engine.integrityCheck(snap.dest);
    if (!check.ok) throw new Error(`snapshot failed its integrity check: ${check.messages.join('; ')}`);
    const gz = join(backups, `${base}.gz`);
    const packed = await gzipFile(snapshotPath, gz);
    rmSync(snapshotPath);
    writeFileSync(`${gz}.sha256`, `${packed.compressedSha256}  ${base}.gz\n`, { mode: 0o600 });
    say(
      'backup',
      `VACUUM INTO + integrity_check ok + gzip: ${rel(gz)} (${snap.bytes} -> ${packed.compressedBytes} bytes, ` +
        `sha256 ${packed.compressedSha256.slice(0, 16)}...)`,
    );

    for (const f of readdirSync(backups).sort()) {
      const st = statSync(join(backups, f));
      say('list', `${f}  ${st.size} bytes  mode ${(st.mode & 0o777).toString(8)}`);
    }

    // verify: gunzip checks CRC-32 and length; the sha256 must match the sidecar; then integrity_check
    const unpacked = join(backups, `.tmp-verify-${base}`);
    const expected = readFileSync(`${gz}.sha256`, 'utf8').split(/\s+/)[0];
    const got = await gunzipFile(gz, unpacked);
    const verified = await engine.integrityCheck(unpacked, { mode: 'full' });
    rmSync(unpacked);
    const shaOk = got.compressedSha256 === expected;
    say('verify', `${rel(gz)}: sha256 ${shaOk ? 'matches' : 'MISMATCH'}, gzip CRC ok, integrity_check ${verified.ok ? 'ok' : 'FAILED'}`);

    // restore: decompress into a new database file, check it
    const restored = join(root, 'restored.db');
    await gunzipFile(gz, restored);
    const restoredCheck = await engine.integrityCheck(restored);
    say('restore', `${rel(restored)}: ${restoredCheck.pageCount} pages, integrity_check ${restoredCheck.ok ? 'ok' : 'FAILED'}`);
    if (!shaOk || !verified.ok || !restoredCheck.ok) process.exitCode = 1;
  } finally {
    await engine.close();
  }
  say('done', `files are in ${rel(root)}/ (delete it when you like)`);
}

main().catch((e: unknown) => {
  process.stderr.write(`demo failed: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
