/**
 * pull's restore_to over a LocalTransport: the replaced database's owner, group and mode are kept,
 * and the `<restore_to>.before-restore-<time>` copies are bounded (keep_before_restore, default 2;
 * the library option overrides it), so a pull on a schedule does not fill the disk.
 */
import { after, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backup, parseConfig, pull, WasmEngine } from '../src/index.js';
import { LocalTransport } from '../src/transport/local/local.js';
import { tempDir } from './helpers/tmp.js';
import { requirePeer, sqlite3 } from './helpers/peers.js';
import { createWithCli } from './helpers/databases.js';

describe('pull --restore-to', () => {
  const root = tempDir();
  const engine = new WasmEngine();
  after(() => engine.close());
  let n = 0;

  /** A server directory, a pull config (with `extra` in [pull]) and a function making one more backup there. */
  function setup(extra = '') {
    const dir = join(root, `case-${n++}`);
    mkdirSync(dir);
    createWithCli(join(dir, 'app.db'), { rows: 20 });
    const serverConfig = parseConfig('source_path = "app.db"\nbackup_dir = "remote"\nkeep_last = 0\n', { baseDir: dir });
    let rows = 20;
    const newBackup = async (): Promise<void> => {
      sqlite3(join(dir, 'app.db'), `INSERT INTO users(name, email) VALUES ('u${++rows}', 'u${rows}@example.org');`);
      await backup(serverConfig, { engine });
    };
    const config = parseConfig(`[pull]\nhost = "unused"\nuser = "unused"\nremote_dir = "/unused"\nlocal_dir = "local"\n${extra}`, { baseDir: dir });
    const pullNow = (options: Parameters<typeof pull>[1] = {}) =>
      pull(config, { engine, transport: new LocalTransport(join(dir, 'remote')), restoreTo: join(dir, 'live.db'), ...options });
    const aside = (): string[] => readdirSync(dir).filter((f) => f.startsWith('live.db.before-restore-')).sort();
    return { dir, newBackup, pullNow, aside, rowsNow: () => rows };
  }

  it('keeps the newest 2 before-restore copies by default; keep_before_restore and the option change that', async (t) => {
    if (!requirePeer(t, 'sqlite3')) return;
    for (const [extra, option, keep] of [
      ['', undefined, 2],
      ['keep_before_restore = 1\n', undefined, 1],
      ['keep_before_restore = 0\n', undefined, 0],
      ['keep_before_restore = 0\n', 3, 3],
    ] as const) {
      const { dir, newBackup, pullNow, aside, rowsNow } = setup(extra);
      writeFileSync(join(dir, 'live.db'), 'the original');
      const removed: string[] = [];
      for (let i = 0; i < 4; i++) {
        await newBackup();
        const r = await pullNow(option !== undefined ? { keepBeforeRestore: option } : {});
        assert.equal(r.status, 'pulled');
        assert.equal(r.restore!.movedAside.length, 1);
        removed.push(...r.restore!.removed);
      }
      const left = aside();
      assert.equal(left.length, keep, `${extra}${option}: ${left.join(' ')}`);
      assert.equal(removed.length, 4 - keep);
      assert.equal(sqlite3(join(dir, 'live.db'), 'SELECT count(*) FROM users').stdout.trim(), String(rowsNow()));
      // The oldest copies went first: "the original" survives only when all are kept.
      const kept = left.map((f) => readFileSync(join(dir, f)));
      assert.equal(kept.some((b) => b.toString() === 'the original'), keep >= 4);
    }
  });

  it('the restored database keeps the replaced one owner, group and mode (as root)', async (t: TestContext) => {
    if (!requirePeer(t, 'sqlite3')) return;
    if (process.getuid?.() !== 0) {
      t.skip('needs root to create a file owned by another user');
      return;
    }
    const { dir, newBackup, pullNow } = setup();
    const live = join(dir, 'live.db');
    createWithCli(live, { rows: 1 });
    chownSync(live, 12345, 23456);
    chmodSync(live, 0o660);
    await newBackup();
    const r = await pullNow();
    assert.deepEqual(r.restore!.warnings, []);
    const st = statSync(live);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [12345, 23456, 0o660]);
  });
});
