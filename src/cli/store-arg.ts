/**
 * `list`, `prune` and `verify` take a store URL as well as a local path: `s3://bucket/prefix`,
 * `sftp://user@host/path`. How to reach it comes from the config entry with the same URL (a
 * `[[push]]` destination or `[pull] url`), then from the `--endpoint` / `--region` flags.
 */
import type { Config } from '../api/config.js';
import { storeSpecOf } from '../api/push.js';
import { openStore, type StoreSpec } from '../api/store/open.js';
import { isRemoteStoreUrl } from '../api/store/url.js';
import type { Transport } from '../transport/types.js';
import type { OptionSpec, Values } from './commands.js';

export const STORE_OPTIONS: OptionSpec = { endpoint: { type: 'string' }, region: { type: 'string' } };

export { isRemoteStoreUrl };

export function storeSpecFor(url: string, values: Values, config: Config | undefined): StoreSpec {
  const fromPush = config?.push?.find((p) => p.url === url);
  const pull = config?.pull?.url === url ? config.pull : undefined;
  const base: StoreSpec = fromPush
    ? storeSpecOf(fromPush)
    : pull
      ? {
          url,
          ...(pull.endpoint !== undefined ? { endpoint: pull.endpoint } : {}),
          ...(pull.region !== undefined ? { region: pull.region } : {}),
          ...(pull.forcePathStyle !== undefined ? { forcePathStyle: pull.forcePathStyle } : {}),
          ...(pull.privateKeyPath !== undefined ? { privateKeyPath: pull.privateKeyPath } : {}),
          ...(pull.knownHosts !== undefined ? { knownHosts: pull.knownHosts } : {}),
          ...(pull.hostKeySha256 !== undefined ? { hostKeySha256: pull.hostKeySha256 } : {}),
          connectTimeoutMs: pull.connectTimeoutMs,
          idleTimeoutMs: pull.idleTimeoutMs,
        }
      : { url };
  const endpoint = typeof values.endpoint === 'string' ? values.endpoint : undefined;
  const region = typeof values.region === 'string' ? values.region : undefined;
  return { ...base, ...(endpoint !== undefined ? { endpoint } : {}), ...(region !== undefined ? { region } : {}) };
}

export function openStoreArg(url: string, values: Values, config: Config | undefined): Promise<Transport> {
  return openStore(storeSpecFor(url, values, config), { label: 'store' });
}
