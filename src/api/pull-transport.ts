/**
 * The pull client's connection: the [pull] server over SFTP (host, user, remote_dir), or the store
 * `[pull] url` names (s3://, sftp://, a local path). Set up by the store's openStore / openSftp:
 * host keys checked, secrets only from the environment.
 */
import type { Transport } from '../transport/types.js';
import type { PullConfig } from './config.js';
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
    return openStore(
      {
        url: pull.url,
        ...common,
        ...(pull.endpoint !== undefined ? { endpoint: pull.endpoint } : {}),
        ...(pull.region !== undefined ? { region: pull.region } : {}),
        ...(pull.forcePathStyle !== undefined ? { forcePathStyle: pull.forcePathStyle } : {}),
      },
      open,
    );
  }
  return openSftp({ host: pull.host!, port: pull.port, username: pull.user!, remoteDir: pull.remoteDir!, ...common }, open);
}
