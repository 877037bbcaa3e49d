/**
 * restinpieces-sqlite-backup: safe, portable SQLite backups for Node.
 *
 * The package root: the operations, config loading, the job handler, the transports and the store,
 * the engine and the errors. Everything exported here (and from the documented subpath
 * `restinpieces-sqlite-backup/compress`) follows semver; any other module of the package is internal.
 * etc/restinpieces-sqlite-backup.api.md is the reviewed report of this surface (`npm run api`).
 *
 * @packageDocumentation
 */

// Errors
export { BackupError, ErrorCode, isBackupError, type BackupErrorDetails, type ErrorCodeValue } from './errors.js';
export { ConfigError, type ConfigProblem } from './config/config.js';
export { PushError } from './api/push.js';
export { EntriesError } from './api/backup-entries.js';

// Operations
export { backup, type BackupOptions, type BackupProgress, type BackupPhase, type BackupResult } from './api/backup.js';
export { backupEntries, type EntryOutcome, type BackupEntriesOptions } from './api/backup-entries.js';
export { pull, type PullOptions, type PullProgress, type PullPhase, type PullResult } from './api/pull.js';
export { verify, type BackupFormat, type CheckProgress, type VerifyOptions, type VerifyResult } from './api/verify.js';
export { restore, type RestoreOptions, type RestoreResult } from './api/restore.js';
export { listBackups, pickLatest, type BackupEntry, type ChosenBy, type ListOptions } from './api/listing.js';
export { prune } from './api/retention.js';
export type { PruneOptions, PruneResult } from './store/prune.js';
export { status, type StatusOptions, type StatusResult, type StatusBackup, type StatusProblem } from './api/status.js';
export {
  pushBackup,
  type PushOutcome,
  type PushFailure,
  type PushFailureKind,
  type PushedBackup,
  type PushOptions,
} from './api/push.js';

// Config
export {
  loadConfig,
  parseConfig,
  CONFIG_DEFAULTS,
  CONFIG_KEYS,
  type Config,
  type EncryptionSettings,
  type BackupEntryConfig,
  type KeySpec,
  type ParseConfigOptions,
  type PullConfig,
  type PullSettings,
  type PushSettings,
  type Strategy,
  type VerifyMode,
} from './config/config.js';
export type { RetentionCounts } from './config/config-schema.js';
export { loadAppConfig, type AppConfigOptions, type AppConfigSource } from './config/app-config.js';
export { resolveRetention, type RetentionField, type RetentionPolicy, type FullRetentionPolicy, type RetentionScope, type WrittenRetention } from './config/retention-policy.js';
export { loadAgeIdentities, type AgeIdentities, type LoadAgeIdentitiesOptions } from './crypto/age-identity.js';
export type { AgeIdentityOption } from './crypto/identity-option.js';

// The job handler
export { createBackupHandler, JOB_TYPE, type BackupHandler, type ConfigSource, type HandleOptions, type Job } from './api/job.js';

// Transports and the store
export type { Transport, RemoteFile, ReadOptions, WriteOptions, WriteResult, WriteSource } from './transport/types.js';
export { LocalTransport } from './transport/local/local.js';
export { SftpTransport, type SftpTransportOptions } from './transport/sftp/sftp.js';
export { S3Transport } from './transport/s3/s3.js';
export type { S3TransportOptions } from './transport/s3/s3-options.js';
export { createHostKeyCheck, type HostKeyPolicy, type HostKeyCheck, type HostKeyFailure, type PresentedKey } from './transport/sftp/host-key.js';
export { openStore, type StoreSpec, type OpenStoreOptions } from './store/open.js';
export { parseStoreUrl, type StoreUrl } from './store/url.js';
export type { BackupLayout, ParsedBackupName } from './format/naming.js';
export { listStore, type StoreEntry, type StoreListing, type ListStoreOptions } from './store/listing.js';
export { pruneStore } from './store/prune.js';
export { verifyInStore, type StoreVerifyResult } from './api/verify-store.js';

// The engine
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
} from './engine/types.js';
export { WasmEngine, type WasmEngineOptions } from './engine/wasm-engine.js';
export type { SqlValue } from './engine/operations.js';
export type { LiveCopyResult, RejectReason } from './engine/live-copy.js';
export { snapshotLive, type LiveSnapshotOptions, type LiveSnapshotResult } from './engine/live-snapshot.js';
