/**
 * `restinpieces-sqlite-backup/compress`: streaming gzip and strict gunzip of files and streams, the
 * pieces the backup job is made of, for callers who compress or check their own files. Follows semver
 * like the package root. (src/compress/index.ts is the library's own barrel and not public.)
 *
 * @packageDocumentation
 */
export { gzipFile, gunzipFile, type GzipFileOptions, type GunzipFileOptions, type FileOutputOptions } from './files.js';
export { gzipStream, type GzipOptions } from './gzip.js';
export { gunzipStream, type GunzipCodec, type GunzipOptions } from './gunzip.js';
export { CompressPool, type CompressPoolOptions } from './pool.js';
export type { Level } from './deflate-core.js';
export type { GzipProgress, GzipStream, GzipSummary, ByteSource } from './stream-util.js';
