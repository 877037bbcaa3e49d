export type {
  Engine,
  EngineCallOptions,
  EngineProgress,
  IntegrityCheckOptions,
  IntegrityMode,
  IntegrityResult,
  LiveCopyOptions,
  OnlineBackupOptions,
  SnapshotResult,
  SnapshotStrategy,
} from './types.js';
export {
  WasmEngine,
  DEFAULT_ABORT_GRACE_MS,
  DEFAULT_MAX_ERRORS,
  DEFAULT_MAX_RESTARTS,
  DEFAULT_PAGES_PER_STEP,
  DEFAULT_SLEEP_MS,
  type WasmEngineOptions,
} from './wasm-engine.js';
export { DEFAULT_CACHE_SIZE_KIB, MAX_CACHE_SIZE_KIB, type SqlValue } from './operations.js';
export { readDatabaseHeader, type DatabaseHeader } from './database-file.js';
export {
  judgeCopy,
  DEFAULT_COPY_ATTEMPTS,
  DEFAULT_INITIAL_BACKOFF_MS,
  DEFAULT_MAX_BACKOFF_MS,
  RACY_MARGIN_MS,
  type LiveCopyResult,
  type RejectReason,
} from './live-copy.js';
export { snapshotLive, type LiveSnapshotOptions, type LiveSnapshotResult } from './live-snapshot.js';
