/**
 * `list`, `prune` and `verify` take a store URL as well as a local path: `s3://bucket/prefix`,
 * `sftp://user@host/path`. How to reach it comes from the config entry with the same URL (a
 * `[[push]]` destination or `[pull] url`), then from the `--endpoint` / `--region` flags.
 */
import type { Config } from '../config/config.js';
import { pullStoreSpec } from '../api/pull-transport.js';
import { storeSpecOf } from '../api/push.js';
import { openStore, type StoreSpec } from '../store/open.js';
import { isRemoteStoreUrl } from '../store/url.js';
import type { Transport } from '../transport/types.js';
import type { OptionSpec, Values } from './commands.js';

export const STORE_OPTIONS: OptionSpec = { endpoint: { type: 'string' }, region: { type: 'string' } };

export { isRemoteStoreUrl };

function storeSpecFor(url: string, values: Values, config: Config | undefined): StoreSpec {
  const fromPush = config?.push?.find((p) => p.url === url);
  const pullUrl = config?.pull?.url === url ? config.pull : undefined;
  const base: StoreSpec = fromPush ? storeSpecOf(fromPush) : pullUrl ? pullStoreSpec({ ...pullUrl, url }) : { url };
  // A flag overrides the config; no flag keeps it.
  return {
    ...base,
    endpoint: typeof values.endpoint === 'string' ? values.endpoint : base.endpoint,
    region: typeof values.region === 'string' ? values.region : base.region,
  };
}

export function openStoreArg(url: string, values: Values, config: Config | undefined): Promise<Transport> {
  return openStore(storeSpecFor(url, values, config), { label: 'store' });
}
