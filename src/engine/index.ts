export type {
  Engine,
  EngineCallOptions,
  EngineProgress,
  IntegrityCheckOptions,
  IntegrityMode,
  IntegrityResult,
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
export { DEFAULT_CACHE_SIZE_KIB, MAX_CACHE_SIZE_KIB } from './operations.js';
export { readDatabaseHeader, type DatabaseHeader } from './database-file.js';
