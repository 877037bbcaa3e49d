/**
 * OpenSSH known_hosts: parsing, host matching, and the facts about a raw SSH public key blob that
 * the verification policy (host-key.ts) needs. Pure functions except loadKnownHosts.
 *
 * Follows OpenSSH (hostfile.c, match.c, sshconnect.c):
 * - a line is `[@marker] <host patterns> <key type> <base64 key> [comment]`; `#` comments, blank
 *   lines and lines we cannot parse are skipped, never fatal (ssh does the same);
 * - the name looked up is the host, lower-cased, for port 22, and `[host]:port` for any other port,
 *   so a plain `host` line never matches port 2222 and `[host]:22` never matches port 22;
 * - patterns are comma-separated, with `*` and `?` wildcards, case-insensitive; a line matches when
 *   one pattern matches and no `!negated` pattern does;
 * - `|1|<salt>|<hash>` is a hashed name (`ssh-keygen -H`): HMAC-SHA1 keyed by the salt over the name;
 * - `@revoked` keys are refused for the hosts the line matches, even if another line lists them;
 * - `@cert-authority` lines are skipped: this client does not support host certificates (ssh2
 *   cannot negotiate `*-cert-v01@openssh.com`), so such a host must be listed by its plain key.
 * Any key type is kept (ssh-ed25519, ecdsa-sha2-*, ssh-rsa, sk-*...) and matched by its blob.
 */
import { createHash, createHmac, generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { BackupError, ErrorCode } from '../../errors.js';

/** One usable known_hosts line. */
export interface KnownHostsEntry {
  /** `revoked` for an `@revoked` line. */
  marker?: 'revoked';
  /** Plain patterns (possibly `!negated`, with wildcards), or one hashed name. */
  hosts: { patterns: string[] } | { salt: Buffer; hash: Buffer };
  /** Key type as written, equal to the type inside the blob. */
  type: string;
  /** The raw SSH public key blob (what ssh2 hands to hostVerifier). */
  blob: Buffer;
  /** The file (or other source) the line came from, for messages. */
  source?: string;
  /** 1-based line number. */
  line: number;
}

export interface SkippedLine {
  line: number;
  reason: 'cert-authority' | 'malformed';
}

export interface KnownKey {
  type: string;
  blob: Buffer;
  source?: string;
  line: number;
}

/** What ssh2 would use by default (lib/protocol/constants.js, v1.17), in its preference order. */
const DEFAULT_HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
] as const;

const HASH_MAGIC = '|1|';
const SHA1_LENGTH = 20;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const KEY_TYPE = /^[A-Za-z0-9@._+-]{1,64}$/;

export function parseKnownHosts(text: string, source?: string): KnownHostsEntry[] {
  return parseKnownHostsWithSkips(text, source).entries;
}

/** parseKnownHosts, plus the lines it skipped (so "unknown host" messages can point at them). */
export function parseKnownHostsWithSkips(text: string, source?: string): { entries: KnownHostsEntry[]; skipped: SkippedLine[] } {
  const entries: KnownHostsEntry[] = [];
  const skipped: SkippedLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const fields = raw.trim().split(/[ \t]+/);
    if (fields[0] === '' || fields[0]!.startsWith('#')) return;
    const line = i + 1;
    let marker: 'revoked' | undefined;
    if (fields[0]!.startsWith('@')) {
      const word = fields.shift()!;
      if (word === '@cert-authority') return void skipped.push({ line, reason: 'cert-authority' });
      if (word !== '@revoked') return void skipped.push({ line, reason: 'malformed' });
      marker = 'revoked';
    }
    const [hostField, type, base64] = fields;
    const hosts = hostField === undefined ? undefined : parseHostField(hostField);
    const blob = base64 !== undefined && BASE64.test(base64) ? Buffer.from(base64, 'base64') : undefined;
    // As ssh: the type written must be the type inside the blob (this also rejects SSH1 `bits e n` lines).
    if (!hosts || !type || !KEY_TYPE.test(type) || !blob || readKeyType(blob) !== type) {
      return void skipped.push({ line, reason: 'malformed' });
    }
    entries.push({ marker, hosts, type, blob, source, line });
  });
  return { entries, skipped };
}

function parseHostField(field: string): KnownHostsEntry['hosts'] | undefined {
  if (!field.startsWith(HASH_MAGIC)) {
    const patterns = field.split(',').filter((p) => p !== '' && p !== '!');
    return patterns.length > 0 ? { patterns } : undefined;
  }
  const [salt64, hash64, ...rest] = field.slice(HASH_MAGIC.length).split('|');
  if (rest.length > 0 || !salt64 || !hash64 || !BASE64.test(salt64) || !BASE64.test(hash64)) return undefined;
  const salt = Buffer.from(salt64, 'base64');
  const hash = Buffer.from(hash64, 'base64');
  return salt.length === SHA1_LENGTH && hash.length === SHA1_LENGTH ? { salt, hash } : undefined;
}

/**
 * Reads and parses a known_hosts file. A missing or unreadable file throws EHOST_KEY with the path:
 * a configured known_hosts that is not there is a setup mistake, not "no hosts known".
 */
export async function loadKnownHosts(path: string): Promise<KnownHostsEntry[]> {
  return parseKnownHosts(await readKnownHostsText(path), path);
}

/** The text of a known_hosts file, or EHOST_KEY saying why it cannot be used. */
export async function readKnownHostsText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    const message =
      errno === 'ENOENT'
        ? `known_hosts file "${path}" does not exist; pin host_key_sha256 or create it with ssh-keyscan`
        : `cannot read known_hosts file "${path}": ${(e as Error).message}`;
    throw new BackupError(ErrorCode.HOST_KEY, message, { path, errno, cause: e });
  }
}

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise; lower-cased, brackets of an IPv6 literal removed. */
export function knownHostsName(host: string, port: number): string {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return port === 22 ? bare : `[${bare}]:${port}`;
}

/** Does this entry's host field match the host:port being connected to? */
export function entryMatches(entry: KnownHostsEntry, host: string, port: number): boolean {
  const name = knownHostsName(host, port);
  if ('hash' in entry.hosts) {
    return createHmac('sha1', entry.hosts.salt).update(name).digest().equals(entry.hosts.hash);
  }
  let positive = false;
  for (const pattern of entry.hosts.patterns) {
    const negated = pattern.startsWith('!');
    if (!globMatch(negated ? pattern.slice(1) : pattern, name)) continue;
    if (negated) return false; // a matching negation vetoes the whole line
    positive = true;
  }
  return positive;
}

/** OpenSSH match_pattern: `*` any run, `?` one character, everything else literal, case-insensitive. */
function globMatch(pattern: string, name: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 'is').test(name);
}

/** Keys listed for host:port, and the keys `@revoked` for it. A key may be in both: revoked wins. */
export function keysForHost(entries: readonly KnownHostsEntry[], host: string, port: number): { keys: KnownKey[]; revoked: Buffer[] } {
  const keys: KnownKey[] = [];
  const revoked: Buffer[] = [];
  for (const e of entries) {
    if (!entryMatches(e, host, port)) continue;
    if (e.marker === 'revoked') revoked.push(e.blob);
    else keys.push({ type: e.type, blob: e.blob, source: e.source, line: e.line });
  }
  return { keys, revoked };
}

/** `SHA256:<base64, no padding>`, exactly as `ssh-keygen -lf` and ssh print it. */
export function fingerprintSha256(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named at the start of a public key blob (`ssh-ed25519`...). Throws EHOST_KEY on a malformed blob. */
export function keyTypeOf(blob: Buffer): string {
  const type = readKeyType(blob);
  if (type === undefined) throw new BackupError(ErrorCode.HOST_KEY, 'malformed SSH public key blob: no key type string at its start');
  return type;
}

function readKeyType(blob: Buffer): string | undefined {
  const s = readString(blob, 0);
  const type = s?.value.toString('latin1');
  return type !== undefined && KEY_TYPE.test(type) ? type : undefined;
}

/** An SSH wire `string` (uint32 length + bytes) at `offset`, or undefined when it overruns the blob. */
function readString(blob: Buffer, offset: number): { value: Buffer; next: number } | undefined {
  if (offset + 4 > blob.length) return undefined;
  const end = offset + 4 + blob.readUInt32BE(offset);
  return end > blob.length ? undefined : { value: blob.subarray(offset + 4, end), next: end };
}

/**
 * The key as `ssh-keygen -lf` shows it, without the comment: `256 SHA256:... (ED25519)`.
 * The size is read from the blob (RSA/DSA modulus bits, the ECDSA curve); `?` when it cannot be.
 */
export function describeKey(blob: Buffer): string {
  const type = readKeyType(blob) ?? 'unknown';
  return `${keyBits(blob, type) ?? '?'} ${fingerprintSha256(blob)} (${keyLabel(type)})`;
}

function keyBits(blob: Buffer, type: string): number | undefined {
  if (type === 'ssh-ed25519' || type.startsWith('sk-')) return 256; // sk-* are ed25519 or nistp256 only
  const curve = /^ecdsa-sha2-nistp(\d+)$/.exec(type);
  if (curve) return Number(curve[1]);
  // ssh-rsa: string type, mpint e, mpint n. ssh-dss: string type, mpint p, ...
  const first = readString(blob, 0);
  const e = first && readString(blob, first.next);
  const mpint = type === 'ssh-rsa' ? e && readString(blob, e.next) : type === 'ssh-dss' ? e : undefined;
  if (!mpint) return undefined;
  const bytes = mpint.value;
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  return i === bytes.length ? 0 : (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i]!));
}

/** ssh-keygen's label: ED25519, ECDSA, RSA, DSA, ECDSA-SK, ED25519-SK. */
function keyLabel(type: string): string {
  if (type === 'ssh-ed25519') return 'ED25519';
  if (type.startsWith('ecdsa-sha2-')) return 'ECDSA';
  if (type === 'ssh-rsa') return 'RSA';
  if (type === 'ssh-dss') return 'DSA';
  if (type.startsWith('sk-ecdsa-')) return 'ECDSA-SK';
  if (type.startsWith('sk-ssh-ed25519')) return 'ED25519-SK';
  return type.toUpperCase();
}

/**
 * The `algorithms.serverHostKey` list for ssh2: the algorithms of the keys known for this host first
 * (in ssh2's preference order), then every other default. ssh2 takes the first algorithm of ours that
 * the server also has, so without this a host known only by its ECDSA key would be asked for its
 * ed25519 key and refused as "changed" (OpenSSH orders its offer the same way). ssh-rsa keys sign
 * with rsa-sha2-512 / rsa-sha2-256 / ssh-rsa. Key types ssh2 cannot negotiate (sk-*, certificates,
 * ssh-dss, which OpenSSH no longer offers either) are left out: such a host must be listed by (or
 * pinned to) another of its keys.
 */
export function hostKeyAlgorithmsFor(keys: readonly { type: string }[]): string[] {
  const defaults: string[] = DEFAULT_HOST_KEY_ALGORITHMS.filter((a) => a !== 'ssh-ed25519' || ed25519Available());
  const known = new Set(keys.flatMap((k) => (k.type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [k.type])));
  return [...defaults.filter((a) => known.has(a)), ...defaults.filter((a) => !known.has(a))];
}

let ed25519: boolean | undefined;
/** ssh2 offers ssh-ed25519 only when the runtime's crypto can use Ed25519, and throws on names it lacks. */
function ed25519Available(): boolean {
  if (ed25519 === undefined) {
    try {
      generateKeyPairSync('ed25519');
      ed25519 = true;
    } catch {
      ed25519 = false;
    }
  }
  return ed25519;
}
