/** [[push]] and [pull] url in the config, and store URLs: what is accepted, and the errors users get. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseConfig, parseStoreUrl } from '../src/index.js';
import { requirePullConfig } from '../src/config/config.js';

const base = '/srv/app';
const load = (text: string) => parseConfig(text, { baseDir: base });
function problems(text: string): string {
  try {
    load(text);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.message.replace(/ \(line \d+(, column \d+)?\)/g, '');
  }
  assert.fail('expected a ConfigError');
}

describe('[[push]] config', () => {
  it('reads every entry in order; retention keys default to the top level one by one', () => {
    const c = load(`keep_last = 7\nkeep_daily = 3\n[[push]]\nurl = "s3://bkt/p"\nendpoint = "http://127.0.0.1:7480"\nkeep_last = 30\n[[push]]\nurl = "sftp://u@h:2222/srv/b"\nprivate_key_path = "id"\n`);
    assert.equal(c.push?.length, 2);
    const [s3, sftp] = c.push!;
    assert.deepEqual([s3!.url, s3!.endpoint, s3!.keepLast, s3!.keepDaily, s3!.keepWeekly], ['s3://bkt/p', 'http://127.0.0.1:7480', 30, 3, 0]);
    assert.deepEqual([sftp!.keepLast, sftp!.keepDaily], [7, 3]);
    assert.deepEqual([s3!.keepHourly, s3!.keepMonthly, s3!.keepYearly], [0, 0, 0]);
    assert.equal(sftp!.privateKeyPath, join(base, 'id'));
    assert.equal(sftp!.knownHosts, join(homedir(), '.ssh/known_hosts'), 'host keys are checked by default');
    assert.equal(s3!.knownHosts, undefined);
  });

  it('keep_hourly, keep_monthly and keep_yearly: read at the top level and per entry, inherited one by one', () => {
    const c = load(`keep_hourly = 24\nkeep_monthly = 12\n[[push]]\nurl = "s3://bkt/p"\nkeep_yearly = 5\nkeep_monthly = 0\n`);
    assert.deepEqual([c.keepLast, c.keepHourly, c.keepMonthly, c.keepYearly], [30, 24, 12, 0]);
    const p = c.push![0]!;
    assert.deepEqual([p.keepLast, p.keepHourly, p.keepMonthly, p.keepYearly], [30, 24, 0, 5]);
    assert.match(problems('keep_yearly = -1\n[[push]]\nurl = "s3://b/p"\nkeep_hourly = "x"\n'), /keep_yearly: expected a whole number >= 0[\s\S]*push\.keep_hourly: expected a whole number/);
  });

  it('a wrapped document ([db_backup_config] with [[db_backup_config.push]]) works too', () => {
    const c = load(`[db_backup_config]\nsource_path = "a.db"\n[[db_backup_config.push]]\nurl = "s3://bucket-1/x"\n`);
    assert.equal(c.push?.[0]?.url, 's3://bucket-1/x');
  });

  it('reports a missing url, bad URLs, keys of the other kind, duplicates, unknown keys and secrets - all at once', () => {
    const text = [
      '[[push]]',
      'endpoint = "http://x"',
      '[[push]]',
      'url = "ftp://x/y"',
      '[[push]]',
      'url = "s3://Bad_Bucket/x"',
      '[[push]]',
      'url = "s3://good-bucket/x"',
      'known_hosts = "k"',
      'secret_access_key = "abc"',
      '[[push]]',
      'url = "sftp://u@h/x"',
      'region = "eu-west-1"',
      'keep_lats = 3',
      '[[push]]',
      'url = "s3://good-bucket/x"',
      '[[push]]',
      'url = "sftp://h/x"',
    ].join('\n');
    const m = problems(text);
    assert.match(m, /push\[1\]\.url: required/);
    assert.match(m, /push\[2\]\.url: expected "s3:\/\/bucket\/prefix"/);
    assert.match(m, /push\[3\]\.url: .*Bad_Bucket/);
    assert.match(m, /push\[4\]\.known_hosts: only used with sftp:\/\/ URLs/);
    assert.match(m, /push\[4\]\.secret_access_key: not allowed: secrets do not belong in a config file/);
    assert.match(m, /push\[5\]\.region: only used with s3:\/\/ URLs/);
    assert.match(m, /push\[5\]\.keep_lats: unknown key \(did you mean "push\[5\]\.keep_last"\?\)/);
    assert.match(m, /appears twice/);
    assert.match(m, /push\[7\]\.url: .*has no user/);
    assert.ok(!m.includes('abc'), 'the secret value is not echoed');
  });

  it('an endpoint must be an http(s) URL without credentials', () => {
    assert.match(problems('[[push]]\nurl = "s3://b-1/x"\nendpoint = "127.0.0.1:7480"\n'), /push\.endpoint: expected an http\(s\) URL/);
    assert.match(problems('[[push]]\nurl = "s3://b-1/x"\nendpoint = "http://k:s@h"\n'), /must not carry credentials/);
  });
});

describe('[pull] url', () => {
  it('replaces host/user/remote_dir; local_dir is still required', () => {
    const c = requirePullConfig(load('[pull]\nurl = "s3://b-1/app"\nendpoint = "http://127.0.0.1:1"\nlocal_dir = "pulled"\n'));
    assert.equal(c.pull.url, 's3://b-1/app');
    assert.equal(c.pull.localDir, join(base, 'pulled'));
    assert.throws(() => requirePullConfig(load('[pull]\nurl = "s3://b-1/app"\n')), /pull\.local_dir: required to pull/);
    assert.throws(() => requirePullConfig(load('[pull]\nlocal_dir = "x"\n')), /pull\.host: required to pull \(or set pull\.url\)/);
  });

  it('mixing the two forms, or S3 keys without a url, is an error that says why', () => {
    assert.match(problems('[pull]\nurl = "s3://b-1/app"\nhost = "h"\nlocal_dir = "x"\n'), /url replaces host: use one form or the other/);
    assert.match(problems('[pull]\nhost = "h"\nendpoint = "http://x"\n'), /pull\.endpoint: only used with pull\.url/);
  });
});

describe('parseStoreUrl', () => {
  it('s3, sftp (absolute and login-relative), file and plain paths', () => {
    assert.deepEqual(parseStoreUrl('s3://my-bucket/a/b/'), { kind: 's3', url: 's3://my-bucket/a/b/', bucket: 'my-bucket', prefix: 'a/b' });
    assert.deepEqual(parseStoreUrl('sftp://backup@db.example.org:2222/srv/x'), {
      kind: 'sftp',
      url: 'sftp://backup@db.example.org:2222/srv/x',
      host: 'db.example.org',
      port: 2222,
      user: 'backup',
      remoteDir: '/srv/x',
    });
    assert.equal((parseStoreUrl('sftp://u@h/~/backups') as { remoteDir: string }).remoteDir, 'backups');
    assert.equal((parseStoreUrl('sftp://u@[::1]/x') as { host: string }).host, '::1');
    assert.deepEqual(parseStoreUrl('file:///tmp/b'), { kind: 'local', url: 'file:///tmp/b', dir: '/tmp/b' });
    assert.deepEqual(parseStoreUrl('backups'), { kind: 'local', url: 'backups', dir: 'backups' });
  });

  it('refuses passwords, missing parts, queries and unknown schemes with ECONFIG', () => {
    for (const bad of ['sftp://u:pw@h/x', 'sftp://h/x', 'sftp://u@h/', 'sftp://u@h/x?y', 's3://b', 'http://h/x', 's3://b-1/x?a=1', 's3://k:s@b-1/x', 's3://AKIDEXAMPLE:pw@b-1/x', 's3://AKIDEXAMPLE@b-1/x']) {
      if (bad === 's3://b') {
        assert.throws(() => parseStoreUrl(bad), (e: unknown) => (e as { code?: string }).code === 'ECONFIG', bad);
        continue;
      }
      // A credential typed into the URL is never repeated in the message.
      assert.throws(() => parseStoreUrl(bad), (e: unknown) => (e as { code?: string }).code === 'ECONFIG' && !/pw@|AKIDEXAMPLE/.test(String((e as Error).message)), bad);
    }
  });
});
