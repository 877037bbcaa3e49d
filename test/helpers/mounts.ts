import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import type { TestContext } from 'node:test';

/**
 * Mounts a small tmpfs (a full disk on demand, or a read-only file system) for the duration of `fn`.
 * Needs root, which CI has; elsewhere the test is skipped.
 */
export async function withTmpfs(
  t: TestContext,
  dir: string,
  options: string,
  fn: () => Promise<void>,
): Promise<void> {
  if (process.getuid?.() !== 0) {
    if (process.env.CI) throw new Error('CI must run as root to mount a tmpfs for this test');
    t.skip('needs root to mount a tmpfs');
    return;
  }
  mkdirSync(dir, { recursive: true });
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { encoding: 'utf8' });
  if (m.status !== 0) throw new Error(`mount tmpfs failed: ${m.stderr}`);
  try {
    await fn();
  } finally {
    spawnSync('umount', [dir]);
  }
}
