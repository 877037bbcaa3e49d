/**
 * restinpieces-sqlite-backup: safe, portable SQLite backups for Node.
 * Public API. Data flows one way: engine (pages) -> compress (bytes) -> transport (files).
 */
export * from './errors.js';
export * from './engine/index.js';
export * from './compress/index.js';
// api: the job and what it is made of
export { backup, type BackupOptions, type BackupProgress, type BackupPhase, type BackupResult } from './api/backup.js';
export { backupEntries, entryDue, entryBackupConfig, EntriesError, type EntryOutcome, type BackupEntriesOptions } from './api/backup-entries.js';
export { createBackupHandler, JOB_TYPE, type BackupHandler, type ConfigSource, type HandleOptions, type Job } from './api/job.js';
export {
  loadConfig,
  parseConfig,
  requireBackupConfig,
  requirePullConfig,
  ConfigError,
  CONFIG_DEFAULTS,
  CONFIG_KEYS,
  ENCRYPTION_KEYS,
  PUSH_KEYS,
  ENTRY_KEYS,
  CONFIG_SCOPES,
  parseDuration,
  formatDuration,
  type Config,
  type EncryptionSettings,
  type BackupConfig,
  type BackupEntryConfig,
  type ConfigWithPull,
  type ConfigProblem,
  type KeySpec,
  type ParseConfigOptions,
  type PullConfig,
  type PullSettings,
  type PushSettings,
} from './config/config.js';
export { loadAppConfig, backupSectionOfApplication, APP_CONFIG_BACKUP_SCOPE, APP_CONFIG_APPLICATION_SCOPE, type AppConfigOptions, type AppConfigSource } from './config/app-config.js';
export { loadAgeIdentities, ageDecrypt, ageIdentityPath, AGE_IDENTITY_ENV, type AgeIdentities, type LoadAgeIdentitiesOptions } from './crypto/age-identity.js';
export type { AgeIdentityOption } from './crypto/identity-option.js';
export { pushBackup, pushToStore, PushError, type PushOutcome, type PushFailure, type PushFailureKind, type PushedBackup, type PushOptions } from './api/push.js';
export { openStore, PASSPHRASE_ENV, type StoreSpec, type OpenStoreOptions } from './store/open.js';
export { parseStoreUrl, type StoreUrl } from './store/url.js';
export { listStore, findLatest, latestOf, type StoreEntry, type StoreListing, type ListStoreOptions } from './store/listing.js';
export { pruneStore } from './store/prune.js';
export { publishBackup, type PublishInput, type PublishOptions } from './store/publish.js';
export { verifyInStore, type StoreVerifyResult } from './api/verify-store.js';
export { verify, type CheckProgress, type VerifyOptions, type VerifyResult } from './api/verify.js';
export { restore, BEFORE_RESTORE_MARKER, type RestoreOptions, type RestoreResult } from './api/restore.js';
export { listBackups, pickLatest, type BackupEntry, type ChosenBy, type ListOptions } from './api/listing.js';
export { status, type StatusOptions, type StatusResult, type StatusBackup, type StatusProblem } from './api/status.js';
export { humanDuration } from './config/duration.js';
export {
  prune,
  planPrune,
  resolveRetention,
  DEFAULT_RETENTION,
  KEEP_ALL,
  type RetentionPolicy,
  type FullRetentionPolicy,
  type RetentionScope,
  type WrittenRetention,
  type PruneOptions,
  type PruneResult,
  type PrunePlan,
} from './api/retention.js';
export {
  backupFileName,
  parseBackupName,
  sanitizeDbName,
  formatTimestamp,
  ribDbName,
  ribBackupFileName,
  ribLatestLinkName,
  parseRibLatestLink,
  isPlainBackup,
  LATEST_FILE,
  SIDECAR_SUFFIX,
  AGE_SUFFIX,
  type ParsedBackupName,
  type BackupLayout,
} from './format/naming.js';
export { readLatest, writeLatest } from './format/manifest.js';
export {
  sha256File,
  readSidecar,
  writeSidecar,
  checkSidecar,
  formatSidecar,
  sidecarPathFor,
  type Sidecar,
  type CheckSidecarOptions,
} from './format/sidecar.js';
export { detectFormat, type BackupFormat } from './api/verify.js';
export { acquireLock, lockPathFor, type Lock, type LockInfo, type AcquireLockOptions } from './format/lock.js';
export { pull, type PullOptions, type PullProgress, type PullPhase, type PullResult } from './api/pull.js';
export { LocalTransport } from './transport/local/local.js';
export type { Transport, RemoteFile, ReadOptions, WriteOptions, WriteResult, WriteSource } from './transport/types.js';
export { S3Transport } from './transport/s3/s3.js';
export type { S3TransportOptions } from './transport/s3/s3-options.js';
export {
  createHostKeyCheck,
  normalizeFingerprint,
  type HostKeyPolicy,
  type HostKeyCheck,
  type HostKeyFailure,
  type PresentedKey,
} from './transport/sftp/host-key.js';
export {
  parseKnownHosts,
  loadKnownHosts,
  keysForHost,
  fingerprintSha256,
  hostKeyAlgorithmsFor,
  type KnownHostsEntry,
} from './transport/sftp/known-hosts.js';
export { SftpTransport, type SftpTransportOptions } from './transport/sftp/sftp.js';
