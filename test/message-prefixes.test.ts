/**
 * The message convention of src/errors.ts, checked on the source: no library message starts with a
 * `[layer]` prefix (the error's code and path/host carry that). A file on NOT_YET_CONVERTED still
 * has such messages; it leaves the list once they are gone, and the list cannot go stale.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { describe, test } from 'node:test';
import { SRC, sourceFiles } from './helpers/source-files.js';

/** Files whose messages still carry a prefix, until they are reworded. */
const NOT_YET_CONVERTED = new Set<string>([]);

/** `line: text` of each string or template literal that starts with `[word] ` or is `'[word]'`. */
export function prefixedMessages(text: string): string[] {
  const found: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (/^\s*(\*|\/\/|\/\*)/.test(line)) return;
    if (/(['"`])\[[a-z0-9-]+\](?: |\1)/.test(line)) found.push(`${i + 1}: ${line.trim()}`);
  });
  return found;
}

describe('messages', () => {
  test('the detector finds a prefix and leaves TOML sections and comments alone', () => {
    assert.equal(prefixedMessages("throw new BackupError(ErrorCode.IO, `[api] cannot list \"${dir}\"`);").length, 1);
    assert.equal(prefixedMessages("throw fsError('[pull]', 'rename', path, e);").length, 1);
    assert.equal(prefixedMessages("note('pull', 'a [pull] table with local_dir is required');").length, 0);
    assert.equal(prefixedMessages(' * `[api] lock:` was the old form').length, 0);
  });

  test('no message in src/ starts with a [layer] prefix (see src/errors.ts)', () => {
    const found: string[] = [];
    const stillPrefixed = new Set<string>();
    for (const file of sourceFiles(SRC)) {
      const name = relative(SRC, file).split(sep).join('/');
      const hits = prefixedMessages(readFileSync(file, 'utf8'));
      if (NOT_YET_CONVERTED.has(name)) {
        if (hits.length > 0) stillPrefixed.add(name);
      } else {
        found.push(...hits.map((h) => `${name}:${h}`));
      }
    }
    assert.deepEqual(found, []);
    assert.deepEqual([...NOT_YET_CONVERTED].filter((f) => !stillPrefixed.has(f)), [], 'converted: take these off NOT_YET_CONVERTED');
  });
});
