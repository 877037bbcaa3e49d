/**
 * The pull client's connection: an SftpTransport to the [pull] server, with the host key checked
 * against known_hosts or the pinned fingerprint (host-key.ts) and key / agent authentication. The
 * passphrase of an encrypted key comes from the environment, never from the config file.
 */
import { readFile } from 'node:fs/promises';
import { BackupError, ErrorCode } from '../errors.js';
import { createHostKeyCheck } from '../transport/host-key.js';
import { SftpTransport } from '../transport/sftp.js';
import type { Transport } from '../transport/types.js';
import type { PullConfig } from './config.js';

/** Environment variable holding the passphrase of `pull.private_key_path`, when the key has one. */
export const PASSPHRASE_ENV = 'SQLITE_BACKUP_KEY_PASSPHRASE';

export interface PullTransportOptions {
  /** Accept any host key. Only for a first look at a server you are about to pin; warned loudly. */
  insecureSkipHostKeyCheck?: boolean;
  /** Where the loud warning goes. @default process.emitWarning */
  warn?: (message: string) => void;
}

export async function openPullTransport(pull: PullConfig, _signal?: AbortSignal, options: PullTransportOptions = {}): Promise<Transport> {
  const check = await createHostKeyCheck({
    host: pull.host,
    port: pull.port,
    ...(pull.knownHosts ? { knownHostsPath: pull.knownHosts } : {}),
    ...(pull.hostKeySha256 ? { pinnedSha256: pull.hostKeySha256 } : {}),
    ...(options.insecureSkipHostKeyCheck ? { insecureSkipHostKeyCheck: true } : {}),
  });
  const warn = options.warn ?? ((m: string) => process.emitWarning(m));
  const agent = process.env.SSH_AUTH_SOCK;
  let privateKey: Buffer | undefined;
  if (pull.privateKeyPath) {
    try {
      privateKey = await readFile(pull.privateKeyPath);
    } catch (e) {
      const errno = (e as NodeJS.ErrnoException).code;
      throw new BackupError(ErrorCode.CONFIG, `[pull] private_key_path "${pull.privateKeyPath}" cannot be read (${errno ?? (e as Error).message})`, {
        path: pull.privateKeyPath,
        cause: e,
        ...(errno ? { errno } : {}),
      });
    }
  } else if (!agent) {
    throw new BackupError(
      ErrorCode.CONFIG,
      '[pull] no way to authenticate: set pull.private_key_path, or run an ssh-agent (SSH_AUTH_SOCK)',
    );
  }
  const passphrase = process.env[PASSPHRASE_ENV];
  return new SftpTransport({
    host: pull.host,
    port: pull.port,
    username: pull.user,
    remoteDir: pull.remoteDir,
    connectTimeoutMs: pull.connectTimeoutMs,
    idleTimeoutMs: pull.idleTimeoutMs,
    hostVerifier: (key: Buffer) => {
      const ok = check.verify(key);
      // Insecure mode: say so on every connection, with the fingerprint that was accepted blindly.
      const warning = check.warning();
      if (warning) warn(warning);
      return ok;
    },
    serverHostKeyAlgorithms: check.algorithms,
    hostKeyError: () => check.error(),
    ...(privateKey ? { privateKey } : {}),
    ...(passphrase ? { passphrase } : {}),
    ...(agent ? { agent } : {}),
  });
}
