import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './pack.js';

/** The library's source directory. */
export const SRC = join(REPO_ROOT, 'src');

/** Every `.ts` file under `dir` (recursively), for tests that check rules on the source itself. */
export function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}
