/**
 * Snapshot of a database that may be in use: copy-and-validate it into a private file (live-copy.ts),
 * then run the chosen strategy (VACUUM INTO or the online backup API) over that validated copy - never
 * over the live files, which we cannot lock. The private copy is removed on every path.
 */
import { basename, join, resolve } from 'node:path';
import type { Engine, EngineProgress, LiveCopyOptions, OnlineBackupOptions, SnapshotResult, SnapshotStrategy } from './types.js';
import { privateCopyPath, type LiveCopyResult } from './live-copy.js';
import { checkNewDestination } from './database-file.js';
import { removeDatabaseFiles } from '../fs/sync.js';

/** Options of snapshotLive. */
export interface LiveSnapshotOptions extends LiveCopyOptions {
  /** @default 'vacuum' */
  strategy?: SnapshotStrategy;
  /** Where the private copy is made. @default the directory of `dest` */
  workDir?: string;
  /** Online strategy only. */
  pagesPerStep?: OnlineBackupOptions['pagesPerStep'];
  sleepMs?: OnlineBackupOptions['sleepMs'];
  onProgress?: (progress: EngineProgress) => void;
}

/** The snapshot snapshotLive wrote, and how its copy was obtained. */
export interface LiveSnapshotResult extends SnapshotResult {
  strategy: SnapshotStrategy;
  /** How the validated copy was obtained: attempts, rejections, bytes. */
  copy: Omit<LiveCopyResult, 'path'>;
}

/**
 * Writes a consistent snapshot of `source` (which other processes may be writing) to the new file
 * `dest`. Fails with ESNAPSHOT_BUSY when writers never pause long enough, ESOURCE_HOT_JOURNAL when a
 * crashed writer left an unfinished transaction, and the engine's errors otherwise.
 */
export async function snapshotLive(
  engine: Engine,
  sourceArg: string,
  destArg: string,
  options: LiveSnapshotOptions = {},
): Promise<LiveSnapshotResult> {
  const source = resolve(sourceArg);
  const dest = resolve(destArg);
  const strategy = options.strategy ?? 'vacuum';
  checkNewDestination(dest);
  const privateCopy = options.workDir ? join(resolve(options.workDir), basename(privateCopyPath(dest))) : privateCopyPath(dest);
  checkNewDestination(privateCopy);
  try {
    const { path: _path, ...copy } = await engine.copyLive(source, privateCopy, options);
    const call = { signal: options.signal, onProgress: options.onProgress };
    const result =
      strategy === 'vacuum'
        ? await engine.vacuumInto(privateCopy, dest, call)
        : await engine.onlineBackup(privateCopy, dest, {
            ...call,
            pagesPerStep: options.pagesPerStep,
            sleepMs: options.sleepMs,
            // Nobody writes to the private copy: a restart would mean a bug, not a busy source.
            maxRestarts: 0,
          });
    return { ...result, sourceJournalMode: copy.journalMode, strategy, copy };
  } finally {
    removeDatabaseFiles(privateCopy);
  }
}
