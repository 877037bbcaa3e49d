/**
 * The pull client's connection: the [pull] server over SFTP (host, user, remote_dir), or the store
 * `[pull] url` names (s3://, sftp://, a local path). Set up by the store's openStore / openSftp:
 * host keys checked, secrets only from the environment.
 */
import type { Transport } from '../transport/types.js';
import { CONFIG_DEFAULTS, type PullConfig, type PullSettings } from '../config/config.js';
import { openSftp, openStore, PASSPHRASE_ENV, type StoreSpec } from '../store/open.js';

export { PASSPHRASE_ENV };

export interface PullTransportOptions {
  /** Accept any host key. Only for a first look at a server you are about to pin; warned loudly. */
  insecureSkipHostKeyCheck?: boolean;
  /** Where the loud warning goes. @default process.emitWarning */
  warn?: (message: string) => void;
}

export async function openPullTransport(pull: PullConfig, _signal?: AbortSignal, options: PullTransportOptions = {}): Promise<Transport> {
  const open = { ...options, label: 'pull' };
  if (pull.url !== undefined) return openStore(pullStoreSpec({ ...pull, url: pull.url }), open);
  return openSftp(
    {
      host: pull.host!,
      port: pull.port,
      username: pull.user!,
      remoteDir: pull.remoteDir!,
      ...sshKeys(pull),
      connectTimeoutMs: pull.connectTimeoutMs,
      idleTimeoutMs: pull.idleTimeoutMs,
    },
    open,
  );
}

/** The store a `[pull]` with `url` names, as openStore takes it (also for the CLI's store URLs). */
export function pullStoreSpec(pull: PullSettings & { url: string }): StoreSpec {
  // S3 has its own, shorter defaults (a silent endpoint must fail within a minute over the SDK's
  // retries): the [pull] defaults apply to SFTP, so only timeouts the user wrote are passed on.
  const s3 = /^s3:/i.test(pull.url);
  const { connectTimeoutMs, idleTimeoutMs } = pull;
  return {
    url: pull.url,
    ...sshKeys(pull),
    endpoint: pull.endpoint,
    region: pull.region,
    forcePathStyle: pull.forcePathStyle,
    connectTimeoutMs: !s3 || connectTimeoutMs !== CONFIG_DEFAULTS.pull.connectTimeoutMs ? connectTimeoutMs : undefined,
    idleTimeoutMs: !s3 || idleTimeoutMs !== CONFIG_DEFAULTS.pull.idleTimeoutMs ? idleTimeoutMs : undefined,
  };
}

function sshKeys(pull: PullSettings): Pick<StoreSpec, 'privateKeyPath' | 'knownHosts' | 'hostKeySha256'> {
  return {
    // An empty setting is no setting.
    privateKeyPath: pull.privateKeyPath || undefined,
    knownHosts: pull.knownHosts || undefined,
    hostKeySha256: pull.hostKeySha256 || undefined,
  };
}
