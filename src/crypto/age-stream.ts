/**
 * age encryption as a pipeline stage over async iterables of bytes: compress -> encrypt -> write on
 * the way out, read -> decrypt -> gunzip on the way back. age's STREAM format encrypts in 64 KiB
 * chunks, each authenticated, so memory stays bounded whatever the file size, and a damaged or
 * altered chunk fails before its plaintext is handed on. The crypto is the `age-encryption` package
 * (age's author, audited @noble primitives); this module only adapts its web streams and maps its
 * plain Errors to typed ones (EDECRYPT). Key material never appears in a message.
 */
import { Decrypter, Encrypter } from 'age-encryption';
import { BackupError, ErrorCode } from '../errors.js';
import type { AgeIdentities } from './age-identity.js';

/** The first bytes of every binary age file. */
export const AGE_MAGIC = 'age-encryption.org/v1\n';

/** True when `head` (the first bytes of a file, at least 22) starts like a binary age file. */
export function isAgeHeader(head: Uint8Array): boolean {
  if (head.length < AGE_MAGIC.length) return false;
  for (let i = 0; i < AGE_MAGIC.length; i++) if (head[i] !== AGE_MAGIC.charCodeAt(i)) return false;
  return true;
}

/**
 * Encrypts `source` to every recipient (`age1...` X25519 public keys, checked by parseAgeRecipients).
 * The output is a binary age file, readable by `age -d -i <identity>`.
 */
export async function* encryptChunks(source: AsyncIterable<Uint8Array>, recipients: readonly string[]): AsyncGenerator<Uint8Array> {
  if (recipients.length === 0) throw new BackupError(ErrorCode.CONFIG, 'age encryption needs at least one recipient');
  const encrypter = new Encrypter();
  for (const r of recipients) encrypter.addRecipient(r);
  const input = toReadable(source);
  const output = await encrypter.encrypt(input);
  yield* iterate(output, (e) => e);
}

/**
 * Decrypts the age file `source` with any key of `identities`. The header is read and a key found
 * before this resolves: a file for other recipients, or not age at all, throws EDECRYPT here, before
 * a byte of output. A chunk that fails authentication (damage, truncation, tampering) throws
 * EDECRYPT from the iteration. `what` names the file in messages.
 */
export async function decryptChunks(
  source: AsyncIterable<Uint8Array>,
  identities: AgeIdentities,
  what: string,
): Promise<AsyncIterable<Uint8Array>> {
  const decrypter = new Decrypter();
  for (const key of identities.keys) decrypter.addIdentity(key);
  let output: ReadableStream<Uint8Array>;
  try {
    output = await decrypter.decrypt(toReadable(source));
  } catch (e) {
    throw decryptError(e, identities, what);
  }
  return iterate(output, (e) => decryptError(e, identities, what));
}

/** An AsyncIterable as a web ReadableStream that pulls one chunk at a time (no read-ahead queue). */
function toReadable(source: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await it.next();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      async cancel(reason) {
        await it.return?.(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

async function* iterate(stream: ReadableStream<Uint8Array>, mapError: (e: unknown) => unknown): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  let finished = false;
  try {
    for (;;) {
      let step: Awaited<ReturnType<typeof reader.read>>;
      try {
        step = await reader.read();
      } catch (e) {
        throw mapError(e);
      }
      if (step.done) {
        finished = true;
        return;
      }
      yield step.value;
    }
  } finally {
    // A consumer that stopped early (an error downstream, an abort): stop the source too.
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

function decryptError(e: unknown, identities: AgeIdentities, what: string): unknown {
  if (e instanceof BackupError) return e; // an error of the source (I/O, abort) passes unchanged
  const message = (e as Error)?.message ?? String(e);
  const n = identities.keys.length;
  const why = /no identity matched/i.test(message)
    ? `${n === 1 ? 'the key' : `none of the ${n} keys`} in "${identities.path}" ${n === 1 ? 'cannot' : 'can'} decrypt it (it was encrypted to other recipients)`
    : /invalid version|header|magic|age-encryption\.org/i.test(message)
      ? `it is not a valid age file (${message})`
      : `it cannot be decrypted: the data is damaged or was altered (${message})`;
  return new BackupError(ErrorCode.DECRYPT, `${what}: ${why}`, { path: what, cause: e });
}
