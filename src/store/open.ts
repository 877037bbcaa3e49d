/**
 * A Transport for a store URL, set up the way a backup tool must: SFTP with the host key checked
 * against known_hosts or a pinned fingerprint (never skipped unless asked loudly) and key or agent
 * authentication (the key's passphrase from the environment, never from the config file); S3 with
 * credentials from the standard AWS sources (environment, AWS_PROFILE, shared files), never from our
 * config; a local directory as it is.
 */
import { BackupError, ErrorCode } from '../errors.js';
import { LocalTransport } from '../transport/local/local.js';
import { S3Transport } from '../transport/s3/s3.js';
import { createHostKeyCheck } from '../transport/sftp/host-key.js';
import { SftpTransport } from '../transport/sftp/sftp.js';
import { readKeyFile } from '../transport/sftp/sftp-options.js';
import type { Transport } from '../transport/types.js';
import { parseStoreUrl } from './url.js';

/** Environment variable holding the passphrase of a `private_key_path`, when the key has one. */
export const PASSPHRASE_ENV = 'SQLITE_BACKUP_KEY_PASSPHRASE';

/** Where a store is and how to reach it: a `[[push]]` entry, `[pull]` with `url`, or CLI flags. */
export interface StoreSpec {
  /** `s3://bucket/prefix`, `sftp://user@host[:port]/path`, `file:///path` or a local path. */
  url: string;
  /** S3: the service's URL, for S3-compatible services (Ceph, MinIO, R2...). @default AWS */
  endpoint?: string;
  /** S3. @default "us-east-1" */
  region?: string;
  /** S3: `https://endpoint/bucket/key` addressing. @default true when endpoint is set */
  forcePathStyle?: boolean;
  /** SFTP: private key file (absolute). Without it, an ssh-agent (SSH_AUTH_SOCK). */
  privateKeyPath?: string;
  /** SFTP: known_hosts file (absolute). */
  knownHosts?: string;
  /** SFTP: pinned host key fingerprint, `SHA256:...`. */
  hostKeySha256?: string;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
}

/** Options of openStore. */
export interface OpenStoreOptions {
  /** SFTP: accept any host key. Only for a first look at a server you are about to pin; warned loudly. */
  insecureSkipHostKeyCheck?: boolean;
  /** Where the loud warning goes. @default process.emitWarning */
  warn?: (message: string) => void;
  /** What the store is, in config-error messages: `push`, `pull`. @default "store" */
  label?: string;
}

/**
 * A Transport for a store URL (`s3://`, `sftp://`, `file://` or a local path), set up as a backup
 * tool must: SFTP with the host key checked against known_hosts or a pinned fingerprint and key or
 * ssh-agent authentication (a key's passphrase from SQLITE_BACKUP_KEY_PASSPHRASE); S3 with the
 * standard AWS credential sources. The caller closes it.
 */
export async function openStore(spec: StoreSpec, options: OpenStoreOptions = {}): Promise<Transport> {
  const where = parseStoreUrl(spec.url);
  if (where.kind === 'local') return new LocalTransport(where.dir);
  if (where.kind === 's3') {
    return new S3Transport({
      bucket: where.bucket,
      prefix: where.prefix,
      endpoint: spec.endpoint,
      region: spec.region,
      forcePathStyle: spec.forcePathStyle,
      connectTimeoutMs: spec.connectTimeoutMs,
      idleTimeoutMs: spec.idleTimeoutMs,
    });
  }
  return openSftp({ ...where, ...spec, username: where.user }, options);
}

export interface SftpSpec {
  host: string;
  port: number;
  username: string;
  remoteDir: string;
  privateKeyPath?: string;
  knownHosts?: string;
  hostKeySha256?: string;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
}

export async function openSftp(spec: SftpSpec, options: OpenStoreOptions = {}): Promise<SftpTransport> {
  const label = options.label ?? 'store';
  // The setting as the config names it: pull.private_key_path; a CLI store argument has no section.
  const keyPath = label === 'store' ? 'private_key_path' : `${label}.private_key_path`;
  const check = await createHostKeyCheck({
    host: spec.host,
    port: spec.port,
    knownHostsPath: spec.knownHosts || undefined,
    pinnedSha256: spec.hostKeySha256 || undefined,
    insecureSkipHostKeyCheck: options.insecureSkipHostKeyCheck,
  });
  const warn = options.warn ?? ((m: string) => process.emitWarning(m));
  const agent = process.env.SSH_AUTH_SOCK;
  let privateKey: Buffer | undefined;
  if (spec.privateKeyPath) {
    try {
      privateKey = await readKeyFile(spec.privateKeyPath);
    } catch (e) {
      if (e instanceof BackupError) throw e;
      const errno = (e as NodeJS.ErrnoException).code;
      const what = errno === 'ENOENT' ? 'does not exist' : `cannot be read (${errno ?? (e as Error).message})`;
      throw new BackupError(ErrorCode.CONFIG, `the private key file "${spec.privateKeyPath}" (${keyPath}) ${what}`, {
        path: spec.privateKeyPath,
        cause: e,
        errno,
      });
    }
  } else if (!agent) {
    throw new BackupError(
      ErrorCode.CONFIG,
      `no way to authenticate to ${spec.host}: set ${keyPath}, or run an ssh-agent (SSH_AUTH_SOCK)`,
    );
  }
  const passphrase = process.env[PASSPHRASE_ENV];
  return new SftpTransport({
    host: spec.host,
    port: spec.port,
    username: spec.username,
    remoteDir: spec.remoteDir,
    connectTimeoutMs: spec.connectTimeoutMs,
    idleTimeoutMs: spec.idleTimeoutMs,
    hostVerifier: (key: Buffer) => {
      const ok = check.verify(key);
      // Insecure mode: say so on every connection, with the fingerprint that was accepted blindly.
      const warning = check.warning();
      if (warning) warn(warning);
      return ok;
    },
    serverHostKeyAlgorithms: check.algorithms,
    hostKeyError: () => check.error(),
    // privateKey is read from privateKeyPath: both are set or neither.
    privateKey,
    privateKeyFile: spec.privateKeyPath,
    passphrase: passphrase || undefined,
    agent: agent || undefined,
  });
}
