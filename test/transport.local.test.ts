/** LocalTransport through the shared Transport contract (the twin of the SFTP transport). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalTransport } from '../src/transport/local/local.js';
import { directoryFixture } from './helpers/fs-fixture.js';
import { tempDir } from './helpers/tmp.js';
import { testTransport } from './transport.shared.js';

const root = tempDir();
let n = 0;

testTransport({
  name: 'LocalTransport',
  fileSystem: true,
  async create(files) {
    // Each case in its own parent, so that files placed "outside" the directory do not collide.
    const dir = join(root, `case-${++n}`, 'backups');
    mkdirSync(dir, { recursive: true });
    for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
    return { transport: new LocalTransport(dir), ...directoryFixture(dir) };
  },
});
