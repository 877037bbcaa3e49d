/** Streaming gzip/gunzip: parallel compression (Node's zlib) in worker threads, strict decompression (Node's zlib, or fflate). */
export { gzipFile, gunzipFile, type GzipFileOptions, type GunzipFileOptions, type FileOutputOptions } from './files.js';
export { gzipStream, CHUNK_SIZE, DEFAULT_LEVEL, type GzipOptions } from './gzip.js';
export { gunzipStream, type GunzipCodec, type GunzipOptions } from './gunzip.js';
export { CompressPool, DEFAULT_WORKERS, type CompressPoolOptions } from './pool.js';
export { crc32, crc32Combine } from './crc32.js';
export type { Level } from './deflate-core.js';
export type { GzipProgress, GzipStream, GzipSummary, ByteSource } from './stream-util.js';
