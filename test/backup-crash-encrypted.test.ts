/**
 * Crash safety of an encrypted backup, the property that is new with [encryption]: no plaintext,
 * ever, in backup_dir. The job runs in a child process (fixtures/backup-child.ts) that SIGKILLs
 * itself at a chosen point - inside the live copy and the snapshot (then plaintext exists, in the
 * private work directory under $TMPDIR), inside the integrity check, in the middle of gzip + age,
 * with the `.age` complete but no sidecar, after the sidecar, after publication. After every kill:
 *   - no file in backup_dir, temp files included, starts with SQLite's header or gzip's magic;
 *   - what latest.txt names, if anything, decrypts with the real `age` to a database that passes
 *     the native integrity_check;
 * and the next run of the same database removes the dead run's work directory (no work directory is
 * left under $TMPDIR), publishes, and leaves only `.db.gz.age` files, sidecars and latest.txt.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { backup } from '../src/api/backup.js';
import { loadConfig } from '../src/config/config.js';
import { readLatest } from '../src/format/manifest.js';
import { WasmEngine } from '../src/engine/index.js';
import { createLarge } from './helpers/databases.js';
import { requirePeer, run, sqlite3 } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const CHILD = fileURLToPath(new URL('./fixtures/backup-child.js', import.meta.url));
const FINAL = /^(latest\.txt|app-\d{8}T\d{6}\.\d{3}Z-vacuum(?:-\d+)?\.db\.gz\.age(?:\.sha256)?)$/;

/** Files of `dir` (recursively) whose first bytes are SQLite's header or gzip's magic. */
function plaintextIn(dir: string): string[] {
  const found: string[] = [];
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    const p = join(dir, f);
    if (!statSync(p).isFile()) continue;
    const head = readFileSync(p).subarray(0, 16);
    if (head.toString('latin1').startsWith('SQLite format 3') || (head[0] === 0x1f && head[1] === 0x8b)) found.push(f);
  }
  return found;
}

function runChild(configPath: string, spec: string, tmp: string, killAfterMs?: number): Promise<{ signal: NodeJS.Signals | null; code: number | null; out: string }> {
  const child = spawn(process.execPath, [CHILD, configPath, spec], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: tmp } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs ?? 60_000);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out });
    });
  });
}

interface Point {
  spec: string;
  why: string;
  /** Plaintext exists at that moment (in the work directory): the check below must find it there. */
  plaintextInWorkDir?: boolean;
  killAfterMs?: number;
}

const POINTS: Point[] = [
  { spec: 'snapshot@0', why: 'live copy done, VACUUM INTO running', plaintextInWorkDir: true },
  { spec: 'verify@0', why: 'integrity_check of the snapshot running', plaintextInWorkDir: true },
  { spec: 'compress:1', why: 'snapshot verified, gzip + age not started', plaintextInWorkDir: true },
  { spec: String.raw`file:\.age\.tmp-`, why: 'the .age temp file just created', plaintextInWorkDir: true },
  { spec: 'compress@0.5', why: 'gzip + age half way', plaintextInWorkDir: true },
  { spec: 'compressed:1', why: '.age complete under its final name, no sidecar' },
  { spec: 'sidecar:1', why: 'sidecar written, latest.txt not yet' },
  { spec: 'published:1', why: 'latest.txt names the new backup' },
];

describe('an encrypted backup killed with SIGKILL', () => {
  const root = tempDir('sqlite-backup-crash-enc-');
  const source = join(root, 'app.db');
  const key = join(root, 'key.txt');

  it('leaves no plaintext in backup_dir at any point; the next run removes the dead run\'s work directory', async (t) => {
    if (!['sqlite3', 'age', 'age-keygen', 'gzip'].every((c) => requirePeer(t, c))) return;
    createLarge(source, 4);
    run('age-keygen', ['-o', key]);
    const recipient = run('age-keygen', ['-y', key]).stdout.trim();
    const engine = new WasmEngine();
    const failures: string[] = [];
    const savedTmp = process.env.TMPDIR;
    try {
      let i = 0;
      for (const point of [...POINTS, { spec: 'none', why: 'timed kill from the parent', killAfterMs: 1500 }]) {
        const caseDir = join(root, `case${++i}`);
        const dir = join(caseDir, 'backups');
        const tmp = join(caseDir, 'tmp');
        mkdirSync(tmp, { recursive: true });
        const configPath = join(caseDir, 'backup.toml');
        writeFileSync(
          configPath,
          `source_path = ${JSON.stringify(source)}\nbackup_dir = ${JSON.stringify(dir)}\nkeep_last = 1\ncompression_level = 0\n` +
            `[encryption]\nage_recipients = ["${recipient}"]\n`,
        );
        // A previous published backup, so latest.txt exists throughout.
        process.env.TMPDIR = tmp;
        await backup(await loadConfig(configPath), { engine });
        const child = await runChild(configPath, point.spec, tmp, point.killAfterMs);
        const problems: string[] = [];
        const expect = (ok: boolean, what: string): void => void (ok || problems.push(what));
        if (point.killAfterMs === undefined) expect(child.signal === 'SIGKILL' && child.out.includes('\nkill '), `kill point not reached: ${child.out.slice(-500)}`);

        expect(plaintextIn(dir).length === 0, `plaintext in backup_dir after the kill: ${plaintextIn(dir).join(', ')}`);
        const leftInTmp = plaintextIn(tmp);
        // The check must be able to see plaintext: at these points it is there, in the work directory.
        if (point.plaintextInWorkDir) expect(leftInTmp.some((f) => f.startsWith('sqlite-backup-work-')), `no plaintext in the work directory: ${leftInTmp.join(', ')}`);
        const latest = await readLatest(dir);
        if (latest !== undefined) {
          const db = join(caseDir, `latest-${i}.db`);
          run('sh', ['-c', 'age -d -i "$1" "$2" | gunzip > "$3"', 'sh', key, join(dir, latest), db]);
          expect(sqlite3(db, 'PRAGMA integrity_check;').stdout.trim() === 'ok', `${latest} does not decrypt to a sound database`);
        }

        try {
          const r = await backup(await loadConfig(configPath), { engine });
          expect((await readLatest(dir)) === r.name, 'the next run did not publish');
          const after = readdirSync(dir);
          expect(after.every((f) => FINAL.test(f)), `left in backup_dir after the next run: ${after.filter((f) => !FINAL.test(f)).join(', ')}`);
          expect(readdirSync(tmp).length === 0, `left under $TMPDIR after the next run: ${readdirSync(tmp).join(', ')}`);
          expect(plaintextIn(dir).length === 0, 'plaintext in backup_dir after the next run');
        } catch (e) {
          problems.push(`the next run failed: ${(e as Error).message}`);
        }
        if (problems.length > 0) failures.push(`kill at ${point.spec} (${point.why}):\n    ${problems.join('\n    ')}`);
      }
    } finally {
      process.env.TMPDIR = savedTmp;
      await engine.close();
    }
    assert.equal(failures.length, 0, failures.join('\n'));
  });
});
