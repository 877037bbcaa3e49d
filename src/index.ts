/**
 * restinpieces-sqlite-backup: safe, portable SQLite backups for Node.
 * Public API. Data flows one way: engine (pages) -> compress (bytes) -> transport (files).
 */
export * from './errors.js';
export * from './engine/index.js';
export * from './compress/index.js';
