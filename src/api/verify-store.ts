/**
 * verify for a backup in a store (S3, SFTP): the backup latest.txt names (or a given one) and its
 * sidecar are downloaded into a private temp directory (0700, removed on every path), then checked
 * exactly as a local file is (sha256 sidecar, gzip CRC and length, integrity_check).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackupError, ErrorCode } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic.js';
import type { Transport } from '../transport/types.js';
import { SIDECAR_SUFFIX } from '../format/naming.js';
import { findLatest } from '../store/listing.js';
import { whereIn } from '../store/where.js';
import { verify, type VerifyOptions, type VerifyResult } from './verify.js';

/** verify's result for a backup in a store, with its name and location there. */
export interface StoreVerifyResult extends VerifyResult {
  /** The backup's name in the store. */
  name: string;
  /** Where it is: `<store url>/<name>`. */
  location: string;
}

/**
 * verify() for a backup in a store: `name`, or the one the store's latest.txt names (else the
 * newest). It and its sidecar are downloaded into a private temp directory, removed afterwards.
 */
export async function verifyInStore(transport: Transport, name: string | undefined, options: VerifyOptions = {}): Promise<StoreVerifyResult> {
  const { signal } = options;
  const chosen = name ?? (await findLatest(transport, { signal, dbName: options.dbName }))?.name;
  if (chosen === undefined) {
    const of = options.dbName !== undefined ? ` of database "${options.dbName}"` : '';
    throw new BackupError(ErrorCode.BACKUP_NOT_FOUND, `no backup${of} in ${transport.location}`, { path: transport.location });
  }
  const dir = await mkdtemp(join(options.tempDir ?? tmpdir(), 'sqlite-backup-verify-'));
  try {
    const local = join(dir, chosen);
    await writeFileAtomic(local, transport.read(chosen, { signal }), { signal });
    const sidecar = await transport.readText(`${chosen}${SIDECAR_SUFFIX}`, 4096, { signal });
    if (sidecar !== undefined) await writeFileAtomic(`${local}${SIDECAR_SUFFIX}`, sidecar);
    const result = await verify(local, { ...options, tempDir: dir });
    return { ...result, name: chosen, location: whereIn(transport, chosen) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
