/**
 * What a live database looks like on disk at one instant, read without locks: the db header, the
 * `-wal` header and whether a rollback journal is hot. Two such observations, one before and one after
 * a copy, are what live-copy.ts compares to decide whether the copy is consistent.
 */
import type { BigIntStats } from 'node:fs';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { BackupError, ErrorCode, fsError } from '../errors.js';
import { JOURNAL_MAGIC, parseDatabaseHeader } from './database-file.js';
import { readFully } from '../fs/sync.js';

export const WAL_HEADER_BYTES = 32;
/** First 4 bytes of a `-wal` file (the last bit says which byte order its checksums use). */
const WAL_MAGIC = [0x377f0682, 0x377f0683];

export interface FileIdentity {
  size: number;
  /** Modification time in nanoseconds (as precise as the filesystem keeps it). */
  mtimeNs: bigint;
  ino: bigint;
}

export interface LiveState {
  /** Wall-clock time (ns since the epoch) just before the observation started. */
  observedAtNs: bigint;
  db: FileIdentity;
  /** Bytes 18/19 of the db header say WAL. */
  headerWal: boolean;
  /** File change counter (offset 24): rollback-mode writers bump it on every commit. */
  changeCounter: number;
  /** The 32-byte `-wal` header, or undefined when there is no `-wal` or it is shorter than a header. */
  walHeader: Buffer | undefined;
  /** `-journal` exists and starts with the magic of a journal that still has pages to roll back. */
  journalHot: boolean;
  /** Identity of the `-journal` file, when one exists (to tell a crashed writer's journal from a live one). */
  journal: FileIdentity | undefined;
}

function identity(st: BigIntStats): FileIdentity {
  return { size: Number(st.size), mtimeNs: st.mtimeNs, ino: st.ino };
}

export function sameIdentity(a: FileIdentity | undefined, b: FileIdentity | undefined): boolean {
  if (!a || !b) return a === b;
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ino === b.ino;
}

function readHead(path: string, bytes: number): { head: Buffer; st: BigIntStats } | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fsError('open', path, e);
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    const head = Buffer.alloc(bytes);
    return { head: head.subarray(0, readFully(fd, head, 0)), st };
  } catch (e) {
    throw fsError('read', path, e);
  } finally {
    closeSync(fd);
  }
}

/**
 * Observes the database at `path`. The order of the reads matters (see live-copy.ts): before a copy
 * the db header is read before the journal; after a copy the journal is read before the db header.
 * Then a rollback commit overlapping the copy is seen either as a hot journal or as a new change
 * counter, whichever way its steps interleave with ours.
 */
export function observeLiveState(path: string, when: 'before' | 'after'): LiveState {
  const observedAtNs = BigInt(Date.now()) * 1_000_000n;
  const journalFirst = when === 'after' ? readHead(`${path}-journal`, JOURNAL_MAGIC.length) : undefined;
  let db;
  try {
    db = readHead(path, 100);
  } catch (e) {
    throw fsError('read', path, e);
  }
  if (!db) throw new BackupError(ErrorCode.SOURCE_NOT_FOUND, `database "${path}" does not exist`, { path, errno: 'ENOENT' });
  if (!db.st.isFile()) throw new BackupError(ErrorCode.NOT_A_DATABASE, `"${path}" is not a regular file`, { path });
  const header = parseDatabaseHeader(db.head, Number(db.st.size), path);
  const wal = readHead(`${path}-wal`, WAL_HEADER_BYTES);
  const walHeader =
    wal && wal.head.length === WAL_HEADER_BYTES && WAL_MAGIC.includes(wal.head.readUInt32BE(0)) ? wal.head : undefined;
  const journal = when === 'after' ? journalFirst : readHead(`${path}-journal`, JOURNAL_MAGIC.length);
  return {
    observedAtNs,
    db: identity(db.st),
    headerWal: header.walMode,
    changeCounter: header.changeCounter,
    walHeader,
    journalHot: journal !== undefined && journal.head.equals(JOURNAL_MAGIC),
    journal: journal ? identity(journal.st) : undefined,
  };
}
