/**
 * Where backups live, seen from the side that reads them (the pull client). One interface, two
 * implementations: a local directory (local.ts) and an SFTP server (sftp.ts), both run through the
 * same test suite (test/transport.shared.ts), so the local one is a true twin of the remote one.
 *
 * Stream-based: a backup is never held whole in memory. Names are plain file names inside the
 * transport's directory; implementations refuse anything else (`/`, `\`, `..`, NUL) with
 * EBACKUP_NOT_FOUND, as defence in depth behind the callers' own checks.
 */

export interface RemoteFile {
  name: string;
  size: number;
  /** Modification time in milliseconds (SFTP gives whole seconds). */
  mtimeMs: number;
}

export interface ReadOptions {
  /** Byte offset to start from (resuming a partial download). @default 0 */
  start?: number;
  signal?: AbortSignal;
}

export interface Transport {
  /** `local` or `sftp`. */
  readonly kind: string;
  /** Where, for messages: a path, or `sftp://user@host:port/dir`. */
  readonly location: string;
  /** Regular files in the directory (no subdirectories, no symlinks to elsewhere). A missing directory gives []. */
  list(options?: { signal?: AbortSignal }): Promise<RemoteFile[]>;
  /** One file's size and mtime; undefined when it does not exist. */
  stat(name: string, options?: { signal?: AbortSignal }): Promise<RemoteFile | undefined>;
  /**
   * The file's bytes from `start` to its end, as chunks. Throws EBACKUP_NOT_FOUND (with the path) when
   * the file does not exist; ECONNECT/EIO when the transfer fails part way.
   */
  read(name: string, options?: ReadOptions): AsyncIterable<Uint8Array>;
  /** A small text file (latest.txt, a .sha256) of at most `maxBytes`; undefined when it does not exist. */
  readText(name: string, maxBytes: number, options?: { signal?: AbortSignal }): Promise<string | undefined>;
  /** Releases the connection. Idempotent. */
  close(): Promise<void>;
}
