/**
 * The TOML config loader: the Go version's documents load unchanged, defaults, scope tables, path
 * rules, and every error path (all problems of a file in one ECONFIG, with keys and lines).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BackupError, ErrorCode } from '../src/errors.js';
import {
  CONFIG_DEFAULTS,
  CONFIG_KEYS,
  ConfigError,
  loadConfig,
  parseConfig,
  requireBackupConfig,
  requirePullConfig,
  type ConfigProblem,
} from '../src/config/config.js';
import { formatDuration, parseDuration } from '../src/config/duration.js';
import { requirePeer, run } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const BASE = '/etc/app';
const parse = (text: string) => parseConfig(text, { baseDir: BASE, source: '/etc/app/backup.toml' });

/** Parsing `text` fails with one ConfigError; returns its problems. */
function problemsOf(text: string): ConfigProblem[] {
  let problems: ConfigProblem[] = [];
  assert.throws(() => parse(text), (e: unknown) => {
    assert.ok(e instanceof ConfigError && e instanceof BackupError, String(e));
    assert.equal(e.code, ErrorCode.CONFIG);
    problems = [...e.problems];
    return true;
  });
  return problems;
}

/** The single problem of `text`: its key must be `key` and its message must match `message`. */
function oneProblem(text: string, key: string, message: RegExp): ConfigProblem {
  const problems = problemsOf(text);
  assert.equal(problems.length, 1, JSON.stringify(problems));
  assert.equal(problems[0]!.key, key);
  assert.match(problems[0]!.message, message);
  return problems[0]!;
}

// The Go project's documents, byte for byte (github.com/caasmo/restinpieces-sqlite-backup).
/** README at b3df5e6 (the seed): stored under scope `db_backup_config`. */
const GO_SEED = `source_path = "/path/to/your/database.db"\nbackup_dir = "/path/to/your/backups"\n`;
/** README "Deployment Workflow" example at 0f4e1af (scope renamed `sqlite_backup`). */
const GO_README_ONLINE = `# Example for the 'online' strategy
source_path = "/path/to/your/database.db"
backup_dir = "/path/to/your/backups"
strategy = "online"
pages_per_step = 200
sleep_interval = "20ms"
progress_log_interval = "30s"
`;
/** cmd/generate-blueprint-config output at 4f13332 (go-toml/v2 Marshal of GenerateBlueprintConfig). */
const GO_BLUEPRINT_4F13332 = `source_path = '/path/to/your/database.db'
backup_dir = '/path/to/your/backups'
strategy = 'vacuum'
pages_per_step = 100
sleep_interval = '10ms'
progress_log_interval = '15s'
`;
/** The same at 8226f4a (HEAD: progress_log_interval removed, default strategy online). */
const GO_BLUEPRINT_HEAD = `source_path = '/path/to/your/database.db'
backup_dir = '/path/to/your/backups'
strategy = 'online'
pages_per_step = 100
sleep_interval = '10ms'
`;

describe('Go config documents', () => {
  it('the exact Go config documents (seed and upstream) load unchanged', () => {
    const seed = parse(GO_SEED);
    assert.equal(seed.sourcePath, '/path/to/your/database.db');
    assert.equal(seed.backupDir, '/path/to/your/backups');
    assert.equal(seed.strategy, 'vacuum');

    const online = parse(GO_README_ONLINE);
    assert.deepEqual(
      [online.strategy, online.pagesPerStep, online.sleepIntervalMs, online.progressLogIntervalMs],
      ['online', 200, 20, 30_000],
    );
    const blueprint = parse(GO_BLUEPRINT_4F13332);
    assert.deepEqual([blueprint.strategy, blueprint.pagesPerStep, blueprint.sleepIntervalMs, blueprint.progressLogIntervalMs], ['vacuum', 100, 10, 15_000]);
    const head = parse(GO_BLUEPRINT_HEAD);
    assert.deepEqual([head.strategy, head.sourcePath, head.backupDir], ['online', '/path/to/your/database.db', '/path/to/your/backups']);
    requireBackupConfig(head);
  });

  it('unwraps a single [db_backup_config] or [sqlite_backup] table', () => {
    for (const scope of ['db_backup_config', 'sqlite_backup']) {
      const wrapped = parse(`[${scope}]\n${GO_README_ONLINE}[${scope}.pull]\nhost = "h"\n`);
      const { pull, ...rest } = wrapped;
      assert.deepEqual(rest, parse(GO_README_ONLINE));
      assert.equal(pull?.host, 'h');
    }
  });

  it('a scope table next to other top-level keys is an error, with lines inside the scope', () => {
    const p = problemsOf('strategy = "online"\n[sqlite_backup]\nsource_path = "a"\n');
    assert.deepEqual(p.map((x) => [x.key, x.line]), [['sqlite_backup', 2]]);
    assert.match(p[0]!.message, /must hold the whole config.*strategy/);
    const inScope = oneProblem('[sqlite_backup]\nsource_path = "a"\nkeep_last = -1\n', 'keep_last', />= 0/);
    assert.equal(inScope.line, 3);
  });
});

describe('defaults', () => {
  it('an empty file gives every default and no paths or [pull]', () => {
    const { pull: _pull, ...defaults } = CONFIG_DEFAULTS;
    assert.deepEqual(parse(''), defaults);
    assert.deepEqual(defaults, {
      strategy: 'vacuum', pagesPerStep: 100, sleepIntervalMs: 10, progressLogIntervalMs: 15_000, compressionLevel: 6,
      verify: 'full', keepLast: 30, keepHourly: 0, keepDaily: 0, keepWeekly: 0, keepMonthly: 0, keepYearly: 0, lockTimeoutMs: 0,
    });
  });

  it('[pull] defaults: port 22, 30s connect timeout, ~/.ssh/known_hosts unless a fingerprint is pinned', () => {
    const pull = parse('[pull]\nhost = "h"\n').pull!;
    assert.deepEqual(pull, {
      host: 'h', port: 22, connectTimeoutMs: 30_000, idleTimeoutMs: 60_000, keepBeforeRestore: 2, knownHosts: join(homedir(), '.ssh/known_hosts'),
    });
    const pinned = parse(`[pull]\nhost_key_sha256 = "SHA256:${'A'.repeat(43)}"\n`).pull!;
    assert.equal(pinned.knownHosts, undefined);
  });

  it('CONFIG_KEYS documents every key once, and every key it lists is accepted', () => {
    const keys = CONFIG_KEYS.map((k) => k.key);
    assert.equal(new Set(keys).size, keys.length);
    const { pull, ...top } = CONFIG_DEFAULTS;
    for (const prop of Object.keys(top)) assert.ok(CONFIG_KEYS.some((k) => k.prop === prop && !k.key.startsWith('pull.')), prop);
    for (const prop of Object.keys(pull)) assert.ok(CONFIG_KEYS.some((k) => k.prop === prop && k.key.startsWith('pull.')), prop);
    for (const k of CONFIG_KEYS) assert.ok(k.type && k.default && k.description, k.key);
    const config = parse(`lock_timeout = "2s"\nverify = "quick"\ncompression_level = 9\nkeep_daily = 7\nkeep_weekly = 4
[pull]\nuser = "u"\nport = 2222\nprivate_key_path = "/k"\nknown_hosts = "/kh"\nremote_dir = "r"\nlocal_dir = "/l"\nconnect_timeout = "1m30s"\nkeep_before_restore = 5\n`);
    assert.deepEqual([config.lockTimeoutMs, config.verify, config.compressionLevel, config.keepDaily, config.keepWeekly], [2000, 'quick', 9, 7, 4]);
    assert.deepEqual(config.pull, { user: 'u', port: 2222, privateKeyPath: '/k', knownHosts: '/kh', remoteDir: 'r', localDir: '/l', connectTimeoutMs: 90_000, idleTimeoutMs: 60_000, keepBeforeRestore: 5 });
  });
});

describe('paths', () => {
  const dir = tempDir();

  it('relative local paths resolve against the config file directory, not the cwd', async () => {
    mkdirSync(join(dir, 'etc'));
    const file = join(dir, 'etc', 'backup.toml');
    writeFileSync(file, `source_path = "data/app.db"\nbackup_dir = "../backups"\n[pull]
private_key_path = "keys/id_ed25519"\nknown_hosts = "./kh"\nlocal_dir = "in"\nremote_dir = "../out"\n`);
    const c = await loadConfig(file);
    assert.equal(c.configPath, file);
    assert.equal(c.sourcePath, join(dir, 'etc', 'data', 'app.db'));
    assert.equal(c.backupDir, join(dir, 'backups'));
    assert.equal(c.pull!.privateKeyPath, join(dir, 'etc', 'keys', 'id_ed25519'));
    assert.equal(c.pull!.knownHosts, join(dir, 'etc', 'kh'));
    assert.equal(c.pull!.localDir, join(dir, 'etc', 'in'));
    assert.equal(c.pull!.remoteDir, '../out', 'remote_dir is never resolved');
    assert.equal(parseConfig('source_path = "a.db"').sourcePath, join(process.cwd(), 'a.db'), 'parseConfig: cwd by default');
    assert.equal(parseConfig('source_path = "/x/../y/a.db"', { baseDir: dir }).sourcePath, '/y/a.db');
  });

  it('~ and ~/... expand to the home directory; remote_dir keeps its ~; ~user is refused', () => {
    const c = parse('backup_dir = "~"\nsource_path = "~/db/app.db"\n[pull]\nremote_dir = "~/backups"\nlocal_dir = "~/pulled"\n');
    assert.equal(c.backupDir, homedir());
    assert.equal(c.sourcePath, join(homedir(), 'db', 'app.db'));
    assert.equal(c.pull!.remoteDir, '~/backups');
    assert.equal(c.pull!.localDir, join(homedir(), 'pulled'));
    oneProblem('source_path = "~bob/app.db"', 'source_path', /~user.*not supported/);
  });

  it('a NUL in a path (or any string) is a config problem naming the key, not an fs error later', () => {
    for (const key of ['source_path', 'backup_dir']) oneProblem(`${key} = "/data/app\\u0000.db"`, key, /must not contain a NUL character/);
    oneProblem('[pull]\nlocal_dir = "/x\\u0000"', 'pull.local_dir', /NUL/);
    oneProblem('[pull]\nremote_dir = "/x\\u0000"', 'pull.remote_dir', /NUL/);
    oneProblem('[[push]]\nurl = "sftp://u@h/p"\nprivate_key_path = "/k\\u0000"', 'push.private_key_path', /NUL/);
  });

  it('loads a file with a BOM and CRLF line ends', async () => {
    const file = join(dir, 'crlf.toml');
    writeFileSync(file, '\uFEFFsource_path = "/a.db"\r\nkeep_last = 3\r\n');
    const c = await loadConfig(file);
    assert.deepEqual([c.sourcePath, c.keepLast], ['/a.db', 3]);
  });
});

describe('required keys per command', () => {
  const dir = tempDir();

  it('a pull-only file loads; backup needs source_path and backup_dir', () => {
    const c = parse('[pull]\nhost = "h"\nuser = "u"\nremote_dir = "/srv/b"\nlocal_dir = "/l"\n');
    assert.equal(requirePullConfig(c).pull.host, 'h');
    assert.throws(() => requireBackupConfig(c), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.code, 'ECONFIG');
      assert.deepEqual(e.problems.map((p) => p.key), ['source_path', 'backup_dir']);
      assert.match(e.message, /^config has 2 problems:\n {2}source_path: required for a backup\n {2}backup_dir: required for a backup$/);
      return true;
    });
  });

  it('pull needs a [pull] table with host, user, remote_dir and local_dir; the message names the file', async () => {
    const file = join(dir, 'b.toml');
    writeFileSync(file, GO_SEED);
    const seed = await loadConfig(file);
    assert.equal(requireBackupConfig(seed).sourcePath, '/path/to/your/database.db');
    assert.throws(() => requirePullConfig(seed), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.path, file);
      assert.match(e.message, new RegExp(`^config "${file}" has 1 problem:\n  pull: a \\[pull\\] table`));
      return true;
    });
    assert.throws(() => requirePullConfig(parse('[pull]\nport = 22\n')), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(e.problems.map((p) => p.key), ['pull.host', 'pull.user', 'pull.remote_dir', 'pull.local_dir']);
      return true;
    });
  });
});

describe('errors', () => {
  const root = tempDir();

  it('reports several problems at once, in document order, with keys and lines', () => {
    assert.throws(() => parseConfig('keep_last = "x"\nstrategy = "fast"\n', { source: '/etc/app/backup.toml' }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(
        e.message,
        'config "/etc/app/backup.toml" has 2 problems:\n' +
          '  keep_last (line 1): expected a whole number >= 0, got "x"\n' +
          '  strategy (line 2): expected "vacuum" or "online", got "fast"',
      );
      return true;
    });
    const p = problemsOf('# c\nsource_path = 1\nverify = "fast"\n\n[pull]\nport = 0\nconnect_timeout = "10"\n');
    assert.deepEqual(p.map((x) => [x.key, x.line]), [['source_path', 2], ['verify', 3], ['pull.port', 6], ['pull.connect_timeout', 7]]);
  });

  it('unknown keys, with a suggestion for close names and for keys in the wrong table', () => {
    assert.match(oneProblem('keep_lats = 3', 'keep_lats', /./).message, /unknown key \(did you mean "keep_last"\?\)/);
    assert.match(oneProblem('sourcePath = "a"', 'sourcePath', /./).message, /did you mean "source_path"/);
    assert.match(oneProblem('host = "h"', 'host', /./).message, /did you mean "pull.host"\? it belongs in the \[pull\] table/);
    assert.match(oneProblem('[pull]\nbackup_dir = "b"', 'pull.backup_dir', /./).message, /"backup_dir"\? it belongs at the top level/);
    assert.equal(oneProblem('[extra]\nx = 1\n', 'extra', /^unknown key$/).line, 1);
  });

  it('wrong types and bad enum values', () => {
    oneProblem('source_path = 5', 'source_path', /expected a string, got 5/);
    oneProblem('backup_dir = ""', 'backup_dir', /must not be empty/);
    oneProblem('strategy = "online2"', 'strategy', /expected "vacuum" or "online", got "online2"/);
    oneProblem('verify = true', 'verify', /expected "full" or "quick", got true/);
    oneProblem('pages_per_step = "100"', 'pages_per_step', /whole number >= 1, got "100"/);
    oneProblem('keep_daily = 1.5', 'keep_daily', /whole number >= 0, got 1.5/);
    oneProblem('pull = "x"', 'pull', /expected a table/);
    oneProblem('[[pull]]\nhost = "h"\n', 'pull', /expected a table.*got an array/);
    oneProblem('pull = { host = "h", port = "22" }', 'pull.port', /port number from 1 to 65535, got "22"/);
    oneProblem('lock_timeout = 1979-05-27', 'lock_timeout', /duration string.*got the date 1979-05-27/);
  });

  it('out-of-range numbers', () => {
    oneProblem('keep_last = -1', 'keep_last', /expected a whole number >= 0, got -1/);
    oneProblem('compression_level = 10', 'compression_level', /from 0 to 9, got 10/);
    oneProblem('pages_per_step = 0', 'pages_per_step', />= 1, got 0/);
    oneProblem('pages_per_step = 2147483648', 'pages_per_step', /<= 2147483647, got 2147483648/);
    oneProblem('[pull]\nport = 65536', 'pull.port', /from 1 to 65535, got 65536/);
    assert.equal(parse('keep_last = 0').keepLast, 0, '0 keeps all');
  });

  it('bad durations', () => {
    oneProblem('sleep_interval = "10"', 'sleep_interval', /missing unit in "10": write e.g. "10s" or "10ms"/);
    oneProblem('sleep_interval = 10', 'sleep_interval', /duration string such as "10ms".*got 10/);
    oneProblem('lock_timeout = "1w"', 'lock_timeout', /unknown unit "w" in "1w"/);
    oneProblem('lock_timeout = "-1s"', 'lock_timeout', /must not be negative/);
    oneProblem('progress_log_interval = "fast"', 'progress_log_interval', /expected a duration/);
    oneProblem('[pull]\nconnect_timeout = "0s"', 'pull.connect_timeout', /longer than 0/);
    assert.equal(parse('lock_timeout = "0"\nsleep_interval = "0s"').lockTimeoutMs, 0);
  });

  it('a TOML syntax error gives its line and column', () => {
    const p = oneProblem('source_path = "a"\nbackup_dir = "b\n', '', /^invalid TOML: /);
    assert.deepEqual([p.line, p.column], [2, 16], 'smol-toml points at the newline that ends the string');
    assert.throws(() => parse('a = 1\na = 2\n'), /has 1 problem:\n {2}line 2, column 1: invalid TOML: .*redefine/);
  });

  it('a missing config file is ECONFIG naming the path', async () => {
    const dir = join(root, 'missing');
    mkdirSync(dir);
    const missing = join(dir, 'nope.toml');
    await assert.rejects(loadConfig(missing), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual([e.code, e.path, e.errno, e.message], ['ECONFIG', missing, 'ENOENT', `config file "${missing}" does not exist`]);
      return true;
    });
    await assert.rejects(loadConfig(dir), /is a directory/);
  });

  it('passwords and passphrases are refused with the reason', () => {
    oneProblem('[pull]\nhost = "h"\npassword = "hunter2"\n', 'pull.password', /secrets do not belong in a config file/);
    oneProblem('password = "x"', 'password', /secrets do not belong/);
    oneProblem('[pull]\nprivate_key_passphrase = "x"', 'pull.private_key_passphrase', /secrets do not belong/);
  });

  it('host_key_sha256: a real ssh-keygen fingerprint is accepted; other shapes are refused with a hint', (t) => {
    oneProblem('[pull]\nhost_key_sha256 = "SHA256:abc"', 'pull.host_key_sha256', /"SHA256:" and 43 base64 characters/);
    oneProblem('[pull]\nhost_key_sha256 = "MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48"', 'pull.host_key_sha256', /ssh-keygen -E sha256/);
    oneProblem(`[pull]\nhost_key_sha256 = "${'A'.repeat(43)}"`, 'pull.host_key_sha256', /"SHA256:"/);
    if (!requirePeer(t, 'ssh-keygen')) return;
    const dir = join(root, 'keys');
    mkdirSync(dir);
    for (const type of ['ed25519', 'rsa']) {
      const key = join(dir, `host_${type}`);
      run('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'test@host', '-f', key]);
      const line = run('ssh-keygen', ['-lf', `${key}.pub`]).stdout.trim();
      const fp = line.split(' ')[1]!;
      assert.equal(parse(`[pull]\nhost_key_sha256 = "${fp}"`).pull!.hostKeySha256, fp);
      assert.equal(parse(`[pull]\nhost_key_sha256 = "${fp}="`).pull!.hostKeySha256, fp, 'padding tolerated');
      oneProblem(`[pull]\nhost_key_sha256 = "${line}"`, 'pull.host_key_sha256', new RegExp(`only the fingerprint, e.g. "${fp.replace(/[+/]/g, '\\$&')}"`));
    }
    assert.ok(readFileSync(join(dir, 'host_rsa.pub'), 'utf8').startsWith('ssh-rsa '));
  });
});

describe('Go durations', () => {
  it('match go1.19 time.ParseDuration (values in ns checked with Go), returned in ms', () => {
    const ns: [string, number][] = [
      ['300ms', 300e6], ['1.5s', 1.5e9], ['1m30s', 90e9], ['2h', 7200e9], ['10us', 10e3], ['10µs', 10e3], ['10μs', 10e3],
      ['0', 0], ['-0', 0], ['+5s', 5e9], ['-1s', -1e9], ['1h2m3.5s', 3723.5e9], ['.5s', 0.5e9], ['1.s', 1e9], ['250ns', 250],
      ['1.0000001ms', 1e6], ['0s', 0], ['0.0s', 0], ['00s', 0], ['1h1h', 7200e9], ['2562047h', 2562047 * 3600e9],
    ];
    for (const [text, expected] of ns) assert.equal(parseDuration(text), expected / 1e6, text);
    for (const bad of ['2562048h', '', '1', '10', '1w', 's', '.s', '1ms ', ' 1ms', '1e3ms', '1,5s']) {
      assert.throws(() => parseDuration(bad), RangeError, JSON.stringify(bad));
    }
  });

  it('formatDuration writes what Go writes for the defaults', () => {
    assert.deepEqual([0, 10, 15_000, 30_000, 90_000, 3_600_000, 0.01].map(formatDuration), ['0s', '10ms', '15s', '30s', '1m30s', '1h0m0s', '10us']);
  });
});

describe('[encryption]', () => {
  const root = tempDir();
  /** A real key pair from age-keygen. */
  function keyPair(name: string): { recipient: string; secret: string } {
    const path = join(root, name);
    run('age-keygen', ['-o', path]);
    return { recipient: run('age-keygen', ['-y', path]).stdout.trim(), secret: /AGE-SECRET-KEY-1\w+/.exec(readFileSync(path, 'utf8'))![0] };
  }
  const SSH_LINE = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl user@host';
  const PQ = `age1pq1${'q'.repeat(60)}`;

  it('age_recipients and age_recipients_file (age -R format, relative to the config) load', (t) => {
    if (!requirePeer(t, 'age-keygen')) return;
    const [a, b] = [keyPair('a.txt'), keyPair('b.txt')];
    assert.deepEqual(parse(`[encryption]\nage_recipients = ["${a.recipient}", "${b.recipient}"]\n`).encryption, { recipients: [a.recipient, b.recipient] });
    const dir = join(root, 'conf');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'recipients.txt'), `# backups\n${a.recipient}\n\n${b.recipient}\n`);
    const c = parseConfig('[encryption]\nage_recipients_file = "recipients.txt"\n', { baseDir: dir });
    assert.deepEqual(c.encryption, { recipients: [a.recipient, b.recipient], recipientsFile: join(dir, 'recipients.txt') });
  });

  it('ssh-* and age1pq1 recipients are refused naming the item or the line', (t) => {
    if (!requirePeer(t, 'age-keygen')) return;
    const a = keyPair('c.txt');
    oneProblem(`[encryption]\nage_recipients = ["${a.recipient}", "${SSH_LINE}"]\n`, 'encryption.age_recipients', /^item 2: ssh-\* recipients are not supported/);
    oneProblem(`[encryption]\nage_recipients = ["${PQ}"]\n`, 'encryption.age_recipients', /^item 1: post-quantum "age1pq1\.\.\." recipients are not supported: age 1\.1 cannot decrypt/);
    const file = join(root, 'mixed.txt');
    writeFileSync(file, `# ok\n${a.recipient}\n${SSH_LINE}\n\n${PQ}\n`);
    const p = oneProblem(`[encryption]\nage_recipients_file = "${file}"\n`, 'encryption.age_recipients_file', /line 3: ssh-\*.*; line 5: post-quantum/);
    assert.equal(p.line, 2);
  });

  it('a secret key pasted anywhere is refused and never shown', (t) => {
    if (!requirePeer(t, 'age-keygen')) return;
    const { secret } = keyPair('d.txt');
    const file = join(root, 'secret-in-file.txt');
    writeFileSync(file, `${secret}\n`);
    for (const [text, key, re] of [
      [`[encryption]\nage_recipients = ["${secret}"]\n`, 'encryption.age_recipients', /item 1: this is a secret key/],
      [`[encryption]\nage_recipients = "${secret}"\n`, 'encryption.age_recipients', /holds an age secret key/],
      [`[encryption]\nage_recipients_file = "${secret}"\n`, 'encryption.age_recipients_file', /holds an age secret key/],
      [`[encryption]\nage_recipients_file = "${file}"\n`, 'encryption.age_recipients_file', /line 1: this is a secret key/],
      [`source_path = "${secret}"\n`, 'source_path', /holds an age secret key/],
    ] as const) {
      const problems = problemsOf(text);
      assert.equal(problems[0]!.key, key, text.replace(secret, '<secret>'));
      assert.match(problems[0]!.message, re);
      assert.throws(() => parse(text), (e: unknown) => {
        const shown = `${(e as Error).message} ${JSON.stringify(e)}`;
        assert.doesNotMatch(shown, /AGE-SECRET-KEY-1/i);
        assert.ok(!shown.includes(secret.slice(20)), 'no part of the key');
        return true;
      });
    }
  });

  it('both keys, a missing file, no key, an unknown key (with a hint) are refused', (t) => {
    if (!requirePeer(t, 'age-keygen')) return;
    const a = keyPair('e.txt');
    oneProblem(`[encryption]\nage_recipients = ["${a.recipient}"]\nage_recipients_file = "r.txt"\n`, 'encryption', /give age_recipients or age_recipients_file, not both/);
    oneProblem('[encryption]\nage_recipients_file = "nope.txt"\n', 'encryption.age_recipients_file', /"\/etc\/app\/nope\.txt" does not exist/);
    oneProblem('[encryption]\n', 'encryption', /needs age_recipients = \["age1\.\.\."\] or age_recipients_file.*age-keygen -o key\.txt/);
    oneProblem('[encryption]\nage_recipients = []\n', 'encryption.age_recipients', /at least one recipient/);
    const typo = problemsOf(`[encryption]\nage_recipient = ["${a.recipient}"]\n`);
    assert.deepEqual(typo[0], { key: 'encryption.age_recipient', message: 'unknown key (did you mean "encryption.age_recipients"?)', line: 2 });
    const identity = problemsOf(`[encryption]\nage_recipients = ["${a.recipient}"]\nage_identity = "key.txt"\n`);
    assert.equal(identity.length, 1);
    assert.match(identity[0]!.message, /\[encryption\] holds only public keys.*--age-identity/);
    oneProblem(`[encryption]\nage_recipients = ["${a.recipient}"]\ncolour = "x"\n`, 'encryption.colour', /unknown key in \[encryption\] \(it holds age_recipients or age_recipients_file\)/);
    oneProblem('encryption = "age1"\n', 'encryption', /expected a table/);
  });
});
