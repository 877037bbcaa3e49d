/**
 * The README must match the code: every config key with its default, every error code, every CLI
 * command and global flag. (The code examples are run by readme-examples.test.ts.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CONFIG_KEYS, ErrorCode } from '../src/index.js';
import { PUSH_KEYS } from '../src/config/config.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('documents every config key, with the default the code uses', () => {
    for (const k of [...CONFIG_KEYS, ...PUSH_KEYS]) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${k.key}\` |`));
      assert.ok(row, `config key ${k.key} missing from the README table`);
      assert.ok(row.includes(String(k.default).replace(/\|/g, '\\|')), `${k.key}: README row does not show default ${k.default}`);
    }
  });
  it('names every error code', () => {
    for (const code of Object.values(ErrorCode)) assert.ok(readme.includes(`\`${code}\``), `${code} is not in the README`);
  });
  it('shows every CLI command and the exit codes', () => {
    for (const cmd of ['init', 'backup', 'pull', 'verify', 'restore', 'list', 'prune', 'status']) assert.match(readme, new RegExp(`sqlite-backup ${cmd} `));
    for (const flag of ['--json', '--quiet', '--verbose', '--help', '--version', '--every', '--jitter', '--dry-run', '--restore-to', '--max-age', '--timestamps', '--no-timestamps']) {
      assert.ok(readme.includes(flag), `${flag} is not in the README`);
    }
    assert.match(readme, /Exit codes: `0` success; `1` the operation failed.*`2` usage or config error/s);
  });
});
