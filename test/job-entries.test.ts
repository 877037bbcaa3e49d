/**
 * The job handler (the restinpieces entry point) with a many-entry config: every due entry runs; a
 * failing entry fails the job after the others ran, with an EntriesError naming the failed labels.
 */
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createBackupHandler, EntriesError, ErrorCode, isBackupError, JOB_TYPE } from '../src/index.js';
import { createWithCli } from './helpers/databases.js';
import { requirePeer } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

describe('createBackupHandler with a many-entry config', () => {
  it('runs what is due; a failed entry fails the job after all ran, naming its label', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    const d = tempDir();
    createWithCli(join(d, 'app.db'), { rows: 20 });
    const file = join(d, 'many.toml');
    writeFileSync(file, '[vacuum.a]\nsource_path = "app.db"\ndest_path = "b"\nfrequency = "1h"\n[online.c]\nsource_path = "app.db"\ndest_path = "b"\ncompression = true\nfrequency = "1h"\n');
    const handler = createBackupHandler(file);
    const r = await handler.handle({ type: JOB_TYPE });
    assert.ok(Array.isArray(r));
    assert.deepEqual(r.map((o) => [o.label, o.status]), [['a', 'published'], ['c', 'published']]);
    const again = await handler.handle({ type: JOB_TYPE });
    assert.ok(Array.isArray(again));
    assert.deepEqual(again.map((o) => o.status), ['not-due', 'not-due']);

    writeFileSync(
      file,
      '[vacuum.broken]\nsource_path = "missing.db"\ndest_path = "b"\n[vacuum.a]\nsource_path = "app.db"\ndest_path = "b2"\n[online.c]\nsource_path = "app.db"\ndest_path = "b"\nfrequency = "1h"\n',
    );
    await assert.rejects(handler.handle({ type: JOB_TYPE }), (e: unknown) => {
      assert.ok(e instanceof EntriesError, String(e));
      assert.ok(isBackupError(e, ErrorCode.ENTRIES));
      assert.deepEqual(e.failed, ['[vacuum.broken]']);
      assert.match(e.message, /1 of 3 entries failed: \[vacuum\.broken\] .*missing\.db/);
      assert.deepEqual(e.outcomes.map((o) => o.status), ['failed', 'published', 'not-due']);
      assert.ok(isBackupError(e.outcomes[0]!.error, ErrorCode.SOURCE_NOT_FOUND));
      return true;
    });
    // The entry after the failed one ran.
    assert.equal(readdirSync(join(d, 'b2')).filter((f) => /^a-app\.db-\d{8}T\d{6}Z\.db$/.test(f)).length, 1);
  });
});
