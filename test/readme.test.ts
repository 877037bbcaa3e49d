/**
 * The README must match the code: every config key with its default, every error code, every CLI
 * command. (The examples themselves are exercised by the backup, CLI and demo tests.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CONFIG_KEYS, ErrorCode } from '../src/index.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('documents every config key, with the default the code uses', () => {
    for (const k of CONFIG_KEYS) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${k.key}\` |`));
      assert.ok(row, `config key ${k.key} missing from the README table`);
      assert.ok(row.includes(String(k.default).replace(/\|/g, '\\|')), `${k.key}: README row does not show default ${k.default}`);
    }
  });
  it('names every error code', () => {
    for (const code of Object.values(ErrorCode)) assert.ok(readme.includes(`\`${code}\``), `${code} is not in the README`);
  });
  it('shows every CLI command and the exit codes', () => {
    for (const cmd of ['backup', 'verify', 'restore', 'list', 'prune']) assert.match(readme, new RegExp(`sqlite-backup ${cmd} `));
    assert.match(readme, /Exit codes: `0` success; `1` the operation failed.*`2` usage or config error/s);
  });
});
