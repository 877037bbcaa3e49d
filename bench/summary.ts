/**
 * The one table every step of `npm run bench` ends up in: ours / native for each step, the target,
 * and our peak RSS. `npm run bench -- --readme` writes it into README.md between the markers
 * `<!-- bench-table:start -->` and `<!-- bench-table:end -->`, so the README shows what was measured.
 */
import { cpus } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import type { BenchRow } from './compress.js';
import type { EngineBenchResult } from './engine.js';
import type { JobBenchResult } from './job.js';
import type { PullBenchResult, PullCaseResult } from './pull.js';
import type { CheckBenchResult, CheckRow } from './check.js';
import type { PushBenchResult } from './push.js';
import type { EncryptionBenchResult } from './encryption.js';
import { fmtMB, fmtMs, fmtRatio } from './util.js';

export interface BenchOutput {
  node: string;
  platform: string;
  sizeMB: number;
  engine?: EngineBenchResult;
  compress?: BenchRow[];
  job?: JobBenchResult;
  jobLarge?: JobBenchResult & { sizeMB: number };
  pull?: PullBenchResult;
  pullLarge?: PullBenchResult & { sizeMB: number };
  check?: CheckBenchResult;
  checkLarge?: CheckBenchResult & { sizeMB: number };
  push?: PushBenchResult;
  encryption?: EncryptionBenchResult;
  /** 1-minute load average when the run started and ended (the machine may be shared). */
  loadAtStart?: number;
  loadAtEnd?: number;
}

const START = '<!-- bench-table:start -->';
const END = '<!-- bench-table:end -->';

type Row = [step: string, ours: string, native: string, ratio: string, target: string, rss: string];

const ENGINE_ROWS: Record<string, [string, string]> = {
  vacuumInto: ['snapshot `vacuum`', '`sqlite3 src "VACUUM INTO \'x\'"`'],
  onlineBackup: ['snapshot `online`', '`sqlite3 src ".backup x"`'],
  integrityCheck: ['`integrity_check`', '`sqlite3 x "PRAGMA integrity_check"`'],
};

function verdict(ratio: number, target: number | undefined, higherIsBetter = false): string {
  if (target === undefined) return '';
  const ok = higherIsBetter ? ratio >= target : ratio <= target;
  return `${higherIsBetter ? '>=' : '<='} ${target}x ${ok ? 'ok' : '**missed**'}`;
}

export function summaryRows(o: BenchOutput): Row[] {
  const rows: Row[] = [];
  for (const x of o.engine?.results ?? []) {
    const [step, peer] = ENGINE_ROWS[x.op] ?? [x.op, 'native'];
    rows.push([`${step} vs ${peer}`, fmtMs(x.oursMedianMs), fmtMs(x.nativeMedianMs), fmtRatio(x.ratio), verdict(x.ratio, x.target), fmtMB(x.oursPeakRssBytes)]);
  }
  const row = (name: string) => o.compress?.find((r) => r.name === name);
  const gz = row('gzip ours (2 workers)');
  const gzip6 = row('gzip -6');
  const pigz = row('pigz -6 -p 2');
  const gunzip = row('gunzip ours (zlib)');
  const gzipD = row('gzip -d');
  const mib = (r: BenchRow | undefined) => (r?.peakRssMiB === undefined ? '' : `${r.peakRssMiB.toFixed(0)} MB`);
  if (gz && gzip6) {
    // Throughput: native time / our time (higher is better).
    const t = gzip6.medianMs / gz.medianMs;
    rows.push(['compress vs `gzip -6` (throughput)', fmtMs(gz.medianMs), fmtMs(gzip6.medianMs), `${fmtRatio(t)} the speed`, verdict(t, 1.6, true), mib(gz)]);
    rows.push(['compressed size vs `gzip -6`', fmtMB(gz.outputBytes), fmtMB(gzip6.outputBytes), fmtRatio(gz.outputBytes / gzip6.outputBytes), verdict(gz.outputBytes / gzip6.outputBytes, 1.04), '']);
  }
  if (gz && pigz) rows.push(['compress vs `pigz -6 -p 2`', fmtMs(gz.medianMs), fmtMs(pigz.medianMs), fmtRatio(gz.medianMs / pigz.medianMs), '', '']);
  if (gunzip && gzipD) rows.push(['decompress vs `gzip -d`', fmtMs(gunzip.medianMs), fmtMs(gzipD.medianMs), fmtRatio(gunzip.medianMs / gzipD.medianMs), '', mib(gunzip)]);
  if (o.job) {
    rows.push([
      'whole `backup` vs `sqlite3 VACUUM INTO && sqlite3 integrity_check && gzip -6 && sha256sum`',
      fmtMs(o.job.oursMs),
      fmtMs(o.job.nativeMs),
      fmtRatio(o.job.ratio),
      verdict(o.job.ratio, o.job.target),
      `${fmtMB(o.job.peakRssBytes)} (loop p99 ${o.job.eventLoopP99Ms.toFixed(0)} ms)`,
    ]);
  }
  if (o.jobLarge) {
    const l = o.jobLarge;
    rows.push([`whole \`backup\`, ${l.sizeMB} MB database`, fmtMs(l.oursMs), fmtMs(l.nativeMs), fmtRatio(l.ratio), verdict(l.ratio, l.target), `${fmtMB(l.peakRssBytes)} (budget 150 MB at any size)`]);
  }
  const pullPeer = '`scp` + `gzip -d` + `sqlite3 integrity_check`';
  const pullRow = (c: PullCaseResult, size: string): Row => [
    `\`pull\` of ${c.case === 'ours' ? 'our backup' : 'a foreign single-stream `gzip -6` file'} over loopback sshd${size} vs ${pullPeer}`,
    fmtMs(c.oursMs),
    fmtMs(c.nativeMs),
    fmtRatio(c.ratio),
    verdict(c.ratio, c.target),
    fmtMB(c.peakRssBytes),
  ];
  // Results saved by older versions (one case, no `cases`) have no rows here.
  for (const c of o.pull?.cases ?? []) rows.push(pullRow(c, ''));
  for (const c of o.pullLarge?.cases ?? []) {
    const r = pullRow(c, `, ${o.pullLarge!.sizeMB} MB database`);
    r[5] = `${r[5]} (budget 150 MB at any size)`;
    rows.push(r);
  }
  const checkPeer: Record<string, string> = {
    verify: '`sha256sum -c` && `gzip -dc > db` && `sqlite3 integrity_check`',
    restore: '`gzip -dc > db` && `sqlite3 integrity_check` (ours checks before placing, so native checks too)',
  };
  const checkRow = (x: CheckRow, size: string): Row => [
    `\`${x.op}\`${size} vs ${checkPeer[x.op] ?? x.native}`,
    fmtMs(x.oursMs),
    fmtMs(x.nativeMs),
    fmtRatio(x.ratio),
    verdict(x.ratio, x.target),
    fmtMB(x.peakRssBytes),
  ];
  for (const x of o.check?.rows ?? []) rows.push(checkRow(x, ''));
  for (const x of o.checkLarge?.rows ?? []) {
    const r = checkRow(x, `, ${o.checkLarge!.sizeMB} MB database`);
    r[5] = `${r[5]} (budget 150 MB at any size)`;
    rows.push(r);
  }
  if (o.push) {
    const p = o.push;
    rows.push([
      `\`backup\` + push to loopback Ceph RGW vs \`backup\` alone + a plain upload of the .gz (${p.uploadMBps.toFixed(0)} MB/s)`,
      fmtMs(p.backupPushMs),
      fmtMs(p.backupMs + p.uploadMs),
      fmtRatio(p.ratio),
      verdict(p.ratio, 1.1),
      fmtMB(p.peakRssBytes),
    ]);
  }
  for (const x of o.encryption?.rows ?? []) {
    const what = x.op === 'backup' ? 'whole `backup` with `[encryption]` (age)' : '`pull` of the encrypted backup (decrypt to check)';
    rows.push([`${what} vs the same without encryption`, fmtMs(x.encryptedMs), fmtMs(x.plainMs), fmtRatio(x.ratio), 'cost shown', fmtMB(x.encryptedPeakRssBytes)]);
  }
  return rows;
}

export function renderMarkdown(o: BenchOutput, date = new Date()): string {
  const head = ['step', 'ours', 'native', 'ours / native', 'target', 'our peak RSS'];
  const lines = [
    `Measured by \`npm run bench\` on ${date.toISOString().slice(0, 10)}: ${o.platform}, ${cpus().length} cores, Node ${o.node}, ` +
      `a ~${o.sizeMB} MB database, median of the runs; time ratios (below 1 = faster than native) unless stated` +
      (o.loadAtStart !== undefined ? `; load average ${o.loadAtStart}-${o.loadAtEnd ?? '?'} (shared machine).` : '.'),
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...summaryRows(o).map((r) => `| ${r.join(' | ')} |`),
  ];
  return lines.join('\n');
}

/** Replaces the table between the markers in `readmePath`; throws when the markers are missing. */
export function updateReadme(readmePath: string, o: BenchOutput): void {
  const text = readFileSync(readmePath, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${readmePath} has no ${START} ... ${END} section`);
  writeFileSync(readmePath, `${text.slice(0, a + START.length)}\n${renderMarkdown(o)}\n${text.slice(b)}`);
}
