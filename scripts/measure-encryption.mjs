// Encrypted vs plain backup() of one database: wall time and peak RSS (process.resourceUsage().maxRSS,
// worker threads included), each run in a fresh process, plain and encrypted alternating.
// usage: npm run build && node scripts/measure-encryption.mjs . <db> [runs]   (needs age-keygen)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [repo, db, runsArg = '3'] = process.argv.slice(2);
const key = join(mkdtempSync(join(tmpdir(), 'encm-key-')), 'key.txt');
execFileSync('age-keygen', ['-o', key], { stdio: 'ignore' });
const recipient = execFileSync('age-keygen', ['-y', key], { encoding: 'utf8' }).trim();
const child = `
const { backup, parseConfig } = await import(${JSON.stringify(resolve(repo, 'dist/src/index.js'))});
const [db, dir, recipient] = process.argv.slice(1);
const config = { ...parseConfig(recipient ? '[encryption]\\nage_recipients = ["' + recipient + '"]\\n' : ''), sourcePath: db, backupDir: dir };
const t0 = performance.now();
const r = await backup(config);
console.log(JSON.stringify({ ms: Math.round(performance.now() - t0), maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024), bytes: r.gzBytes, compressMs: r.timings.compressMs, encrypted: r.encrypted }));
`;
const rows = { plain: [], encrypted: [] };
for (let i = 0; i < Number(runsArg); i++) {
  for (const mode of ['plain', 'encrypted']) {
    const dir = mkdtempSync(join(tmpdir(), 'encm-out-'));
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', child, db, dir, mode === 'encrypted' ? recipient : ''], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    rows[mode].push(JSON.parse(r.stdout.trim().split('\n').pop()));
    rmSync(dir, { recursive: true, force: true });
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`database ${(statSync(db).size / 1e6).toFixed(1)} MB, ${runsArg} runs each, medians:`);
for (const mode of ['plain', 'encrypted']) {
  const r = rows[mode];
  console.log(`${mode.padEnd(9)} total ${median(r.map((x) => x.ms))} ms (gzip${mode === 'encrypted' ? '+age' : ''} stage ${median(r.map((x) => x.compressMs))} ms), peak RSS ${median(r.map((x) => x.maxRssMB))} MB, file ${(r[0].bytes / 1e6).toFixed(1)} MB   all: ${JSON.stringify(r.map((x) => [x.ms, x.maxRssMB]))}`);
}
