/**
 * Pull benchmark: a backup of the bench database published by our job into the SFTP login dir of a
 * throw-away loopback sshd (the test harness's), then pulled - download + sha256 + gunzip check +
 * integrity_check - against the native pipeline `scp` + `gzip -d` + `sqlite3 PRAGMA integrity_check`
 * in the same run. Goal (issue): ours <= 1.25x native.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { backup, parseConfig, pull, WasmEngine } from '../src/index.js';
import { scpFrom, startSshd } from '../test/helpers/sshd.js';
import { median, peakRssBytes, timeAsync, timeCommand } from './util.js';

export interface PullBenchResult {
  gzBytes: number;
  oursMs: number;
  nativeMs: number;
  ratio: number;
  target: number;
  oursPeakRssBytes: number;
  runs: number;
}

export async function benchPull(db: string, opts: { runs: number; log: (s: string) => void }): Promise<PullBenchResult> {
  const sshd = await startSshd();
  const work = mkdtempSync(join(tmpdir(), 'sqlite-backup-bench-pull-'));
  const engine = new WasmEngine();
  try {
    const remoteDir = join(sshd.sftpRoot, 'backups');
    opts.log('[bench] pull: publishing a backup of the bench database on the sshd side');
    const published = await backup(parseConfig(`source_path = ${JSON.stringify(db)}\nbackup_dir = ${JSON.stringify(remoteDir)}\n`), {
      engine,
    });
    const knownHosts = join(work, 'known_hosts');
    writeFileSync(knownHosts, `${sshd.knownHostsLine()}\n`);
    const ours: number[] = [];
    const native: number[] = [];
    for (let i = 0; i < opts.runs; i++) {
      const local = join(work, `ours-${i}`);
      const config = parseConfig(
        `[pull]\nhost = "127.0.0.1"\nport = ${sshd.port}\nuser = ${JSON.stringify(sshd.username)}\n` +
          `private_key_path = ${JSON.stringify(sshd.userKey.privatePath)}\nknown_hosts = ${JSON.stringify(knownHosts)}\n` +
          `remote_dir = "backups"\nlocal_dir = ${JSON.stringify(local)}\n`,
      );
      // Where the time goes: the first moment of each phase.
      const phases: [string, number][] = [];
      const t0 = Date.now();
      const { ms } = await timeAsync(() =>
        pull(config, {
          engine,
          onProgress: (p) => {
            if (phases.at(-1)?.[0] !== p.phase) phases.push([p.phase, Date.now() - t0]);
          },
        }),
      );
      ours.push(ms);
      const steps = phases.map(([phase, at], k) => `${phase} ${(((phases[k + 1]?.[1] ?? ms) - at) / 1000).toFixed(2)}s`);
      opts.log(`[bench] pull run ${i + 1}: ours ${ms.toFixed(0)} ms (${steps.join(', ')})`);
      rmSync(local, { recursive: true, force: true });

      const nativeDir = join(work, `native-${i}`);
      mkdirSync(nativeDir);
      const gz = join(nativeDir, published.name);
      const n0 = Date.now();
      scpFrom(sshd, knownHosts, `backups/${published.name}`, gz);
      await timeCommand('gzip', ['-d', gz]);
      await timeCommand('sqlite3', [gz.replace(/\.gz$/, ''), 'PRAGMA integrity_check']);
      native.push(Date.now() - n0);
      opts.log(`[bench] pull run ${i + 1}: native ${native.at(-1)} ms`);
      rmSync(nativeDir, { recursive: true, force: true });
    }
    const oursMs = median(ours);
    const nativeMs = median(native);
    return {
      gzBytes: published.gzBytes,
      oursMs,
      nativeMs,
      ratio: oursMs / nativeMs,
      target: 1.25,
      oursPeakRssBytes: peakRssBytes(),
      runs: opts.runs,
    };
  } finally {
    await engine.close();
    await sshd.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
