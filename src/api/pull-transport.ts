/**
 * The pull client's connection: the [pull] server over SFTP (host, user, remote_dir), or the store
 * `[pull] url` names (s3://, sftp://, a local path). Set up by the store's openStore / openSftp:
 * host keys checked, secrets only from the environment.
 */
import type { Transport } from '../transport/types.js';
import { CONFIG_DEFAULTS, type PullConfig } from './config.js';
import { openSftp, openStore, PASSPHRASE_ENV } from './store/open.js';

export { PASSPHRASE_ENV };

export interface PullTransportOptions {
  /** Accept any host key. Only for a first look at a server you are about to pin; warned loudly. */
  insecureSkipHostKeyCheck?: boolean;
  /** Where the loud warning goes. @default process.emitWarning */
  warn?: (message: string) => void;
}

export async function openPullTransport(pull: PullConfig, _signal?: AbortSignal, options: PullTransportOptions = {}): Promise<Transport> {
  const open = { ...options, label: 'pull' };
  const common = {
    ...(pull.privateKeyPath ? { privateKeyPath: pull.privateKeyPath } : {}),
    ...(pull.knownHosts ? { knownHosts: pull.knownHosts } : {}),
    ...(pull.hostKeySha256 ? { hostKeySha256: pull.hostKeySha256 } : {}),
    connectTimeoutMs: pull.connectTimeoutMs,
    idleTimeoutMs: pull.idleTimeoutMs,
  };
  if (pull.url !== undefined) {
    // S3 has its own, shorter defaults (a silent endpoint must fail within a minute over the SDK's
    // retries): the [pull] defaults apply to SFTP, so only timeouts the user wrote are passed on.
    const s3 = /^s3:/i.test(pull.url);
    const { connectTimeoutMs, idleTimeoutMs, ...rest } = common;
    const timeouts = s3
      ? {
          ...(connectTimeoutMs !== CONFIG_DEFAULTS.pull.connectTimeoutMs ? { connectTimeoutMs } : {}),
          ...(idleTimeoutMs !== CONFIG_DEFAULTS.pull.idleTimeoutMs ? { idleTimeoutMs } : {}),
        }
      : { connectTimeoutMs, idleTimeoutMs };
    return openStore(
      {
        url: pull.url,
        ...rest,
        ...timeouts,
        ...(pull.endpoint !== undefined ? { endpoint: pull.endpoint } : {}),
        ...(pull.region !== undefined ? { region: pull.region } : {}),
        ...(pull.forcePathStyle !== undefined ? { forcePathStyle: pull.forcePathStyle } : {}),
      },
      open,
    );
  }
  return openSftp({ host: pull.host!, port: pull.port, username: pull.user!, remoteDir: pull.remoteDir!, ...common }, open);
}
