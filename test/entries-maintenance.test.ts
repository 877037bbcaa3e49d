/**
 * prune, list and status with a many-entry config (the restinpieces-backup shape) and no directory:
 * each entry's dest_path, for that entry's database, with that entry's retention; with a directory,
 * the entries whose dest_path it is.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { run } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const sb = (args: string[]) => run(process.execPath, [cli, '--no-timestamps', ...args], { allowFail: true });
const jsonLines = (stdout: string) => stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
const root = tempDir();
let n = 0;

/** Backups of `dbName` in `dir` dated 2026-01-0<day>, each with a correct sidecar. */
function backups(dir: string, dbName: string, days: number): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (let day = 1; day <= days; day++) {
    const name = `${dbName}-2026010${day}T000000Z.bck.gz`;
    const body = Buffer.from(`${name} body`);
    writeFileSync(join(dir, name), body, { mode: 0o600 });
    writeFileSync(join(dir, `${name}.sha256`), `${createHash('sha256').update(body).digest('hex')}  ${name}\n`, { mode: 0o600 });
  }
}
const names = (dir: string, prefix: string) => readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith('.bck.gz')).sort();

function setup(extra = ''): { d: string; a: string; b: string; cfg: string } {
  const d = join(root, `c${++n}`);
  const a = join(d, 'a');
  const b = join(d, 'b');
  backups(a, 'app-app.db', 4);
  backups(a, 'logs-logs.db', 3);
  backups(b, 'other-other.db', 3);
  const cfg = join(d, 'many.toml');
  writeFileSync(
    cfg,
    `[vacuum.app]\nsource_path = "${d}/app.db"\ndest_path = "${a}"\ncompression = true\nkeep_last = 2\n` +
      `[online.logs]\nsource_path = "${d}/logs.db"\ndest_path = "${a}"\ncompression = true\n` +
      `[vacuum.other]\nsource_path = "${d}/other.db"\ndest_path = "${b}"\ncompression = true\nkeep_last = 1\n${extra}`,
  );
  return { d, a, b, cfg };
}

describe('prune/list/status with a many-entry config', () => {
  it('prune <dir> applies the policies of the entries whose dest_path it is; prune alone, every entry\'s', async () => {
    const { a, b, cfg } = setup();
    const one = await sb(['prune', b, '--config', cfg, '--json']);
    assert.equal(one.status, 0, one.stderr);
    assert.deepEqual(names(b, 'other-'), ['other-other.db-20260103T000000Z.bck.gz']);
    assert.equal(names(a, 'app-').length, 4, 'another dest_path is not touched');
    const [r] = jsonLines(one.stdout);
    assert.equal(r!.entry, '[vacuum.other]');
    assert.match(r!.policyFrom, /\[vacuum\.other\] in .*many\.toml/);

    const all = await sb(['prune', '--config', cfg]);
    assert.equal(all.status, 0, all.stderr);
    assert.deepEqual(names(a, 'app-'), ['app-app.db-20260103T000000Z.bck.gz', 'app-app.db-20260104T000000Z.bck.gz']);
    // No retention keys: the entry keeps everything, as upstream and as backup after it.
    assert.equal(names(a, 'logs-').length, 3);
    assert.match(all.stdout, /^\[vacuum\.app\] .*: removed 2, kept 2/m);
    assert.match(all.stdout, /^\[online\.logs\] .*: removed 0, kept 3 \(keep_last=0: everything is kept/m);

    // A directory no entry has: refused, naming the entries' dest_paths.
    const other = await sb(['prune', join(a, '..'), '--config', cfg]);
    assert.equal(other.status, 2);
    assert.ok(other.stderr.includes(`covers ${a}, ${b}, not this one`), other.stderr);

    // Through SQLITE_BACKUP_CONFIG too; --db narrows to one entry.
    const env = await run(process.execPath, [cli, 'prune', '--db', 'app-app.db', '--keep-last', '1', '--json'], { allowFail: true, env: { ...process.env, SQLITE_BACKUP_CONFIG: cfg } });
    assert.equal(env.status, 0, env.stderr);
    assert.deepEqual(jsonLines(env.stdout).map((x) => x.entry), ['[vacuum.app]']);
    assert.deepEqual(names(a, 'app-'), ['app-app.db-20260104T000000Z.bck.gz']);
    assert.equal(names(a, 'logs-').length, 3);
  });

  it('a restinpieces-backup file without sidecar counts as a backup (upstream writes none), even among ours', async () => {
    const { a, cfg } = setup();
    // The newest, without sidecar and not even gzip: what a killed run of ours or upstream could leave.
    writeFileSync(join(a, 'app-app.db-20260105T000000Z.bck.gz'), 'not settled', { mode: 0o600 });
    const r = await sb(['prune', '--config', cfg, '--db', 'app-app.db', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const [x] = jsonLines(r.stdout);
    assert.deepEqual([x!.unverified, x!.adopted, x!.discarded], [[], [], []]);
    assert.deepEqual(names(a, 'app-'), ['app-app.db-20260104T000000Z.bck.gz', 'app-app.db-20260105T000000Z.bck.gz']);
  });

  it('list shows every entry\'s backups', async () => {
    const { cfg } = setup();
    const r = await sb(['list', '--config', cfg, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      jsonLines(r.stdout).map((x) => [x.entry, x.backups.length, x.backups.every((e: any) => e.dbName === x.dbName)]),
      [['[vacuum.app]', 4, true], ['[vacuum.other]', 3, true], ['[online.logs]', 3, true]],
    );
    const human = await sb(['list', '--config', cfg]);
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, /^\[online\.logs\] .*\/a$/m);
  });

  it('status reports every entry; --max-age fails when any is stale, a missing entry fails', async () => {
    const { d, cfg } = setup();
    const r = await sb(['status', '--config', cfg, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const results = jsonLines(r.stdout);
    assert.deepEqual(results.map((x) => [x.entry, x.ok, x.newest.name, x.newest.checksum]), [
      ['[vacuum.app]', true, 'app-app.db-20260104T000000Z.bck.gz', 'ok'],
      ['[vacuum.other]', true, 'other-other.db-20260103T000000Z.bck.gz', 'ok'],
      ['[online.logs]', true, 'logs-logs.db-20260103T000000Z.bck.gz', 'ok'],
    ]);
    const stale = await sb(['status', '--config', cfg, '--max-age', '1h']);
    assert.equal(stale.status, 1);
    assert.match(stale.stderr, /\[vacuum\.app\] no backup newer than 1h/);

    const missing = setup(`[vacuum.none]\nsource_path = "/x/none.db"\ndest_path = "${join(d, 'c')}"\n`);
    mkdirSync(join(missing.d, 'c'));
    const m = await sb(['status', '--config', missing.cfg]);
    assert.equal(m.status, 1);
    assert.match(m.stdout, /^\[vacuum\.none\] no backups in .* of "none-none\.db"/m);
    assert.ok(existsSync(join(missing.d, 'c')));
  });
});
