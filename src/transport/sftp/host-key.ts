/**
 * Host key verification for the SFTP pull client: which server keys we accept, which host key
 * algorithms we ask for, and - when we refuse - a message that says why and how to fix it. The Go
 * original used InsecureIgnoreHostKey; here an unknown or changed key is refused, like
 * `StrictHostKeyChecking yes`.
 *
 * The SFTP layer plugs a HostKeyCheck into ssh2's connect config:
 *   { algorithms: { serverHostKey: check.algorithms }, hostVerifier: (key) => check.verify(key) }
 * (without `hostHash`, so ssh2 passes the raw key blob), and when the handshake fails it throws
 * `check.error()` if that is set, instead of ssh2's generic "host key verification failed".
 *
 * Policy, in order:
 * 1. insecureSkipHostKeyCheck: anything is accepted; `insecure` is true and `warning()` gives the text
 *    the caller must show loudly (every run, with the fingerprint that was accepted blindly).
 * 2. pinnedSha256: only the key with that fingerprint. A known_hosts given as well is read only for
 *    its `@revoked` lines (revocation beats a pin) and to order the algorithms.
 * 3. knownHostsPath: a key listed for host:port that no line matching the host revokes.
 * A missing or unreadable known_hosts does not fail here: we still connect, so that the refusal can
 * show the key the server presented (the user needs its fingerprint to pin it or check it).
 */
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { BackupError, ErrorCode } from '../../errors.js';
import {
  describeKey,
  fingerprintSha256,
  hostKeyAlgorithmsFor,
  keysForHost,
  keyTypeOf,
  knownHostsName,
  parseKnownHostsWithSkips,
  readKnownHostsText,
  type KnownKey,
  type SkippedLine,
} from './known-hosts.js';

/** Which host keys createHostKeyCheck accepts for a server. */
export interface HostKeyPolicy {
  host: string;
  /** @default 22 */
  port?: number;
  /** OpenSSH known_hosts file that must list the server key (unless a pin is given). */
  knownHostsPath?: string;
  /** `SHA256:<43 base64 chars>` as `ssh-keygen -lf` prints it; the `SHA256:` prefix and `=` padding are optional. */
  pinnedSha256?: string;
  /** Accept any key. Only for throw-away test servers: the caller must warn (see HostKeyCheck.warning). @default false */
  insecureSkipHostKeyCheck?: boolean;
}

/** Why a host key was refused. */
export type HostKeyFailure = 'unknown' | 'changed' | 'revoked' | 'pin-mismatch' | 'known-hosts-unusable';

/** The host key a server presented. */
export interface PresentedKey {
  type: string;
  /** `SHA256:...` */
  fingerprint: string;
  /** `256 SHA256:... (ED25519)`, the `ssh-keygen -lf` form. */
  description: string;
}

/** The host key check of one SFTP connection, made by createHostKeyCheck. */
export interface HostKeyCheck {
  /** ssh2 `algorithms.serverHostKey`: the algorithms of the keys known for this host first. */
  readonly algorithms: string[];
  /** ssh2 `hostVerifier` (raw key blob). Records the key and, on refusal, why. */
  verify(blob: Buffer): boolean;
  /** EHOST_KEY with `host` when the last verify() refused, else undefined. */
  error(): BackupError | undefined;
  /** Why the last verify() refused. */
  readonly failure: HostKeyFailure | undefined;
  /** The key the server presented (after verify() was called). */
  readonly presented: PresentedKey | undefined;
  /** True when checking is off: the caller must print warning(). */
  readonly insecure: boolean;
  /** With insecure on and a key presented: the loud warning to print. */
  warning(): string | undefined;
}

/** `SHA256:` + 43 base64 characters, without padding; throws EHOST_KEY for any other shape. */
export function normalizeFingerprint(pin: string, host?: string): string {
  const body = pin.trim().replace(/^SHA256:/i, '').replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/]{43}$/.test(body)) {
    throw new BackupError(
      ErrorCode.HOST_KEY,
      `pinned host key fingerprint ${JSON.stringify(pin)} is not a SHA256 fingerprint ("SHA256:" and 43 base64 characters, as \`ssh-keygen -lf\` prints it)`,
      { host },
    );
  }
  return `SHA256:${body}`;
}

/** Reads the known_hosts file (if any) and returns the check for one connection to host:port. */
export async function createHostKeyCheck(policy: HostKeyPolicy): Promise<HostKeyCheck> {
  const host = policy.host;
  const port = policy.port ?? 22;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new BackupError(ErrorCode.HOST_KEY, `invalid port ${port} for host ${host}`, { host });
  }
  const insecure = policy.insecureSkipHostKeyCheck === true;
  const pin = policy.pinnedSha256 === undefined ? undefined : normalizeFingerprint(policy.pinnedSha256, host);
  const path = policy.knownHostsPath;
  if (!insecure && pin === undefined && path === undefined) {
    const message = `no way to verify the host key of ${host}:${port}: give a known_hosts file or pin host_key_sha256`;
    throw new BackupError(ErrorCode.HOST_KEY, message, { host });
  }

  let known: KnownKey[] = [];
  let revoked: Buffer[] = [];
  let skipped: SkippedLine[] = [];
  let unusable: BackupError | undefined;
  if (path !== undefined) {
    try {
      const parsed = parseKnownHostsWithSkips(await readKnownHostsText(path), path);
      ({ keys: known, revoked } = keysForHost(parsed.entries, host, port));
      skipped = parsed.skipped;
    } catch (e) {
      if (!(e instanceof BackupError)) throw e;
      unusable = e;
    }
  }
  const listed = known.filter((k) => !revoked.some((r) => r.equals(k.blob)));
  const where: Where = { host, port, path, pin, listed, skipped, unusable };

  let presented: PresentedKey | undefined;
  let failure: HostKeyFailure | undefined;
  const decide = (blob: Buffer): HostKeyFailure | undefined => {
    if (insecure) return undefined;
    if (revoked.some((r) => r.equals(blob))) return 'revoked';
    if (pin !== undefined) return fingerprintSha256(blob) === pin ? undefined : 'pin-mismatch';
    if (unusable) return 'known-hosts-unusable';
    if (listed.some((k) => k.blob.equals(blob))) return undefined;
    return listed.length === 0 ? 'unknown' : 'changed';
  };

  return {
    algorithms: hostKeyAlgorithmsFor(listed),
    insecure,
    get failure() {
      return failure;
    },
    get presented() {
      return presented;
    },
    verify(blob: Buffer): boolean {
      const key = Buffer.from(blob);
      let type: string;
      try {
        type = keyTypeOf(key);
      } catch {
        type = 'unknown';
      }
      presented = { type, fingerprint: fingerprintSha256(key), description: describeKey(key) };
      failure = decide(key);
      return failure === undefined;
    },
    error(): BackupError | undefined {
      if (!failure || !presented) return undefined;
      return new BackupError(ErrorCode.HOST_KEY, refusal(failure, presented, where), {
        host,
        path,
        cause: failure === 'known-hosts-unusable' ? unusable : undefined,
      });
    },
    warning(): string | undefined {
      if (!insecure || !presented) return undefined;
      return (
        `WARNING: host key checking is OFF for ${host}:${port}: accepted ${presented.type} ${presented.description} ` +
        `without verifying it; anyone on the network path could be impersonating this server.\n  ${trustHint(presented, where)}`
      );
    },
  };
}

interface Where {
  host: string;
  port: number;
  path: string | undefined;
  pin: string | undefined;
  listed: KnownKey[];
  skipped: SkippedLine[];
  unusable: BackupError | undefined;
}

function refusal(failure: HostKeyFailure, key: PresentedKey, w: Where): string {
  const name = knownHostsName(w.host, w.port);
  const file = JSON.stringify(w.path);
  let why: string;
  switch (failure) {
    case 'unknown': {
      why = `host ${w.host}:${w.port} is unknown: no entry for ${name} in ${file}`;
      const ca = w.skipped.filter((s) => s.reason === 'cert-authority').map((s) => s.line);
      const bad = w.skipped.filter((s) => s.reason === 'malformed').map((s) => s.line);
      if (ca.length > 0) why += ` (@cert-authority lines are not supported and were ignored: line ${ca.join(', ')})`;
      if (bad.length > 0) why += ` (unreadable lines skipped: ${bad.join(', ')})`;
      break;
    }
    case 'changed': {
      const sameType = w.listed.filter((k) => k.type === key.type);
      const offending = (sameType.length > 0 ? sameType : w.listed).map((k) => `${k.type} ${fingerprintSha256(k.blob)} at line ${k.line}`);
      why =
        `WARNING: the host key of ${w.host}:${w.port} has CHANGED: ${file} lists another key for ${name} (${offending.join('; ')}). ` +
        `Someone could be eavesdropping on you right now (possible man-in-the-middle attack), ` +
        `or the server's host key was replaced. Refusing to connect`;
      break;
    }
    case 'revoked':
      why =
        `the host key of ${w.host}:${w.port} is REVOKED: an @revoked line in ${file} matching ${name} lists it; ` +
        `refusing it even if another line lists it too`;
      break;
    case 'pin-mismatch':
      why =
        `the host key of ${w.host}:${w.port} does not match the pinned host_key_sha256 = "${w.pin}". ` +
        `This could be a man-in-the-middle attack, or the server's host key was replaced (or the pin is of another of its keys)`;
      break;
    case 'known-hosts-unusable':
      why = `cannot verify the host key of ${w.host}:${w.port}: ${w.unusable?.message ?? `known_hosts ${file} is unusable`}`;
      break;
  }
  return `${why}.\n  The server presented: ${key.type} ${key.description}\n  ${trustHint(key, w)}`;
}

/**
 * How to trust the presented key - only after checking its fingerprint by other means. The
 * known_hosts recipe runs as it is for a fresh service user: its directory is made first (0700,
 * like ssh's ~/.ssh; an existing one is left as it is).
 */
function trustHint(key: PresentedKey, w: Where): string {
  const path = w.path ?? join(homedir(), '.ssh', 'known_hosts');
  const file = shellQuote(path);
  const name = shellQuote(knownHostsName(w.host, w.port));
  const remove = w.listed.length > 0 ? `ssh-keygen -R ${name} -f ${file} && ` : '';
  // ssh-keyscan is not authenticated either: what it wrote must be checked against the fingerprint above.
  return (
    `If you have checked this fingerprint out of band (on the server: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), trust it with\n` +
    `    host_key_sha256 = "${key.fingerprint}"   in [pull]\n` +
    `  or add the server's keys to known_hosts${remove ? ' (removing the old entry first)' : ''}:\n` +
    `    mkdir -p -m 700 ${shellQuote(dirname(path))} && ${remove}ssh-keyscan -p ${w.port} ${shellQuote(w.host)} >> ${file}\n` +
    `  and check that ssh-keygen -l -F ${name} -f ${file} shows that fingerprint`
  );
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9@%+=:,./_~-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
