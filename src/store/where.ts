/** How a file in a store is named in messages: a local path, or `<url>/<name>` for remote stores. */
import { join } from 'node:path';
import type { Transport } from '../transport/types.js';

export function whereIn(transport: Transport, name: string): string {
  return transport.kind === 'local' ? join(transport.location, name) : `${transport.location.replace(/\/$/, '')}/${name}`;
}
