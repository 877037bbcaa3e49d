/** `.sha256` sidecars in a store, read and written through its Transport (format: ../sidecar.ts). */
import { BackupError, ErrorCode } from '../errors.js';
import type { Transport } from '../transport/types.js';
import { SIDECAR_SUFFIX } from '../format/naming.js';
import { formatSidecar, MAX_SIDECAR_BYTES, parseSidecar, type Sidecar } from '../format/sidecar.js';
import { whereIn } from './where.js';

/**
 * The sidecar of backup `name`; undefined when there is none. ECHECKSUM when it is malformed or
 * names another file.
 */
export async function readStoreSidecar(transport: Transport, name: string, options: { signal?: AbortSignal } = {}): Promise<Sidecar | undefined> {
  const sidecarName = `${name}${SIDECAR_SUFFIX}`;
  const text = await transport.readText(sidecarName, MAX_SIDECAR_BYTES + 1, options);
  if (text === undefined) return undefined;
  const where = whereIn(transport, sidecarName);
  if (Buffer.byteLength(text) > MAX_SIDECAR_BYTES) {
    throw new BackupError(ErrorCode.CHECKSUM, `"${where}" is malformed: more than ${MAX_SIDECAR_BYTES} bytes, expected one line`, { path: where });
  }
  const sidecar = parseSidecar(text, where);
  if (sidecar.fileName !== name) {
    throw new BackupError(ErrorCode.CHECKSUM, `"${where}" is for ${JSON.stringify(sidecar.fileName)}, not for "${name}"`, { path: where });
  }
  return sidecar;
}

/** Writes `<name>.sha256` (atomically, as every store write). */
export async function writeStoreSidecar(transport: Transport, name: string, hex: string, options: { signal?: AbortSignal } = {}): Promise<string> {
  const sidecarName = `${name}${SIDECAR_SUFFIX}`;
  await transport.write(sidecarName, formatSidecar(hex, name), options);
  return sidecarName;
}
