/**
 * age identities (X25519 secret keys) from an identity file, and decryption with them. The file is
 * what `age-keygen -o key.txt` writes: `AGE-SECRET-KEY-1...` lines, `#` comments and blank lines; a
 * file may hold several keys and every one is tried, as `age -d -i` does. Key material never
 * appears in an error message: a bad line is reported by its number only.
 */
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { armor, Decrypter } from 'age-encryption';
import { BackupError, ErrorCode, errnoOf, fsReason } from '../errors.js';

/** The environment variable naming the identity file when no option does. */
export const AGE_IDENTITY_ENV = 'SQLITE_BACKUP_AGE_IDENTITY';

/** The keys of an age identity file, loaded once by loadAgeIdentities. */
export interface AgeIdentities {
  /** The identity file, resolved. */
  path: string;
  /** The AGE-SECRET-KEY-1 strings; never print them. */
  keys: string[];
}

/** Options of loadAgeIdentities. */
export interface LoadAgeIdentitiesOptions {
  /**
   * Called with a warning when the file can be read by its group or by others (POSIX modes): a
   * secret key should be 0600, as age-keygen writes it. Windows has no such modes: never called.
   */
  warn?: (message: string) => void;
}

const SECRET_KEY = /^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/;
const AGE_BINARY_MAGIC = 'age-encryption.org/v1\n';
const AGE_ARMOR_BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';

/** Reads and checks an identity file; ECONFIG naming the file for every problem. */
export async function loadAgeIdentities(pathArg: string, options: LoadAgeIdentitiesOptions = {}): Promise<AgeIdentities> {
  const path = resolve(pathArg);
  let text: string;
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      options.warn?.(
        `age identity file "${path}" is readable by others (mode 0${(st.mode & 0o777).toString(8)}): ` +
          `anyone who can read it can decrypt your config; run "chmod 600 ${path}"`,
      );
    }
    text = await readFile(path, 'utf8');
  } catch (e) {
    const errno = errnoOf(e);
    const why = errno === 'ENOENT' ? 'does not exist' : errno === 'EISDIR' ? 'is a directory' : `cannot be read (${errno ? fsReason(errno) : (e as Error).message})`;
    throw new BackupError(ErrorCode.CONFIG, `age identity file "${path}" ${why}`, { path, cause: e, errno });
  }
  const keys: string[] = [];
  const bad: number[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    // Keys are case-insensitive Bech32; age-keygen writes them upper case.
    if (SECRET_KEY.test(line.toUpperCase())) keys.push(line.toUpperCase());
    else bad.push(i + 1);
  });
  if (bad.length > 0) {
    const hint = /AGE-PLUGIN-|AGE-SECRET-KEY-PQ-/i.test(text)
      ? ' (only X25519 keys, AGE-SECRET-KEY-1..., are supported)'
      : text.includes('age1') && keys.length === 0 ? ' (an "age1..." line is a public key: give the secret key file, the one age-keygen wrote)' : '';
    throw new BackupError(
      ErrorCode.CONFIG,
      `age identity file "${path}": line${bad.length > 1 ? 's' : ''} ${bad.join(', ')} ${bad.length > 1 ? 'are' : 'is'} not an age secret key ` +
        `(AGE-SECRET-KEY-1...), a comment (#) or blank${hint}`,
      { path },
    );
  }
  if (keys.length === 0) throw new BackupError(ErrorCode.CONFIG, `age identity file "${path}" holds no key (AGE-SECRET-KEY-1...)`, { path });
  return { path, keys };
}

/** The identity file to use: the option, else $SQLITE_BACKUP_AGE_IDENTITY, else undefined. */
export function ageIdentityPath(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (option !== undefined && option !== '') return option;
  const fromEnv = env[AGE_IDENTITY_ENV];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined;
}

/** True when the bytes start like an age file, binary or ASCII-armored. */
export function looksAgeEncrypted(data: Uint8Array): boolean {
  const head = new TextDecoder().decode(data.subarray(0, 64)).trimStart();
  return head.startsWith(AGE_BINARY_MAGIC) || head.startsWith(AGE_ARMOR_BEGIN);
}

/**
 * Decrypts an age file (binary or armored) with every key of `identities`. `what` names the data
 * in messages ("app_config row 7 (scope application)"). Errors are ECONFIG: an unencrypted input,
 * no key matching its recipients, or a damaged file.
 */
export async function ageDecrypt(data: Uint8Array, identities: AgeIdentities, what: string): Promise<Uint8Array> {
  if (!looksAgeEncrypted(data)) {
    throw new BackupError(ErrorCode.CONFIG, `${what} is not age-encrypted (no "age-encryption.org/v1" header); encrypt it with "age -r <recipient>"`);
  }
  const decrypter = new Decrypter();
  for (const key of identities.keys) decrypter.addIdentity(key);
  let file = data;
  try {
    const text = new TextDecoder().decode(data).trimStart();
    if (text.startsWith(AGE_ARMOR_BEGIN)) file = armor.decode(text);
    return await decrypter.decrypt(file);
  } catch (e) {
    const message = (e as Error)?.message ?? String(e);
    const noMatch = /no identity matched/i.test(message);
    const n = identities.keys.length;
    const why = noMatch
      ? `${n === 1 ? 'the key' : `none of the ${n} keys`} in "${identities.path}" ${n === 1 ? 'cannot' : 'can'} decrypt it (it was encrypted to another recipient)`
      : `it cannot be decrypted (${message}): the data is damaged`;
    throw new BackupError(ErrorCode.CONFIG, `${what}: ${why}`, { path: identities.path, cause: e });
  }
}
