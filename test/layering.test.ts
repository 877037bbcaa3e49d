/**
 * The layering rules of src/, checked on the source: data flows one way (engine -> compress ->
 * transport), and the lower layers never reach up into the operations, their config or the CLI.
 * A rule broken by one import fails here with the file and the import named.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, test } from 'node:test';
import { SRC, sourceFiles } from './helpers/source-files.js';

/** Top-level folder of src/ each file belongs to ('' for src/index.ts and other root files). */
function layerOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  return parts.length > 1 ? parts[0]! : '';
}

/** Relative imports (static, dynamic and `export ... from`) of one file, resolved to source paths. */
export function importsOf(file: string, text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:from\s*|import\s*\(\s*)'(\.\.?\/[^']+)'/g)) {
    found.push(resolve(dirname(file), m[1]!).replace(/\.js$/, '.ts'));
  }
  return found;
}

/** Which layers each layer must not import. */
const FORBIDDEN: Record<string, string[]> = {
  engine: ['api', 'cli', 'config', 'format', 'transport', 'compress'],
  compress: ['api', 'cli', 'config', 'format', 'transport', 'engine'],
  transport: ['api', 'cli', 'config', 'format', 'engine'],
  fs: ['api', 'cli', 'config', 'format', 'transport', 'engine', 'compress'],
  crypto: ['api', 'cli', 'config', 'format'],
  format: ['api', 'cli'],
  store: ['api', 'cli'],
  config: ['cli'],
  api: ['cli'],
  // The CLI talks to the library through the operations and their types, never to the engine.
  cli: ['engine'],
};

export function violations(files: Array<{ file: string; text: string }>): string[] {
  const found: string[] = [];
  for (const { file, text } of files) {
    const from = layerOf(file);
    for (const target of importsOf(file, text)) {
      const to = layerOf(target);
      if ((FORBIDDEN[from] ?? []).includes(to)) found.push(`${relative(SRC, file)} imports ${relative(SRC, target)} (${from} -> ${to})`);
    }
  }
  return found;
}

describe('layering of src/', () => {
  const files = sourceFiles(SRC).map((file) => ({ file, text: readFileSync(file, 'utf8') }));

  test('every layer has files (the rules below check something)', () => {
    const layers = new Set(files.map((f) => layerOf(f.file)));
    for (const layer of Object.keys(FORBIDDEN)) assert.ok(layers.has(layer), `no files in src/${layer}`);
  });

  test('no lower layer imports a higher one; the CLI never imports the engine', () => {
    assert.deepEqual(violations(files), []);
  });

  test('the check sees a forbidden import (static, dynamic or re-export)', () => {
    const fake = (layer: string, line: string) => ({ file: join(SRC, layer, 'x.ts'), text: line });
    assert.deepEqual(
      violations([
        fake('transport', "import { backup } from '../api/backup.js';"),
        fake('compress', "const m = await import('../cli/main.js');"),
        fake('cli', "export type { Engine } from '../engine/index.js';"),
        fake('api', "import { x } from '../transport/types.js';"),
      ]),
      [
        'transport/x.ts imports api/backup.ts (transport -> api)',
        'compress/x.ts imports cli/main.ts (compress -> cli)',
        'cli/x.ts imports engine/index.ts (cli -> engine)',
      ],
    );
  });
});
