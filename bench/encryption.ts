/**
 * The cost of age encryption (issue 19), as ratios to the same operation without it, measured in
 * the same run: the backup job with `[encryption]` vs without (gzip -> age -> write vs gzip -> write),
 * and the pull of the encrypted backup (download + sha256 + decrypt + gunzip + integrity_check +
 * publish) vs the pull of the plain one, from one loopback sshd. Every measured call runs in a child
 * process of its own (its peak RSS is its own). Budget: peak RSS < 150 MB either way.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSshd } from '../test/helpers/sshd.js';
import { linkOrCopy } from './check.js';
import { runJobChild, type ChildReport } from './job.js';
import { median, runNodeChild, type ChildTiming } from './util.js';

const PULL_CHILD = fileURLToPath(new URL('./pull.js', import.meta.url));
export const ENCRYPTION_RSS_BUDGET_BYTES = 150 * 1048576;

export interface EncryptionRow {
  op: 'backup' | 'pull';
  plainMs: number;
  encryptedMs: number;
  /** encrypted / plain: the cost of encryption. */
  ratio: number;
  plainPeakRssBytes: number;
  encryptedPeakRssBytes: number;
}

export interface EncryptionBenchResult {
  runs: number;
  gzBytes: number;
  ageBytes: number;
  rows: EncryptionRow[];
}

export async function benchEncryption(db: string, opts: { runs: number; log: (s: string) => void }): Promise<EncryptionBenchResult> {
  const work = mkdtempSync(join(tmpdir(), 'sqlite-backup-bench-age-'));
  const sshd = await startSshd();
  try {
    const identity = join(work, 'key.txt');
    execFileSync('age-keygen', ['-o', identity], { stdio: 'ignore' });
    const recipient = execFileSync('age-keygen', ['-y', identity], { encoding: 'utf8' }).trim();
    const encryption = `[encryption]\nage_recipients = [${JSON.stringify(recipient)}]\n`;

    const plain: ChildReport[] = [];
    const encrypted: ChildReport[] = [];
    const kept = { plain: '', encrypted: '' };
    for (let i = 0; i < opts.runs; i++) {
      for (const [kind, toml, into] of [['plain', '', plain], ['encrypted', encryption, encrypted]] as const) {
        const dir = join(work, `${kind}-${i}`);
        const r = runJobChild(db, dir, toml);
        into.push(r);
        opts.log(`[bench] encryption: backup ${kind} run ${i + 1}: ${r.ms.toFixed(0)} ms (peak RSS ${(r.maxRssBytes / 1048576).toFixed(0)} MB)`);
        if (kept[kind] === '') kept[kind] = join(dir, r.name);
        else rmSync(dir, { recursive: true, force: true });
      }
    }

    // The two backups just made, each published alone in a remote directory.
    const knownHosts = join(work, 'known_hosts');
    writeFileSync(knownHosts, `${sshd.knownHostsLine()}\n`);
    for (const kind of ['plain', 'encrypted'] as const) {
      const remote = join(sshd.sftpRoot, kind);
      mkdirSync(remote, { mode: 0o700 });
      const name = kept[kind].split('/').pop()!;
      linkOrCopy(kept[kind], join(remote, name));
      linkOrCopy(`${kept[kind]}.sha256`, join(remote, `${name}.sha256`));
      writeFileSync(join(remote, 'latest.txt'), name);
    }
    const pulls = { plain: [] as ChildTiming[], encrypted: [] as ChildTiming[] };
    for (let i = 0; i < opts.runs; i++) {
      for (const kind of ['plain', 'encrypted'] as const) {
        const local = join(work, `local-${kind}-${i}`);
        const toml =
          `[pull]\nhost = "127.0.0.1"\nport = ${sshd.port}\nuser = ${JSON.stringify(sshd.username)}\n` +
          `private_key_path = ${JSON.stringify(sshd.userKey.privatePath)}\nknown_hosts = ${JSON.stringify(knownHosts)}\n` +
          `remote_dir = "${kind}"\nlocal_dir = ${JSON.stringify(local)}\n` +
          (kind === 'encrypted' ? `age_identity = ${JSON.stringify(identity)}\n` : '');
        const r = runNodeChild<ChildTiming>(PULL_CHILD, [toml]);
        pulls[kind].push(r);
        rmSync(local, { recursive: true, force: true });
        opts.log(`[bench] encryption: pull ${kind} run ${i + 1}: ${r.ms.toFixed(0)} ms (peak RSS ${(r.maxRssBytes / 1048576).toFixed(0)} MB)`);
      }
    }
    const row = (op: EncryptionRow['op'], p: { ms: number; maxRssBytes: number }[], e: { ms: number; maxRssBytes: number }[]): EncryptionRow => {
      const plainMs = median(p.map((r) => r.ms));
      const encryptedMs = median(e.map((r) => r.ms));
      return {
        op,
        plainMs,
        encryptedMs,
        ratio: encryptedMs / plainMs,
        plainPeakRssBytes: Math.max(...p.map((r) => r.maxRssBytes)),
        encryptedPeakRssBytes: Math.max(...e.map((r) => r.maxRssBytes)),
      };
    };
    return {
      runs: opts.runs,
      gzBytes: plain[0]!.gzBytes,
      ageBytes: encrypted[0]!.gzBytes,
      rows: [row('backup', plain, encrypted), row('pull', pulls.plain, pulls.encrypted)],
    };
  } finally {
    await sshd.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
