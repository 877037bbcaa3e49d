/**
 * restinpieces-sqlite-backup: safe, portable SQLite backups for Node.
 * Public API. Lower layers (engine -> compress -> transport) are composed by src/api.
 */
export * from './errors.js';
export * from './engine/index.js';
