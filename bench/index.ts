/**
 * `npm run bench`: engine (ours vs native sqlite3) and, when bench/compress.js is there, compression.
 *
 *   node dist/bench/index.js [--size MB] [--json] [--only engine|compress|job|pull|check|push|encryption|huge] [--runs N]
 *                            [--read-ahead BYTES] [--cache KIB] [--matrix] [--cpu-prof DIR] [--large-mb N]
 *
 * The job, pull (our backup), verify and restore also run once on a --large-mb database (default 1024,
 * generated once into .bench/, a few minutes) for their peak RSS, which must not grow with the size;
 * --no-large skips that.
 * --huge (sizes 0.15, 1 and 9 GB) or --huge-gb LIST (e.g. 1,9) adds peak RSS per phase of backup, verify,
 * restore and pull at each size (bench/huge.ts; databases cached in $SQLITE_BACKUP_BENCH_CACHE or
 * ~/.cache/sqlite-backup-bench); --only huge runs just that.
 * --readme rewrites README.md's benchmark table from this run; --readme-from FILE from a saved --json run.
 * --matrix runs the engine bench for every readAheadBytes x cacheSizeKiB combination we tune over.
 * Never part of `npm test`.
 */
import { benchCompress } from './compress.js';
import { benchPull, PULL_RSS_BUDGET_BYTES, type PullBenchResult } from './pull.js';
import { benchCheck, CHECK_RSS_BUDGET_BYTES, type CheckBenchResult } from './check.js';
import { benchJob, JOB_ELD_BUDGET_MS, JOB_RSS_BUDGET_BYTES } from './job.js';
import { benchPush } from './push.js';
import { benchEncryption, ENCRYPTION_RSS_BUDGET_BYTES, type EncryptionBenchResult } from './encryption.js';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { ensureBenchDatabase } from './fixtures.js';
import { benchEngine, type EngineBenchOptions, type EngineBenchResult } from './engine.js';
import { fmtMB, fmtMs, fmtPhases, fmtRatio, formatTable, load1 } from './util.js';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderMarkdown, updateReadme, type BenchOutput } from './summary.js';
import { benchHuge, HUGE_DEFAULT_GB, hugeTable } from './huge.js';

const README = fileURLToPath(new URL('../../README.md', import.meta.url));

const MATRIX_READ_AHEAD = [0, 64 * 1024, 256 * 1024, 1024 * 1024];
const MATRIX_CACHE_KIB = [16384, 65536];
/** Default database size (--large-mb) at which peak RSS is measured again (it must not grow with the size). */
const LARGE_MB = 1024;
/** Peak RSS budget of the process running our engine (DESIGN.md). */
const RSS_BUDGET_BYTES = 150 * 1048576;

const fmtPhasePeaks = (phases: { phase: string; peakRssBytes: number }[]): string =>
  phases.map((p) => `${p.phase} ${fmtMB(p.peakRssBytes)}`).join(' | ');

function usage(): never {
  console.error(
    'usage: node dist/bench/index.js [--size MB] [--json] [--only engine|compress|job|pull|check|push|encryption|huge] [--runs N]\n' +
      '                                [--read-ahead BYTES] [--cache KIB] [--matrix] [--cpu-prof DIR]\n' +
      '                                [--readme] [--readme-from bench.json] [--no-large] [--large-mb N]\n' +
      '  --large-mb N   size of the large database on which job, pull, verify and restore run once more\n' +
      `                 for their peak RSS (default ${LARGE_MB}; generated once into .bench/); --no-large skips it\n` +
      `  --huge         peak RSS per phase of backup, verify, restore and pull at ${HUGE_DEFAULT_GB.join(', ')} GB\n` +
      '  --huge-gb LIST the same at these sizes (GB, comma-separated); databases cached in\n' +
      '                 $SQLITE_BACKUP_BENCH_CACHE or ~/.cache/sqlite-backup-bench; --only huge runs only this',
  );
  process.exit(2);
}

function engineTable(r: EngineBenchResult): string {
  const rows = [
    ['operation', 'ours', 'native', 'ours/native', 'target', 'cpu ratio', 'ours 1st run', 'ours peak RSS', 'loop p99', 'xRead', 'fs reads'],
  ];
  for (const x of r.results) {
    rows.push([
      x.op,
      fmtMs(x.oursMedianMs),
      fmtMs(x.nativeMedianMs),
      fmtRatio(x.ratio),
      x.target === undefined ? '' : `<= ${x.target}x ${x.ratio <= x.target ? 'ok' : 'MISSED'}`,
      fmtRatio(x.cpuRatio),
      fmtMs(x.oursFirstMs),
      `${fmtMB(x.oursPeakRssBytes)}${x.oursPeakRssBytes > RSS_BUDGET_BYTES ? ' OVER' : ''}`,
      `${x.eventLoopP99Ms.toFixed(0)} ms (idle ${x.eventLoopIdleP99Ms.toFixed(0)})`,
      String(x.readCalls),
      String(x.fsReads),
    ]);
  }
  const startup = r.results.length ? ` engine cold start ${fmtMs(Math.min(...r.results.map((x) => x.startupMs)))}` : '';
  const cfg = `cacheSizeKiB=${r.cacheSizeKiB ?? 'default'} readAheadBytes=${r.readAheadBytes ?? 'default'}`;
  return (
    `engine: ${r.database} (${fmtMB(r.databaseBytes)}), median of ${r.runs} (wall time), ${cfg};${startup}\n` +
    `${formatTable(rows)}\n` +
    'cpu ratio = user+sys CPU time ours/native (all threads); ours 1st run = first call of that operation in a fresh ' +
    'engine (lazy wasm compilation + tier-up);\nloop p99 = event-loop delay of the calling thread during our calls ' +
    '(monitorEventLoopDelay, 10 ms resolution) vs the same process idle; native integrity_check runs at the CLI ' +
    'default cache (2 MB), ours at cacheSizeKiB; OVER = peak RSS above the 150 MB budget'
  );
}

function matrixTable(all: EngineBenchResult[]): string {
  const ops = all[0]?.results.map((x) => x.op) ?? [];
  const rows = [['readAhead', 'cacheKiB', ...ops.map((o) => `${o} wall/cpu ratio`), 'peak RSS', 'fs reads (integrity)']];
  for (const r of all) {
    rows.push([
      r.readAheadBytes === 0 ? 'off' : `${(r.readAheadBytes ?? 0) / 1024} KiB`,
      String(r.cacheSizeKiB),
      ...r.results.map((x) => `${fmtRatio(x.ratio)} / ${fmtRatio(x.cpuRatio)} (${fmtMs(x.oursMedianMs)})`),
      ((peak) => `${fmtMB(peak)}${peak > RSS_BUDGET_BYTES ? ' OVER' : ''}`)(Math.max(...r.results.map((x) => x.oursPeakRssBytes))),
      String(r.results.find((x) => x.op === 'integrityCheck')?.fsReads ?? '-'),
    ]);
  }
  return formatTable(rows);
}

const loadRange = (l: number[]): string => (l.length ? `${Math.min(...l)}-${Math.max(...l)}` : '-');

function pullTable(r: PullBenchResult, what: string): string {
  const rows = [['case', '.gz', 'ours', 'scp + gzip -d + integrity_check', 'ours/native', 'target', 'peak RSS', 'load (1 min)']];
  const phases: string[] = [];
  for (const c of r.cases) {
    rows.push([
      c.case === 'ours' ? 'our backup' : 'foreign gzip -6',
      fmtMB(c.gzBytes),
      fmtMs(c.oursMs),
      fmtMs(c.nativeMs),
      fmtRatio(c.ratio),
      `<= ${c.target}x ${c.ratio <= c.target ? 'ok' : 'MISSED'}`,
      `${fmtMB(c.peakRssBytes)}${c.peakRssBytes > PULL_RSS_BUDGET_BYTES ? ' OVER' : ''}`,
      loadRange(c.load),
    ]);
    phases.push(`  ${c.case}: ours ${fmtPhases(c.oursPhases)} | native ${fmtPhases(c.nativePhases)}`);
  }
  return (
    `pull over SFTP from a loopback sshd (download + sha256 + gunzip check + integrity_check + publish, each pull in a child process), ${what}, median of ${r.runs}:\n` +
    `${formatTable(rows)}\nmedian phases (the gunzip runs during our download):\n${phases.join('\n')}\n`
  );
}

function checkTable(r: CheckBenchResult, what: string): string {
  const rows = [['op', 'ours', 'native', 'native pipeline', 'ours/native', 'target', 'peak RSS', 'load (1 min)']];
  const phases: string[] = [];
  for (const x of r.rows) {
    rows.push([
      x.op,
      fmtMs(x.oursMs),
      fmtMs(x.nativeMs),
      x.native,
      fmtRatio(x.ratio),
      `<= ${x.target}x ${x.ratio <= x.target ? 'ok' : 'MISSED'}`,
      `${fmtMB(x.peakRssBytes)}${x.peakRssBytes > CHECK_RSS_BUDGET_BYTES ? ' OVER' : ''}`,
      loadRange(x.load),
    ]);
    phases.push(`  ${x.op}: ours ${fmtPhases(x.oursPhases)} | native ${fmtPhases(x.nativePhases)}`);
  }
  return (
    `verify and restore of our backup (${fmtMB(r.gzBytes)} .gz, ${fmtMB(r.dbBytes)} db; each of ours in a child process), ${what}, median of ${r.runs}:\n` +
    `${formatTable(rows)}\nmedian phases:\n${phases.join('\n')}\n`
  );
}

function encryptionTable(r: EncryptionBenchResult): string {
  const rows = [['operation', 'plain', 'encrypted (age)', 'encrypted/plain', 'peak RSS plain', 'peak RSS encrypted']];
  for (const x of r.rows) {
    const over = (b: number) => `${fmtMB(b)}${b > ENCRYPTION_RSS_BUDGET_BYTES ? ' OVER' : ''}`;
    rows.push([x.op, fmtMs(x.plainMs), fmtMs(x.encryptedMs), fmtRatio(x.ratio), over(x.plainPeakRssBytes), over(x.encryptedPeakRssBytes)]);
  }
  return (
    `cost of age encryption (.gz ${fmtMB(r.gzBytes)}, .gz.age ${fmtMB(r.ageBytes)}), each call in a child process, median of ${r.runs}:\n` +
    `${formatTable(rows)}\nbackup = the whole job with [encryption] vs without; pull = from a loopback sshd, decrypting to check vs plain\n`
  );
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        size: { type: 'string', default: '150' },
        json: { type: 'boolean', default: false },
        only: { type: 'string' },
        runs: { type: 'string', default: '3' },
        'read-ahead': { type: 'string' },
        cache: { type: 'string' },
        matrix: { type: 'boolean', default: false },
        'cpu-prof': { type: 'string' },
        readme: { type: 'boolean', default: false },
        'no-large': { type: 'boolean', default: false },
        'large-mb': { type: 'string', default: String(LARGE_MB) },
        'readme-from': { type: 'string' },
        huge: { type: 'boolean', default: false },
        'huge-gb': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }).values;
  } catch (e) {
    console.error((e as Error).message);
    usage();
  }
  if (args.help) usage();
  if (args['readme-from'] !== undefined) {
    // Regenerate the README table from a saved `--json` run, without measuring again.
    updateReadme(README, JSON.parse(readFileSync(args['readme-from'], 'utf8')) as BenchOutput);
    console.error(`[bench] README.md table rewritten from ${args['readme-from']}`);
    return;
  }
  const sizeMB = Number(args.size);
  const runs = Number(args.runs);
  const largeMB = Number(args['large-mb']);
  if (!(sizeMB > 0) || !Number.isInteger(runs) || runs < 1 || !(largeMB > 0)) usage();
  if (args.only !== undefined && !['engine', 'compress', 'job', 'pull', 'check', 'push', 'encryption', 'huge'].includes(args.only)) usage();
  const hugeGb = args['huge-gb'] !== undefined ? args['huge-gb'].split(',').map(Number) : args.huge || args.only === 'huge' ? HUGE_DEFAULT_GB : [];
  if (hugeGb.some((gb) => !(gb > 0))) usage();
  // The large rows run when the large database is larger than the main one.
  const large = !args['no-large'] && sizeMB < largeMB;
  const json = args.json;
  // Progress goes to stderr, so `--json > out.json` stays clean.
  const log = (msg: string): void => void process.stderr.write(`${msg}\n`);
  const output: Record<string, unknown> = { node: process.version, platform: `${process.platform}-${process.arch}`, sizeMB, loadAtStart: load1() };
  const notes: string[] = [];

  if (args.only === 'huge') {
    const rows = await benchHuge(hugeGb, log);
    if (json) console.log(JSON.stringify({ ...output, huge: rows, loadAtEnd: load1() }, null, 2));
    else console.log(hugeTable(rows));
    return;
  }

  const db = await ensureBenchDatabase({ sizeMB, log });

  if (args.only === undefined || args.only === 'engine') {
    const base: EngineBenchOptions = {
      runs,
      log,
      ...(args['cpu-prof'] ? { cpuProfDir: resolve(args['cpu-prof']) } : {}),
    };
    if (args.matrix) {
      const all: EngineBenchResult[] = [];
      for (const cacheSizeKiB of MATRIX_CACHE_KIB) {
        for (const readAheadBytes of MATRIX_READ_AHEAD) {
          log(`[bench] engine matrix: readAheadBytes=${readAheadBytes} cacheSizeKiB=${cacheSizeKiB}`);
          all.push(await benchEngine(db, { ...base, readAheadBytes, cacheSizeKiB }));
        }
      }
      output.engineMatrix = all;
      if (!json) console.log(`engine tuning matrix (ours/native, median of ${runs}):\n${matrixTable(all)}\n`);
    } else {
      const r = await benchEngine(db, {
        ...base,
        ...(args['read-ahead'] !== undefined ? { readAheadBytes: Number(args['read-ahead']) } : {}),
        ...(args.cache !== undefined ? { cacheSizeKiB: Number(args.cache) } : {}),
      });
      output.engine = r;
      if (!json) console.log(`${engineTable(r)}\n`);
    }
  }

  if (args.only === undefined || args.only === 'compress') {
    // benchCompress prints its own table through `log`: to stdout for humans, to stderr with --json.
    const human = (line: string): void => console.log(line);
    output.compress = await benchCompress({ file: db, runs, log: json ? log : human });
    if (!json) console.log('');
  }

  if (args.only === undefined || args.only === 'job') {
    const r = await benchJob(db, { runs, log });
    output.job = r;
    // Peak RSS must not grow with the database: one more job on a database of largeMB.
    if (large) {
      const largeDb = await ensureBenchDatabase({ sizeMB: largeMB, log });
      output.jobLarge = { sizeMB: largeMB, ...(await benchJob(largeDb, { runs: 1, log })) };
    }
    if (!json) {
      console.log(
        `whole backup job (copy + VACUUM INTO + integrity_check + gzip + sha256 + publish), median of ${r.runs}:\n` +
          formatTable([
            ['ours', 'native serial pipeline', 'ours/native', 'target', 'peak RSS', 'loop p99 / max', '.gz vs gzip -6'],
            [
              fmtMs(r.oursMs),
              fmtMs(r.nativeMs),
              fmtRatio(r.ratio),
              `<= ${r.target}x ${r.ratio <= r.target ? 'ok' : 'MISSED'}`,
              `${fmtMB(r.peakRssBytes)}${r.peakRssBytes > JOB_RSS_BUDGET_BYTES ? ' OVER' : ''}`,
              `${r.eventLoopP99Ms.toFixed(0)} / ${r.eventLoopMaxMs.toFixed(0)} ms${r.eventLoopP99Ms > JOB_ELD_BUDGET_MS ? ' OVER' : ''}`,
              fmtRatio(r.sizeRatio),
            ],
          ]) +
          '\nnative = sqlite3 VACUUM INTO && sqlite3 PRAGMA integrity_check && gzip -6 && sha256sum, one after another\n' +
          `our peak RSS per phase (highest of the runs, sampled every 100 ms): ${fmtPhasePeaks(r.phasePeakRss)}\n` +
          (output.jobLarge ? `the same at ${largeMB} MB: ${fmtPhasePeaks((output.jobLarge as typeof r).phasePeakRss)}\n` : ''),
      );
    }
  }

  if (args.only === undefined || args.only === 'pull') {
    const r = await benchPull(db, { runs, log });
    output.pull = r;
    if (!json) console.log(pullTable(r, `${sizeMB} MB database`));
    if (large) {
      const largeDb = await ensureBenchDatabase({ sizeMB: largeMB, log });
      const l = { sizeMB: largeMB, ...(await benchPull(largeDb, { runs: 1, log, cases: ['ours'] })) };
      output.pullLarge = l;
      if (!json) console.log(pullTable(l, `${largeMB} MB database, once`));
    }
  }

  if (args.only === undefined || args.only === 'check') {
    const r = await benchCheck(db, { runs, log });
    output.check = r;
    if (!json) console.log(checkTable(r, `${sizeMB} MB database`));
    if (large) {
      const largeDb = await ensureBenchDatabase({ sizeMB: largeMB, log });
      const l = { sizeMB: largeMB, ...(await benchCheck(largeDb, { runs: 1, log })) };
      output.checkLarge = l;
      if (!json) console.log(checkTable(l, `${largeMB} MB database, once`));
    }
  }

  if (args.only === undefined || args.only === 'push') {
    const r = await benchPush(db, { runs, log });
    output.push = r;
    if (!json) {
      console.log(
        `backup + push to a loopback Ceph RGW (${fmtMB(r.gzBytes)} .gz) vs backup alone + a plain SDK upload of the .gz (${r.uploadMBps.toFixed(0)} MB/s), median of ${r.runs}:\n` +
          formatTable([
            ['backup + push', 'backup alone', 'plain upload', 'budget (+10%)', 'ratio', 'peak RSS'],
            [
              fmtMs(r.backupPushMs),
              fmtMs(r.backupMs),
              fmtMs(r.uploadMs),
              `${fmtMs(r.budgetMs)} ${r.backupPushMs <= r.budgetMs ? 'ok' : 'MISSED'}`,
              fmtRatio(r.ratio),
              `${fmtMB(r.peakRssBytes)}${r.peakRssBytes > JOB_RSS_BUDGET_BYTES ? ' OVER' : ''}`,
            ],
          ]) +
          '\n',
      );
    }
  }

  if (args.only === undefined || args.only === 'encryption') {
    const r = await benchEncryption(db, { runs, log });
    output.encryption = r;
    if (!json) console.log(encryptionTable(r));
  }

  if (hugeGb.length) {
    const rows = await benchHuge(hugeGb, log);
    output.huge = rows;
    if (!json) console.log(hugeTable(rows));
  }

  output.loadAtEnd = load1();
  if (notes.length) output.notes = notes;
  if (!json) console.log(`summary:\n${renderMarkdown(output as unknown as BenchOutput)}\n`);
  if (args.readme) {
    updateReadme(README, output as unknown as BenchOutput);
    log('[bench] README.md benchmark table rewritten');
  }
  if (json) console.log(JSON.stringify(output, null, 2));
  else for (const n of notes) console.log(`note: ${n}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
