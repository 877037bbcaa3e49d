/**
 * age recipients (public keys) for encrypted backups: the `age_recipients` list of `[encryption]`,
 * or a file in age's `-R` format (one recipient per line, `#` comments, blank lines). Only native
 * X25519 recipients (`age1...`) are accepted: `ssh-*` keys are not supported by the age library we
 * use, and post-quantum `age1pq1...` recipients produce files that age 1.1.x cannot decrypt - a
 * backup nobody can restore. Each problem is reported by its position, never silently skipped.
 */
import { readFileSync } from 'node:fs';
import { Encrypter } from 'age-encryption';
import { errnoOf, fsReason } from '../errors.js';

/** Bech32 X25519 recipient: `age1` + 58 data characters (lower case as written by age-keygen). */
const X25519_RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;

/**
 * Why `value` is not a usable recipient, or undefined when it is one. Checks the shape and lets the
 * age library check the Bech32 checksum.
 */
export function recipientProblem(value: string): string | undefined {
  const v = value.trim();
  if (/^ssh-(ed25519|rsa)\s/.test(v) || /^ssh-/.test(v)) return 'ssh-* recipients are not supported: generate an age key with "age-keygen" and use its "age1..." public key';
  if (/^age1pq1/i.test(v)) return 'post-quantum "age1pq1..." recipients are not supported: age 1.1 cannot decrypt such files; use an X25519 "age1..." key from "age-keygen"';
  if (/^AGE-SECRET-KEY-/i.test(v)) return 'this is a secret key: give its public key ("age-keygen -y <key file>" prints it); secret keys never belong in a config';
  if (/^AGE-PLUGIN-|^age1[a-z0-9]+1/i.test(v) && !X25519_RECIPIENT.test(v.toLowerCase())) return 'plugin and tag recipients are not supported: use an X25519 "age1..." key from "age-keygen"';
  if (!X25519_RECIPIENT.test(v.toLowerCase())) return 'not an age X25519 recipient ("age1" followed by 58 characters, as "age-keygen" prints it)';
  try {
    new Encrypter().addRecipient(v.toLowerCase());
  } catch (e) {
    return `not a valid age recipient (${(e as Error).message})`;
  }
  return undefined;
}

/**
 * The recipients of an age `-R` file. Throws an Error whose message reads after the key name
 * ("age_recipients_file: ..."), naming the file and the offending line numbers.
 */
export function readRecipientsFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const errno = errnoOf(e);
    const why = errno === 'ENOENT' ? 'does not exist' : errno === 'EISDIR' ? 'is a directory' : `cannot be read (${errno ? fsReason(errno) : (e as Error).message})`;
    throw new Error(`"${path}" ${why}`);
  }
  const recipients: string[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const problem = recipientProblem(line);
    if (problem === undefined) recipients.push(line.toLowerCase());
    else problems.push(`line ${i + 1}: ${problem}`);
  });
  if (problems.length > 0) throw new Error(`"${path}" ${problems.join('; ')}`);
  if (recipients.length === 0) throw new Error(`"${path}" holds no recipient ("age1..." lines)`);
  return recipients;
}
