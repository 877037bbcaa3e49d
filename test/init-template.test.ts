/**
 * The `sqlite-backup init` template: it loads with the real loader, every commented example is a
 * valid value, every key of CONFIG_KEYS is in it, and writing it never replaces an existing file.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CONFIG_DEFAULTS, CONFIG_KEYS, loadConfig, requireBackupConfig, requirePullConfig } from '../src/config/config.js';
import { configTemplate, PULL_URL_KEYS, TEMPLATE_SCOPE, writeConfigTemplate } from '../src/cli/init-template.js';
import { BackupError, ErrorCode } from '../src/errors.js';
import { tempDir } from './helpers/tmp.js';

/** A commented-out setting: `# key = value`. */
const COMMENTED_SETTING = /^# ([a-z0-9_]+ = .*)$/;
const COMMENTED_PULL_HEADER = `# [${TEMPLATE_SCOPE}.pull]`;

/**
 * The template with every commented setting and the pull table header uncommented; the [pull]
 * store-URL keys (the other form of [pull]) only with `urlForm`, and then instead of host, user, port
 * and remote_dir.
 */
function uncommentAll(text: string, urlForm = false): { text: string; settings: string[] } {
  const settings: string[] = [];
  const urlKeys = PULL_URL_KEYS.map((k) => k.slice('pull.'.length));
  const hostKeys = ['host', 'port', 'user', 'remote_dir', 'private_key_path', 'known_hosts', 'host_key_sha256'];
  const lines = text.split('\n').map((line) => {
    if (line === COMMENTED_PULL_HEADER) return line.slice(2);
    const m = COMMENTED_SETTING.exec(line);
    if (!m) return line;
    const key = m[1]!.split(' = ')[0]!;
    if ((urlForm ? hostKeys : urlKeys).includes(key)) return line;
    settings.push(m[1]!.split(' = ')[0]!);
    return m[1]!;
  });
  return { text: lines.join('\n'), settings };
}

describe('configTemplate', () => {
  const dir = tempDir();

  it('loads: source_path and backup_dir resolve next to the file, everything else is the default', async () => {
    const file = join(dir, 'plain.toml');
    writeFileSync(file, configTemplate());
    const config = requireBackupConfig(await loadConfig(file));
    assert.equal(config.sourcePath, join(dir, 'app.db'));
    assert.equal(config.backupDir, join(dir, 'backups'));
    assert.equal(config.pull, undefined, 'the pull table is commented out');
    const { pull: _pull, ...defaults } = CONFIG_DEFAULTS;
    const { sourcePath: _s, backupDir: _b, configPath: _c, ...rest } = config;
    assert.deepEqual(rest, defaults);
  });

  it('loads with every commented example uncommented, including the pull table', async () => {
    const { text, settings } = uncommentAll(configTemplate());
    // Exactly the optional keys were uncommented: no prose line looks like a setting.
    const optional = CONFIG_KEYS.filter((s) => !PULL_URL_KEYS.includes(s.key))
      .map((s) => s.key.replace(/^pull\./, ''))
      .filter((k) => k !== 'source_path' && k !== 'backup_dir');
    assert.deepEqual(settings, optional);
    const file = join(dir, 'uncommented.toml');
    writeFileSync(file, text);
    const config = requirePullConfig(requireBackupConfig(await loadConfig(file)));
    const { pull, sourcePath: _s, backupDir: _b, configPath: _c, ...rest } = config;
    const { pull: pullDefaults, ...defaults } = CONFIG_DEFAULTS;
    assert.deepEqual(rest, defaults, 'the main-table examples are the defaults');
    assert.equal(pull.host, 'db.example.org');
    assert.equal(pull.port, pullDefaults.port);
    assert.equal(pull.connectTimeoutMs, pullDefaults.connectTimeoutMs);
    assert.equal(pull.localDir, join(dir, 'pulled'));
  });

  it('loads in the store-URL form of [pull] too (url, endpoint, region, force_path_style)', async () => {
    const { text, settings } = uncommentAll(configTemplate(), true);
    for (const k of PULL_URL_KEYS) assert.ok(settings.includes(k.slice('pull.'.length)), k);
    const file = join(dir, 'uncommented-url.toml');
    writeFileSync(file, text);
    const config = requirePullConfig(await loadConfig(file));
    assert.equal(config.pull.url, 's3://my-bucket/app');
    assert.equal(config.pull.host, undefined);
  });

  it('mentions every key of CONFIG_KEYS with its description', () => {
    const text = configTemplate();
    const flat = text.replace(/\n# /g, ' '); // descriptions may wrap
    for (const spec of CONFIG_KEYS) {
      const name = spec.key.replace(/^pull\./, '');
      assert.match(text, new RegExp(`^(# )?${name} = `, 'm'), `key ${spec.key}`);
      assert.ok(flat.includes(spec.description), `description of ${spec.key}`);
    }
  });

  it('sets only source_path and backup_dir, inside the Go scope table', () => {
    const live = configTemplate()
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'));
    assert.deepEqual(live, [`[${TEMPLATE_SCOPE}]`, 'source_path = "./app.db"', 'backup_dir = "./backups"']);
  });
});

describe('writeConfigTemplate', () => {
  const dir = tempDir();

  it('creates the file with mode 0600 and the template', async () => {
    const file = join(dir, 'new.toml');
    await writeConfigTemplate(file);
    assert.equal(readFileSync(file, 'utf8'), configTemplate());
    if (process.platform !== 'win32') assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it('refuses an existing file and leaves it byte-identical', async () => {
    const file = join(dir, 'existing.toml');
    const before = Buffer.from('source_path = "/data/prod.db"\n# mine\n\u00ff', 'utf8');
    writeFileSync(file, before, { mode: 0o644 });
    await assert.rejects(writeConfigTemplate(file), (e: unknown) => {
      assert.ok(e instanceof BackupError, String(e));
      assert.equal(e.code, ErrorCode.CONFIG);
      assert.ok(e.message.includes(file), e.message);
      assert.match(e.message, /left unchanged/);
      return true;
    });
    assert.deepEqual(readFileSync(file), before);
    assert.equal(statSync(file).mode & 0o777, 0o644);
  });

  it('does not write through a symlink, even a dangling one', async () => {
    const link = join(dir, 'link.toml');
    const target = join(dir, 'target-does-not-exist.toml');
    symlinkSync(target, link);
    await assert.rejects(writeConfigTemplate(link), (e: unknown) => e instanceof BackupError && e.code === ErrorCode.CONFIG);
    assert.throws(() => statSync(target), { code: 'ENOENT' });
  });

  it('names the missing parent directory', async () => {
    const missing = join(dir, 'no-such-dir');
    await assert.rejects(writeConfigTemplate(join(missing, 'backup.toml')), (e: unknown) => {
      assert.ok(e instanceof BackupError, String(e));
      assert.equal(e.code, ErrorCode.DEST_DIR);
      assert.ok(e.message.includes(`"${missing}" does not exist`), e.message);
      return true;
    });
  });
});
