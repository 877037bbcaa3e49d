/**
 * `compressWorkerUrl`: where a bundled or Electron app put `compress-worker.js`. backup's gzip workers
 * must start from there: a wrong location fails with ECOMPRESS_WORKER naming it (so the option is
 * really used), and the real location, given explicitly, works. verify, restore and pull decompress
 * with node:zlib and start no worker of ours, so a wrong location cannot break them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { backup, parseConfig, pull, restore, verify, WasmEngine, isBackupError, ErrorCode, type BackupResult } from '../src/index.js';
import { LocalTransport } from '../src/transport/local/local.js';
import { createLarge } from './helpers/databases.js';
import { requirePeer } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const REAL = new URL('../src/compress/compress-worker.js', import.meta.url);
const WRONG = new URL('file:///nonexistent/moved/compress-worker.js');

const wrongWorker = (e: unknown): boolean => {
  assert.ok(isBackupError(e, ErrorCode.COMPRESS_WORKER), String(e));
  assert.match((e as Error).message, /nonexistent\/moved\/compress-worker\.js/);
  return true;
};

describe('compressWorkerUrl', () => {
  const dir = tempDir();
  const engine = new WasmEngine();
  let published: BackupResult;

  it('backup: the gzip workers start from the given location', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    // Over one 1 MiB chunk, so the gzip runs in workers.
    createLarge(join(dir, 'app.db'), 3);
    const config = parseConfig('source_path = "app.db"\nbackup_dir = "backups"\n', { baseDir: dir });
    await assert.rejects(backup(config, { engine, compressWorkerUrl: WRONG }), wrongWorker);
    published = await backup(config, { engine, compressWorkerUrl: REAL });
    assert.ok(published.gzBytes > 0);
  });

  it('verify, restore and pull decompress without a worker (node:zlib): a wrong location does not matter to them', async (t) => {
    if (!published) return t.skip('needs the backup of the previous test');
    assert.equal((await verify(published.path, { engine, compressWorkerUrl: WRONG })).ok, true);
    await restore(published.path, join(dir, 'restored.db'), { engine, compressWorkerUrl: WRONG });
    const config = parseConfig('[pull]\nhost = "unused"\nuser = "u"\nremote_dir = "."\nlocal_dir = "pulled"\n', { baseDir: dir });
    const transport = new LocalTransport(join(dir, 'backups'));
    assert.equal((await pull(config, { engine, transport, compressWorkerUrl: WRONG })).status, 'pulled');
    await engine.close();
  });
});
