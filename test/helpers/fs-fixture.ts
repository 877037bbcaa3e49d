/** The out-of-band half of a transport fixture for a directory on this machine (local, SFTP on loopback). */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TransportFixture } from '../transport.shared.js';

export function directoryFixture(dir: string): Omit<TransportFixture, 'transport'> {
  return {
    dir,
    modify: (name, data) => writeFileSync(join(dir, name), data),
    remove: (name) => rmSync(join(dir, name)),
    rawNames: async () => {
      try {
        return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isFile()).map((d) => d.name).sort();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw e;
      }
    },
    removeAll: () => rmSync(dir, { recursive: true, force: true }),
    putNested: (sub, name, data) => {
      mkdirSync(join(dir, sub), { recursive: true });
      writeFileSync(join(dir, sub, name), data);
    },
  };
}
