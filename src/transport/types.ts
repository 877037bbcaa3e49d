/**
 * Where backups live: one interface, three implementations - a local directory (local.ts), an SFTP
 * server (sftp.ts) and an S3-compatible bucket (s3/), all run through the same test suite
 * (test/transport.shared.ts), so the local one is a true twin of the remote ones. The backup store
 * (src/store) is written once against this interface: publishing, listing, latest.txt,
 * retention and the temp-file sweep are the same wherever the files are.
 *
 * Stream-based: a backup is never held whole in memory. Names are plain file names inside the
 * transport's directory (or key prefix); implementations refuse anything else (`/`, `\`, `..`, NUL)
 * with EBACKUP_NOT_FOUND, as defence in depth behind the callers' own checks.
 */

export interface RemoteFile {
  name: string;
  size: number;
  /** Modification time in milliseconds (SFTP gives whole seconds). */
  mtimeMs: number;
}

/** Options of `Transport.read`. */
export interface ReadOptions {
  /** Byte offset to start from (resuming a partial download). @default 0 */
  start?: number;
  signal?: AbortSignal;
}

/** Options of `Transport.write`. */
export interface WriteOptions {
  signal?: AbortSignal;
  /**
   * The number of bytes the source will yield, when known. A transport may use it to choose how to
   * upload (S3: one PUT or multipart) and checks that exactly this many bytes arrived.
   */
  size?: number;
  /** Called with the number of bytes sent so far, at most every few MiB. */
  onProgress?: (bytesSent: number) => void;
  /**
   * Where a temp file is used (local, SFTP), name it `<tempBase>.tmp-<random>` instead of
   * `<name>.tmp-<random>`: a file shared by several databases (latest.txt) then says whose write it
   * was, so that database's next run can remove it after a crash. @default name
   */
  tempBase?: string;
}

/** What `Transport.write` wrote. */
export interface WriteResult {
  name: string;
  /** Bytes the destination holds under `name` after the write, as it reports them. */
  size: number;
}

/** What a write may be given: a stream of chunks (a backup), or the whole of a small file. */
export type WriteSource = AsyncIterable<Uint8Array> | Uint8Array | string;

/**
 * A backup directory on some storage (local, SFTP, S3), with the same behaviour on each: whole
 * files by name, atomic writes.
 */
export interface Transport {
  /** `local`, `sftp` or `s3`. */
  readonly kind: string;
  /** Where, for messages: a path, `sftp://user@host:port/dir` or `s3://bucket/prefix`. */
  readonly location: string;
  /**
   * Regular files directly in the directory (no subdirectories or deeper keys, no symlinks), sorted
   * by name. A missing directory (or an empty prefix) gives [].
   */
  list(options?: { signal?: AbortSignal }): Promise<RemoteFile[]>;
  /**
   * Whether the directory itself exists, to tell "no such directory" from "no backup in it" after an
   * empty list(). Left out where there are no directories (S3 prefixes).
   */
  dirExists?(options?: { signal?: AbortSignal }): Promise<boolean>;
  /** One file's size and mtime; undefined when it does not exist. */
  stat(name: string, options?: { signal?: AbortSignal }): Promise<RemoteFile | undefined>;
  /**
   * The file's bytes from `start` to its end, as chunks. Throws EBACKUP_NOT_FOUND (with the path) when
   * the file does not exist; ECONNECT/EIO when the transfer fails part way.
   */
  read(name: string, options?: ReadOptions): AsyncIterable<Uint8Array>;
  /** A small text file (latest.txt, a .sha256) of at most `maxBytes`; undefined when it does not exist. */
  readText(name: string, maxBytes: number, options?: { signal?: AbortSignal }): Promise<string | undefined>;
  /**
   * Creates or replaces `name` with the bytes of `data`, atomically: a reader sees the old file (or
   * none) until the new one is complete, never a partial file under `name` (local and SFTP write
   * `<name>.tmp-<random>`, then rename over; an S3 object appears only when its upload completes).
   * The directory (and its parents) is created when missing, 0700 where modes exist; files are 0600.
   * On failure or abort nothing new stays under `name` and the temp file is removed (best effort: a
   * killed process leaves a `.tmp-` file that the store's sweep removes later). Throws EIO (disk
   * full, permission), ECONNECT/EAUTH (network), EBACKUP_NOT_FOUND when the bucket does not exist,
   * EABORTED.
   */
  write(name: string, data: WriteSource, options?: WriteOptions): Promise<WriteResult>;
  /** Removes `name`. Returns false when it did not exist (not an error). */
  remove(name: string, options?: { signal?: AbortSignal }): Promise<boolean>;
  /** Releases the connection. Idempotent; a closed transport reconnects when used again. */
  close(): Promise<void>;
}
