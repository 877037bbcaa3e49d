/**
 * Crash safety of pull's local publish when the server re-published a name (same name, other bytes):
 * the pull runs in a child process (fixtures/pull-child.ts) that SIGKILLs itself right after each
 * rename/rm/unlink in local_dir in turn. After every kill:
 *   - every sidecar in local_dir matches the file beside it (`sha256sum -c`): a file may lack its
 *     sidecar for a moment, never carry another file's hash;
 *   - latest.txt names a file that exists, holding the old bytes or the new ones;
 *   - the next pull, in this process, publishes the new bytes with a matching sidecar (also after a
 *     kill that left an empty `.part`, which once made every later pull fail with EEXIST).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { backup, parseConfig, pull, WasmEngine } from '../src/index.js';
import { LocalTransport } from '../src/transport/local/local.js';
import { createWithCli } from './helpers/databases.js';
import { requirePeer, run, sqlite3 } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const CHILD = fileURLToPath(new URL('./fixtures/pull-child.js', import.meta.url));
const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('pull killed during its local publish of a re-published name', () => {
  const root = tempDir();
  const engine = new WasmEngine();
  after(() => engine.close());

  it('leaves the old state or the new one after a SIGKILL at every step, never a file beside another hash', async (t) => {
    if (!requirePeer(t, 'sqlite3') || !requirePeer(t, 'sha256sum')) return;
    const remote = join(root, 'remote');
    createWithCli(join(root, 'app.db'), { rows: 30 });
    const serverConfig = parseConfig('source_path = "app.db"\nbackup_dir = "remote"\nkeep_last = 0\n', { baseDir: root });
    const { name } = await backup(serverConfig, { engine });
    const toml = join(root, 'pull.toml');
    writeFileSync(toml, '[pull]\nhost = "unused"\nuser = "unused"\nremote_dir = "/unused"\nlocal_dir = "local"\n');
    const config = parseConfig(readFileSync(toml, 'utf8'), { baseDir: root });
    const local = join(root, 'local');
    await pull(config, { engine, transport: new LocalTransport(remote) });
    const oldHash = sha256(join(local, name));
    const template = join(root, 'local-template');
    cpSync(local, template, { recursive: true });

    // The server re-publishes the same name with other bytes (and their sidecar).
    sqlite3(join(root, 'app.db'), "INSERT INTO users(name, email) VALUES ('new', 'new@example.org');");
    const other = await backup(serverConfig, { engine });
    renameSync(other.path, join(remote, name));
    unlinkSync(`${other.path}.sha256`);
    const newHash = sha256(join(remote, name));
    writeFileSync(join(remote, `${name}.sha256`), `${newHash}  ${name}\n`);
    writeFileSync(join(remote, 'latest.txt'), name);
    assert.notEqual(newHash, oldHash);

    const outcomes: string[] = [];
    for (let k = 1; k < 50; k++) {
      rmSync(local, { recursive: true, force: true });
      cpSync(template, local, { recursive: true });
      const child = spawnSync(process.execPath, [CHILD, toml, remote, String(k)], { encoding: 'utf8', cwd: root });
      const ops = child.stdout.split('\n').filter((l) => l.startsWith('op '));
      if (child.stdout.includes('done pulled')) {
        assert.equal(child.status, 0, child.stdout + child.stderr);
        break;
      }
      assert.equal(child.signal, 'SIGKILL', `kill ${k}: ${child.stdout}${child.stderr}`);
      const after = ops.at(-1)!;
      outcomes.push(after);
      const what = `after "${after}"`;
      // Every sidecar matches the file beside it.
      for (const f of readdirSync(local).filter((f) => f.endsWith('.sha256'))) {
        const r = run('sha256sum', ['-c', f], { cwd: local, allowFail: true });
        assert.equal(r.status, 0, `${what}: ${f} does not match its file: ${r.stdout}${r.stderr}`);
      }
      // latest.txt names a complete file: the old bytes or the new.
      const latest = readFileSync(join(local, 'latest.txt'), 'utf8');
      assert.equal(latest, name, what);
      assert.ok([oldHash, newHash].includes(sha256(join(local, name))), `${what}: ${name} is neither the old nor the new file`);
      // The next pull repairs and publishes the new bytes.
      const next = await pull(config, { engine, transport: new LocalTransport(remote) });
      assert.equal(next.sha256, newHash, what);
      assert.equal(sha256(join(local, name)), newHash, what);
      run('sha256sum', ['-c', `${name}.sha256`], { cwd: local });
    }
    // The kills covered the whole publish: the swap of the file under its name and the new sidecar.
    assert.ok(outcomes.some((o) => o.startsWith('op ') && o.includes(`.part ${join(local, name)}`)), outcomes.join('\n'));
    assert.ok(outcomes.some((o) => o.includes(`${name}.sha256`) && o.startsWith('op ') && o.includes(' rename ')), outcomes.join('\n'));
  });
});
