/**
 * verify and restore of a published backup, each against its native pipeline in the same run
 * (issue 16):
 *  - `verify(gz)` vs `sha256sum -c <sidecar> && gzip -dc gz > db && sqlite3 db 'PRAGMA integrity_check'`;
 *  - `restore(gz, fresh target)` vs `gzip -dc gz > db && sqlite3 db 'PRAGMA integrity_check'` (our restore
 *    checks the database before it goes into place, so the native side checks it too; ours also checks
 *    the sidecar and fsyncs, the native side does not).
 * Each of our calls runs in a child process of its own (runNodeChild), so its peak RSS is the call's
 * alone. Targets: <= 1.0x native, peak RSS < 150 MB at any database size.
 */
import { copyFileSync, linkSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { restore, verify } from '../src/index.js';
import { runJobChild } from './job.js';
import {
  type ChildTiming,
  comparePhased,
  load1,
  type PhasedComparison,
  phaseRecorder,
  fmtPhases,
  fmtPhaseRssOf,
  runNodeChild,
  timeCommand,
} from './util.js';
import { PhaseSampler } from './phase-rss.js';

const THIS_FILE = fileURLToPath(import.meta.url);
export const CHECK_TARGET = 1.0;
export const CHECK_RSS_BUDGET_BYTES = 150 * 1048576;

export type CheckOp = 'verify' | 'restore';

/** Ours: phases sidecar (sha256 of the .gz), gunzip, fsync + engine start, integrity_check (to the return: restore's placing too). */
export interface CheckRow extends PhasedComparison {
  op: CheckOp;
  /** What the native side runs. */
  native: string;
}

export interface CheckBenchResult {
  runs: number;
  gzBytes: number;
  dbBytes: number;
  rows: CheckRow[];
}

export interface PublishedBackup {
  dir: string;
  name: string;
  /** dir/name */
  path: string;
  gzBytes: number;
  dbBytes: number;
}

const published = new Map<string, PublishedBackup>();
let publishRoot: string | undefined;

/**
 * A backup of `db` published by our job (in a child process): .gz, .sha256 and latest.txt in a
 * directory of its own. Made once per database per benchmark process, removed when it exits.
 */
export function publishedBackup(db: string, log: (s: string) => void): PublishedBackup {
  const have = published.get(db);
  if (have) return have;
  if (!publishRoot) {
    const root = mkdtempSync(join(tmpdir(), 'sqlite-backup-bench-published-'));
    publishRoot = root;
    process.on('exit', () => rmSync(root, { recursive: true, force: true }));
  }
  const dir = join(publishRoot, String(published.size));
  log(`[bench] publishing a backup of ${db} with our job`);
  const r = runJobChild(db, dir);
  const p: PublishedBackup = { dir, name: r.name, path: join(dir, r.name), gzBytes: r.gzBytes, dbBytes: r.dbBytes };
  published.set(db, p);
  return p;
}

/** Hard-links `from` to `to` (same file system), else copies it. */
export function linkOrCopy(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

async function childMain(op: string, gz: string, target: string | undefined): Promise<void> {
  const t0 = performance.now();
  const rec = phaseRecorder(t0);
  const sampler = new PhaseSampler();
  // Everything before the first progress event is the sidecar check (sha256 of the .gz).
  rec.mark('sidecar');
  sampler.enter('sidecar');
  // From the last gunzip event to the first integrity_check event: the fsync of the decompressed file
  // (gunzipFile syncs its output) and the engine's lazy start (worker + wasm); else counted as gunzip.
  const onProgress = (p: { phase: string; bytesDone: number; bytesTotal?: number }): void => {
    const phase = p.phase === 'gunzip' && p.bytesTotal !== undefined && p.bytesDone >= p.bytesTotal ? 'fsync + engine start' : p.phase;
    rec.mark(phase);
    sampler.enter(phase);
  };
  if (op === 'verify') {
    const r = await verify(gz, { onProgress });
    if (!r.ok || r.checksum !== 'ok') throw new Error(`verify failed: ${r.messages.join('; ')} (checksum ${r.checksum})`);
  } else {
    // The last phase, integrity_check, runs to the return: it includes moving the file into place.
    const r = await restore(gz, target!, { onProgress });
    if (r.checksum !== 'ok') throw new Error('restore did not check the sidecar');
  }
  const ms = performance.now() - t0;
  const phaseRss = sampler.stop().map((p): [string, number] => [p.phase, p.peakRssBytes]);
  const report: ChildTiming = {
    ms,
    phases: rec.finish(),
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    phaseRss,
    ...(sampler.peakBreakdown ? { peakBreakdown: sampler.peakBreakdown } : {}),
  };
  console.log(JSON.stringify(report));
}

/** The native pipeline of `op` on `gz`; returns its phases (each a separate command, timed). */
async function runNative(op: CheckOp, gz: string, sidecarDir: string, sidecarName: string, work: string): Promise<[string, number][]> {
  const db = join(work, 'native.db');
  const phases: [string, number][] = [];
  try {
    if (op === 'verify') {
      phases.push(['sha256sum -c', (await timeCommand('sh', ['-c', 'cd "$1" && sha256sum -c --quiet "$2"', 'sh', sidecarDir, sidecarName])).ms]);
    }
    phases.push(['gzip -dc', (await timeCommand('sh', ['-c', 'gzip -dc "$1" > "$2"', 'sh', gz, db])).ms]);
    const ic = await timeCommand('sqlite3', [db, 'PRAGMA integrity_check']);
    if (ic.stdout.trim() !== 'ok') throw new Error(`native integrity_check: ${ic.stdout.trim().slice(0, 200)}`);
    phases.push(['integrity_check', ic.ms]);
    return phases;
  } finally {
    rmSync(db, { force: true });
  }
}

const NATIVE_LABEL: Record<CheckOp, string> = {
  verify: "sha256sum -c && gzip -dc > db && sqlite3 db 'PRAGMA integrity_check'",
  restore: "gzip -dc > db && sqlite3 db 'PRAGMA integrity_check' (as ours: restore checks before placing)",
};

export async function benchCheck(
  db: string,
  opts: { runs: number; log: (s: string) => void; ops?: CheckOp[] },
): Promise<CheckBenchResult> {
  const pub = publishedBackup(db, opts.log);
  const work = mkdtempSync(join(tmpdir(), 'sqlite-backup-bench-check-'));
  try {
    const rows: CheckRow[] = [];
    for (const op of opts.ops ?? (['verify', 'restore'] as const)) {
      const ours: ChildTiming[] = [];
      const native: [string, number][][] = [];
      const load: number[] = [];
      for (let i = 0; i < opts.runs; i++) {
        const runDir = join(work, `${op}-${i}`);
        mkdirSync(runDir);
        load.push(load1());
        const args = op === 'verify' ? [pub.path] : [pub.path, join(runDir, 'restored.db')];
        const r = runNodeChild<ChildTiming>(THIS_FILE, [op, ...args]);
        if (op === 'restore' && statSync(join(runDir, 'restored.db')).size !== pub.dbBytes) throw new Error('restored database has the wrong size');
        ours.push(r);
        rmSync(runDir, { recursive: true, force: true });
        opts.log(
          `[bench] ${op} run ${i + 1}: ours ${r.ms.toFixed(0)} ms (${fmtPhases(r.phases)}; peak RSS ${(r.maxRssBytes / 1048576).toFixed(0)} MB, per phase ${fmtPhaseRssOf(r)}; load ${load.at(-1)})`,
        );
        const n = await runNative(op, pub.path, pub.dir, `${pub.name}.sha256`, work);
        native.push(n);
        opts.log(`[bench] ${op} run ${i + 1}: native ${n.reduce((a, [, ms]) => a + ms, 0).toFixed(0)} ms (${fmtPhases(n)})`);
      }
      rows.push({ op, native: NATIVE_LABEL[op], ...comparePhased(ours, native, CHECK_TARGET, load) });
    }
    return { runs: opts.runs, gzBytes: pub.gzBytes, dbBytes: pub.dbBytes, rows };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2] === '--child') {
  await childMain(process.argv[3]!, process.argv[4]!, process.argv[5]);
}
