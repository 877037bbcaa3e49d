/**
 * Push benchmark: the whole backup job with a [[push]] to a loopback Ceph RADOS Gateway against the
 * same job without it, and against a plain upload of the same .gz to the same gateway with the AWS SDK
 * (lib-storage, the same 8 MiB parts), all in the same run. Target (issue 15): backup + push <=
 * backup alone + (.gz size / the plain upload's MB/s) + 10% - the push costs no more than an upload -
 * and peak RSS < 150 MB. Each job runs in a child process of its own (job.ts), so its RSS is its own.
 */
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { startCephRgw } from '../test/helpers/ceph-rgw.js';
import { runJobChild, type ChildReport } from './job.js';
import { median } from './util.js';

export const PUSH_SLACK = 1.1;

export interface PushBenchResult {
  runs: number;
  gzBytes: number;
  backupMs: number;
  backupPushMs: number;
  uploadMs: number;
  uploadMBps: number;
  /** backup alone + .gz / upload rate, +10%. */
  budgetMs: number;
  /** backupPushMs / (backupMs + uploadMs): 1 = the push cost exactly a plain upload. */
  ratio: number;
  peakRssBytes: number;
}

export async function benchPush(db: string, opts: { runs: number; log: (s: string) => void }): Promise<PushBenchResult> {
  const rgw = await startCephRgw();
  const work = mkdtempSync(join(tmpdir(), 'sqlite-backup-bench-push-'));
  const s3 = new S3Client({ endpoint: rgw.endpoint, region: rgw.region, forcePathStyle: true, credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey } });
  try {
    const bucket = await rgw.createBucket();
    const env = { ...process.env, ...rgw.env };
    const alone: ChildReport[] = [];
    const pushed: ChildReport[] = [];
    const uploads: number[] = [];
    let gzBytes = 0;
    for (let i = 0; i < opts.runs; i++) {
      const dir = join(work, `alone-${i}`);
      alone.push(runJobChild(db, dir, ''));
      opts.log(`[bench] push run ${i + 1}: backup alone ${alone.at(-1)!.ms.toFixed(0)} ms`);
      // The reference: a plain SDK upload of that very .gz to the same gateway.
      const gz = join(dir, alone.at(-1)!.name);
      gzBytes = statSync(gz).size;
      const t0 = performance.now();
      await new Upload({ client: s3, params: { Bucket: bucket, Key: `plain/${i}.gz`, Body: createReadStream(gz) }, partSize: 8 * 1048576, queueSize: 2 }).done();
      uploads.push(performance.now() - t0);
      opts.log(`[bench] push run ${i + 1}: plain upload ${uploads.at(-1)!.toFixed(0)} ms (${(gzBytes / 1048576 / (uploads.at(-1)! / 1000)).toFixed(0)} MB/s)`);
      rmSync(dir, { recursive: true, force: true });
      const pdir = join(work, `push-${i}`);
      const push = `[[push]]\nurl = "s3://${bucket}/run-${i}"\nendpoint = ${JSON.stringify(rgw.endpoint)}\n`;
      pushed.push(runJobChild(db, pdir, push, env));
      opts.log(`[bench] push run ${i + 1}: backup + push ${pushed.at(-1)!.ms.toFixed(0)} ms (peak RSS ${(pushed.at(-1)!.maxRssBytes / 1048576).toFixed(0)} MB)`);
      rmSync(pdir, { recursive: true, force: true });
    }
    const backupMs = median(alone.map((r) => r.ms));
    const backupPushMs = median(pushed.map((r) => r.ms));
    const uploadMs = median(uploads);
    return {
      runs: opts.runs,
      gzBytes,
      backupMs,
      backupPushMs,
      uploadMs,
      uploadMBps: gzBytes / 1048576 / (uploadMs / 1000),
      budgetMs: (backupMs + uploadMs) * PUSH_SLACK,
      ratio: backupPushMs / (backupMs + uploadMs),
      peakRssBytes: Math.max(...pushed.map((r) => r.maxRssBytes)),
    };
  } finally {
    s3.destroy();
    rmSync(work, { recursive: true, force: true });
    await rgw.stop();
  }
}
