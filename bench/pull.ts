/**
 * Pull benchmark (issue 16): from one throw-away loopback sshd (the test harness's), two cases -
 *  - ours: a backup of the bench database published by our job (.gz, .sha256, latest.txt);
 *  - foreign: the same database as a single-stream `gzip -6` file (`sqlite3 VACUUM INTO` + `gzip -6`),
 *    in a directory of its own under a name our listing recognises, with a `sha256sum` sidecar and a
 *    latest.txt -
 * each pulled (download + sha256 + gunzip check + integrity_check + publish) by `pull()` in a child
 * process of its own (so its peak RSS is the pull's alone), against the native pipeline on the same
 * file in the same run: `scp` + `gzip -d` + `sqlite3 PRAGMA integrity_check`.
 * Targets: ours <= 1.0x native, foreign <= 1.2x; peak RSS < 150 MB, whatever the database size.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseConfig, pull, type PullProgress } from '../src/index.js';
import { backupFileName, sanitizeDbName } from '../src/format/naming.js';
import { scpFrom, startSshd } from '../test/helpers/sshd.js';
import { linkOrCopy, publishedBackup } from './check.js';
import { type ChildTiming, comparePhased, fmtPhases, fmtPhaseRssOf, load1, type PhasedComparison, phaseRecorder, runNodeChild, timeCommand } from './util.js';
import { PhaseSampler } from './phase-rss.js';

const THIS_FILE = fileURLToPath(import.meta.url);
export const PULL_RSS_BUDGET_BYTES = 150 * 1048576;

export type PullCaseName = 'ours' | 'foreign';
const TARGETS: Record<PullCaseName, number> = { ours: 1.0, foreign: 1.2 };

export interface PullCaseResult extends PhasedComparison {
  case: PullCaseName;
  /** Size of the pulled .gz. */
  gzBytes: number;
}

export interface PullBenchResult {
  runs: number;
  cases: PullCaseResult[];
}

async function childMain(toml: string): Promise<void> {
  const t0 = performance.now();
  const rec = phaseRecorder(t0);
  const sampler = new PhaseSampler();
  // `verify` starts with an event without bytes (sidecar comparison, then the engine's lazy start: worker
  // and wasm); its integrity_check reports bytes read.
  const phaseOf = (p: PullProgress): string => (p.phase === 'verify' ? (p.bytesDone === undefined ? 'engine start' : 'integrity_check') : p.phase);
  const r = await pull(parseConfig(toml), {
    onProgress: (p) => {
      rec.mark(phaseOf(p));
      sampler.enter(phaseOf(p));
    },
  });
  const ms = performance.now() - t0;
  if (r.status !== 'pulled' || r.remoteChecksum !== 'ok') throw new Error(`pull: ${r.status}, remote checksum ${r.remoteChecksum}`);
  const phaseRss = sampler.stop().map((p): [string, number] => [p.phase, p.peakRssBytes]);
  const report: ChildTiming = {
    ms,
    phases: rec.finish().filter(([p]) => p !== 'done'),
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    phaseRss,
    peakBreakdown: sampler.peakBreakdown,
  };
  console.log(JSON.stringify(report));
}

/** The foreign case: `sqlite3 VACUUM INTO` + `gzip -6` (one stream), a sha256sum sidecar and latest.txt in `dir`. */
async function publishForeign(db: string, dir: string, work: string): Promise<{ name: string; gzBytes: number }> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const name = backupFileName(sanitizeDbName(db), new Date(), 'vacuum');
  const snap = join(work, 'foreign-snapshot.db');
  // The path is our own scratch path (no quote in it): formatting it into SQL is safe here.
  await timeCommand('sqlite3', [db, `VACUUM INTO '${snap}'`]);
  await timeCommand('sh', ['-c', 'gzip -6 -c "$1" > "$2/$3" && cd "$2" && sha256sum "$3" > "$3.sha256"', 'sh', snap, dir, name]);
  rmSync(snap, { force: true });
  writeFileSync(join(dir, 'latest.txt'), name);
  return { name, gzBytes: statSync(join(dir, name)).size };
}

export async function benchPull(
  db: string,
  opts: { runs: number; log: (s: string) => void; cases?: PullCaseName[] },
): Promise<PullBenchResult> {
  const caseNames = opts.cases ?? (['ours', 'foreign'] as const);
  const pub = publishedBackup(db, opts.log);
  const sshd = await startSshd();
  const work = mkdtempSync(join(tmpdir(), 'sqlite-backup-bench-pull-'));
  try {
    const remotes = new Map<PullCaseName, { dir: string; name: string; gzBytes: number }>();
    if (caseNames.includes('ours')) {
      const dir = join(sshd.sftpRoot, 'backups');
      mkdirSync(dir, { mode: 0o700 });
      linkOrCopy(pub.path, join(dir, pub.name));
      linkOrCopy(`${pub.path}.sha256`, join(dir, `${pub.name}.sha256`));
      writeFileSync(join(dir, 'latest.txt'), pub.name);
      remotes.set('ours', { dir: 'backups', name: pub.name, gzBytes: pub.gzBytes });
    }
    if (caseNames.includes('foreign')) {
      opts.log('[bench] pull: making the foreign backup (sqlite3 VACUUM INTO + gzip -6)');
      const f = await publishForeign(db, join(sshd.sftpRoot, 'foreign'), work);
      remotes.set('foreign', { dir: 'foreign', ...f });
    }
    const knownHosts = join(work, 'known_hosts');
    writeFileSync(knownHosts, `${sshd.knownHostsLine()}\n`);

    const ours = new Map<PullCaseName, ChildTiming[]>(caseNames.map((c) => [c, []]));
    const native = new Map<PullCaseName, [string, number][][]>(caseNames.map((c) => [c, []]));
    const loads = new Map<PullCaseName, number[]>(caseNames.map((c) => [c, []]));
    for (let i = 0; i < opts.runs; i++) {
      for (const c of caseNames) {
        const remote = remotes.get(c)!;
        const local = join(work, `local-${c}-${i}`);
        const toml =
          `[pull]\nhost = "127.0.0.1"\nport = ${sshd.port}\nuser = ${JSON.stringify(sshd.username)}\n` +
          `private_key_path = ${JSON.stringify(sshd.userKey.privatePath)}\nknown_hosts = ${JSON.stringify(knownHosts)}\n` +
          `remote_dir = ${JSON.stringify(remote.dir)}\nlocal_dir = ${JSON.stringify(local)}\n`;
        loads.get(c)!.push(load1());
        const r = runNodeChild<ChildTiming>(THIS_FILE, [toml]);
        ours.get(c)!.push(r);
        rmSync(local, { recursive: true, force: true });
        opts.log(
          `[bench] pull ${c} run ${i + 1}: ours ${r.ms.toFixed(0)} ms (${fmtPhases(r.phases)}; peak RSS ${(r.maxRssBytes / 1048576).toFixed(0)} MB, per phase ${fmtPhaseRssOf(r)}; load ${loads.get(c)!.at(-1)})`,
        );

        const nativeDir = join(work, `native-${c}-${i}`);
        mkdirSync(nativeDir);
        const gz = join(nativeDir, remote.name);
        const phases: [string, number][] = [];
        const t = performance.now();
        scpFrom(sshd, knownHosts, `${remote.dir}/${remote.name}`, gz);
        phases.push(['scp', performance.now() - t]);
        phases.push(['gzip -d', (await timeCommand('gzip', ['-d', gz])).ms]);
        const ic = await timeCommand('sqlite3', [gz.replace(/\.gz$/, ''), 'PRAGMA integrity_check']);
        if (ic.stdout.trim() !== 'ok') throw new Error(`native integrity_check: ${ic.stdout.trim().slice(0, 200)}`);
        phases.push(['integrity_check', ic.ms]);
        native.get(c)!.push(phases);
        opts.log(`[bench] pull ${c} run ${i + 1}: native ${phases.reduce((a, [, ms]) => a + ms, 0).toFixed(0)} ms (${fmtPhases(phases)})`);
        rmSync(nativeDir, { recursive: true, force: true });
      }
    }
    const cases = caseNames.map((c): PullCaseResult => {
      const o = ours.get(c)!;
      return { case: c, gzBytes: remotes.get(c)!.gzBytes, ...comparePhased(o, native.get(c)!, TARGETS[c], loads.get(c)!) };
    });
    return { runs: opts.runs, cases };
  } finally {
    await sshd.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2] === '--child') {
  await childMain(process.argv[3]!);
}
