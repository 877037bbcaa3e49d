/**
 * stdout and stderr for a command that must finish whatever happens to its readers. When the
 * reader of a pipe goes away (`sqlite-backup list dir | head -n 1`, a log shipper that died),
 * Node reports EPIPE as an 'error' event on the stream, and an 'error' event nobody listens to
 * kills the process - mid-backup, with the lock and the temp files left behind. So a listener
 * takes every stream error, and from then on writes to that stream are dropped: the operation
 * runs to its end, cleans up, and exits with its own code. Nobody is left to read what we would
 * print, so there is nothing to report.
 */

/** What the CLI writes to: a terminal, a pipe or a file, or a test's fake. */
export interface WritableLike {
  isTTY?: boolean;
  columns?: number;
  write(s: string): boolean;
  on?(event: 'error', listener: (e: Error) => void): unknown;
  readonly destroyed?: boolean;
}

export interface SafeStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  /** Writes unless the stream has failed or closed (then drops `s`); returns true either way. */
  write(s: string): boolean;
  /** True once a write failed (EPIPE...) or the stream was destroyed: nothing more is written. */
  readonly closed: boolean;
}

/** Wraps `stream` so that a closed reader never throws or kills the process (see the module comment). */
export function safeStream(stream: WritableLike): SafeStream {
  let failed = false;
  // Whatever the error (EPIPE, EIO on a vanished terminal): the output is gone, the operation is not.
  stream.on?.('error', () => {
    failed = true;
  });
  const closed = (): boolean => failed || stream.destroyed === true;
  return {
    get isTTY() {
      return stream.isTTY;
    },
    get columns() {
      return stream.columns;
    },
    get closed() {
      return closed();
    },
    write(s: string): boolean {
      if (closed()) return true;
      try {
        stream.write(s);
      } catch {
        // A synchronous failure (a destroyed stream may throw): same as an 'error' event.
        failed = true;
      }
      return true;
    },
  };
}
