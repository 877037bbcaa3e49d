/** TEMPORARY stub until the SFTP transport lands. */
import type { PullConfig } from './config.js';
import type { Transport } from '../transport/types.js';
export async function openPullTransport(_pull: PullConfig, _signal?: AbortSignal): Promise<Transport> {
  throw new Error('sftp not yet');
}
