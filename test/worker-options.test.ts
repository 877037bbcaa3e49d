/**
 * Our worker threads start under `node --input-type=module -e "..."` too: a worker inherits
 * process.execArgv, and --input-type made every engine call fail with ERR_INPUT_TYPE_NOT_ALLOWED.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { createWithCli } from './helpers/databases.js';
import { requirePeer } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const index = pathToFileURL(new URL('../src/index.js', import.meta.url).pathname).href;

describe('worker threads under node --input-type=module -e', () => {
  it('the engine and the gzip workers run; a backup is made and verified', (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const dir = tempDir();
    createWithCli(join(dir, 'app.db'), { rows: 3000 }); // over one gzip chunk: the compress workers start too
    const script = `
      const { backup, parseConfig, verify } = await import(${JSON.stringify(index)});
      const r = await backup(parseConfig('source_path = "app.db"\\nbackup_dir = "b"\\n', { baseDir: ${JSON.stringify(dir)} }));
      console.log(JSON.stringify({ ok: (await verify(r.path)).ok }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim()), { ok: true });
  });
});
