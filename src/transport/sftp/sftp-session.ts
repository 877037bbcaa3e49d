/**
 * One SSH connection with its SFTP channel, opened through ssh2-sftp-client. We use the wrapper to
 * connect and to end, and ssh2's own SFTP object (`client.sftp`) for everything else: the wrapper
 * has no pipelined read returning a stream (see sftp-read.ts), and its per-call listeners would
 * hide the connection-loss signal we need.
 *
 * The session owns its TCP socket (created here and handed to ssh2 as `sock`): ssh2's destroy() does
 * nothing once end() has half-closed the socket, so a hung server that never closes its side would
 * keep the socket, and the process, alive; end() destroys the socket itself.
 *
 * A session knows when its connection is gone: every pending request is rejected with
 * SessionLostError at once (ssh2 would otherwise never call back a request written to a dead
 * channel), and the transport drops the session and reconnects on the next call.
 */
import { Socket } from 'node:net';

/**
 * SFTP status codes that we act on: v3's (all ssh2 knows), and two of v5+ that a newer server may
 * send anyway (OpenSSH reports a full disk as plain FAILURE).
 */
export const SFTP_STATUS = {
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  NO_SPACE_ON_FILESYSTEM: 14,
  QUOTA_EXCEEDED: 15,
} as const;

/** ssh2's read limit for a server that is not OpenSSH and announces no limits (34000 bytes, less its overhead). */
const MIN_MAX_READ_BYTES = 34000 - 2048;

/**
 * OpenSSH extensions we use, with the version ssh2 requires of each (its ext_openssh_* methods throw
 * when the server did not announce that version).
 */
export const SFTP_EXTENSIONS = {
  'posix-rename@openssh.com': '1',
  'fsync@openssh.com': '1',
  'statvfs@openssh.com': '2',
} as const;
export type SftpExtension = keyof typeof SFTP_EXTENSIONS;

/** File attributes as ssh2 gives them (times in whole seconds). */
export interface RawStats {
  mode?: number;
  size?: number;
  mtime?: number;
}

/** statvfs@openssh.com's answer (the fields we read). */
export interface RawStatvfs {
  f_frsize: number | bigint;
  f_bavail: number | bigint;
}

export interface RawDirEntry {
  filename: string;
  attrs: RawStats;
}

type Callback<T> = (err: (Error & { code?: unknown }) | undefined | null, value: T) => void;

/**
 * The part of ssh2's SFTPWrapper we call (ssh2 ships no type declarations; we add no @types), as
 * lib/protocol/SFTP.js defines it. Callbacks get an Error with a numeric `code` (the SFTP status).
 */
export interface RawSftp {
  /** ssh2's record of the extensions the server announced: name -> version. Read by supports(). */
  readonly _extensions?: Readonly<Record<string, string>>;
  /** ssh2's limit for the data of one READ request (the server's limits@openssh.com, else its guess); longer reads are split. */
  readonly _maxReadLen?: number;
  close(handle: Buffer, cb: Callback<void>): void;
  /** posix-rename@openssh.com: rename(2), which replaces `to` atomically. Throws if not announced. */
  ext_openssh_rename(from: string, to: string, cb: Callback<void>): void;
  /** fsync@openssh.com: fsync(2) of an open handle. Throws if not announced. */
  ext_openssh_fsync(handle: Buffer, cb: Callback<void>): void;
  /** statvfs@openssh.com. Throws if not announced. */
  ext_openssh_statvfs(path: string, cb: Callback<RawStatvfs>): void;
  fchmod(handle: Buffer, mode: number, cb: Callback<void>): void;
  fstat(handle: Buffer, cb: Callback<RawStats>): void;
  lstat(path: string, cb: Callback<RawStats>): void;
  /** `mode` is applied by the server (under its umask) to a directory it creates. */
  mkdir(path: string, attrs: { mode: number }, cb: Callback<void>): void;
  on(event: 'error' | 'close', listener: (err?: Error) => void): void;
  open(path: string, flags: 'r', cb: Callback<Buffer>): void;
  /** 'w': create or truncate; 'wx': create, fail if it exists (O_EXCL). `mode` applies to a created file. */
  open(path: string, flags: 'w' | 'wx', attrs: { mode: number }, cb: Callback<Buffer>): void;
  read(handle: Buffer, buf: Buffer, off: number, len: number, position: number, cb: Callback<number>): void;
  opendir(path: string, cb: Callback<Buffer>): void;
  /** With a handle: the next batch of entries ('.' and '..' left out); EOF status after the last. */
  readdir(handle: Buffer, cb: Callback<RawDirEntry[]>): void;
  realpath(path: string, cb: Callback<string>): void;
  /** Plain SFTP v3 rename: fails when `to` exists (OpenSSH: link + unlink). */
  rename(from: string, to: string, cb: Callback<void>): void;
  stat(path: string, cb: Callback<RawStats>): void;
  unlink(path: string, cb: Callback<void>): void;
  /** ssh2 splits `len` above the server's write limit; the callback comes when all of it is written. */
  write(handle: Buffer, buf: Buffer, off: number, len: number, position: number, cb: Callback<number>): void;
}

interface RawSshClient {
  on(event: 'error', listener: (err: Error & { level?: string; code?: string }) => void): void;
  on(event: 'close' | 'end' | 'connect', listener: () => void): void;
  setNoDelay(noDelay: boolean): void;
}

interface WrapperClient {
  client: RawSshClient;
  connect(config: Record<string, unknown>): Promise<RawSftp>;
  end(): Promise<unknown>;
}

type WrapperCtor = new (name: string, callbacks: Record<'error' | 'end' | 'close', (err?: Error) => void>) => WrapperClient;

let sftpClient: Promise<WrapperCtor> | undefined;

/**
 * ssh2-sftp-client (CommonJS, no types) is loaded on the first connect, with a literal import() so
 * that bundlers (esbuild, webpack) see and include it; createRequire() hid it from them. Lazy: a
 * process that only makes backups never evaluates ssh2.
 */
function loadSftpClient(): Promise<WrapperCtor> {
  // @ts-expect-error ssh2-sftp-client ships no type declarations; WrapperCtor types the part we use.
  return (sftpClient ??= import('ssh2-sftp-client').then((m: { default: WrapperCtor }) => m.default));
}

/** The connection under a request is gone (closed, reset, keepalive timeout, channel closed). */
export class SessionLostError extends Error {
  constructor(readonly reason: string, options?: { cause?: unknown }) {
    super(`connection lost (${reason})`, options);
    this.name = 'SessionLostError';
  }
}

/** An error ssh2 reported while opening the connection, with what we observed around it. */
export class ConnectAttemptError extends Error {
  constructor(
    message: string,
    readonly raw: (Error & { level?: string; code?: unknown }) | undefined,
    readonly hostKeyRefused: boolean,
    readonly timedOut: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ConnectAttemptError';
  }
}

export interface SessionConfig {
  host: string;
  port: number;
  username: string;
  privateKey?: Buffer;
  passphrase?: string;
  agent?: string;
  hostVerifier: (keyBlob: Buffer) => boolean;
  serverHostKeyAlgorithms?: string[];
  timeoutMs: number;
  keepaliveIntervalMs: number;
}

export class SftpSession {
  private lostError: SessionLostError | undefined;
  private readonly pending = new Set<(e: Error) => void>();

  private constructor(
    private readonly wrapper: WrapperClient,
    private readonly socket: Socket,
    readonly sftp: RawSftp,
  ) {}

  get lost(): boolean {
    return this.lostError !== undefined;
  }

  /** The most data one READ request asks for: ssh2 splits longer reads into requests that wait for each other. */
  get maxReadBytes(): number {
    const n = this.sftp._maxReadLen;
    return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : MIN_MAX_READ_BYTES;
  }

  /** Whether the server announced `extension` (in the version ssh2 needs to use it). */
  supports(extension: SftpExtension): boolean {
    return this.sftp._extensions?.[extension] === SFTP_EXTENSIONS[extension];
  }

  /**
   * Opens a connection and its SFTP channel within `timeoutMs` (TCP connect, handshake, auth and
   * subsystem). Throws ConnectAttemptError, never a half-open session.
   */
  static async open(config: SessionConfig): Promise<SftpSession> {
    // The wrapper's default callbacks print to the console; ours only record.
    const noop = (): void => {};
    // Connecting before ssh2 is loaded: the server accepts, starts its session process and sends
    // its banner while this process compiles ssh2 (the first connect of a process). ssh2 takes the
    // socket connected or not; an error before it does is recorded here and reported as ssh2 would.
    const socket = new Socket();
    let early: (Error & { level?: string; code?: unknown }) | undefined;
    socket.on('error', (e) => (early ??= e));
    socket.connect({ host: config.host, port: config.port });
    let SftpClient: WrapperCtor;
    try {
      SftpClient = await loadSftpClient();
    } catch (e) {
      socket.destroy();
      throw e;
    }

    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new Error(`no SFTP session within ${config.timeoutMs} ms`));
      }, config.timeoutMs);
    });
    let raw: (Error & { level?: string; code?: unknown }) | undefined;
    let refused = false;
    let verifierError: unknown;
    let session: SftpSession | undefined;
    try {
      if (early) {
        early.level = 'client-socket';
        throw early;
      }
      const wrapper = new SftpClient('restinpieces-sqlite-backup', { error: noop, end: noop, close: noop });
      wrapper.client.on('error', (e) => {
        raw ??= e;
        session?.markLost(e.message, e);
      });
      wrapper.client.on('close', () => session?.markLost('closed'));
      // Nagle's algorithm holds back each small request until the previous one is acknowledged, and
      // the server delays that ACK by 40 ms: every lstat/open/close round trip waited for it.
      wrapper.client.on('connect', () => wrapper.client.setNoDelay(true));
      wrapper.client.on('end', () => session?.markLost('ended by the server'));
      const sftp = await Promise.race([
        wrapper.connect({
          sock: socket,
          host: config.host,
          port: config.port,
          username: config.username,
          privateKey: config.privateKey,
          passphrase: config.passphrase,
          agent: config.agent,
          tryKeyboard: false,
          // ssh2 asks for method "none" first (one round trip, refused by any server that wants a
          // key): the configured methods go first, "none" stays last for a server that needs nothing.
          authHandler: [...(config.privateKey ? ['publickey'] : []), ...(config.agent ? ['agent'] : []), 'none'],
          readyTimeout: config.timeoutMs,
          keepaliveInterval: config.keepaliveIntervalMs,
          keepaliveCountMax: 3,
          algorithms: config.serverHostKeyAlgorithms ? { serverHostKey: config.serverHostKeyAlgorithms } : undefined,
          // A throwing verifier refuses (an exception here would surface inside ssh2's key exchange).
          hostVerifier: (key: Buffer): boolean => {
            let ok = false;
            try {
              ok = config.hostVerifier(key) === true;
            } catch (e) {
              verifierError = e;
            }
            refused = !ok;
            return ok;
          },
        }),
        deadline,
      ]);
      session = new SftpSession(wrapper, socket, sftp);
      const s = session;
      sftp.on('error', (e) => s.markLost(e?.message ?? 'SFTP channel error', e));
      sftp.on('close', () => s.markLost('SFTP channel closed'));
      return session;
    } catch (e) {
      socket.destroy();
      const message = timedOut ? `timed out after ${config.timeoutMs} ms` : (raw ?? (e as Error)).message;
      throw new ConnectAttemptError(message, raw ?? (e as Error), refused, timedOut, { cause: verifierError ?? e });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs one ssh2 SFTP call; rejects with SessionLostError if the connection is or goes away. */
  call<T>(start: (cb: Callback<T>) => void): Promise<T> {
    if (this.lostError) return Promise.reject(this.lostError);
    return new Promise<T>((resolve, reject) => {
      this.pending.add(reject);
      try {
        start((err, value) => {
          this.pending.delete(reject);
          if (err) reject(typeof err.code === 'number' ? err : this.lostFrom(err));
          else resolve(value);
        });
      } catch (e) {
        this.pending.delete(reject);
        reject(e);
      }
    });
  }

  /** Sends a request without waiting for its answer (closing a handle we stopped reading). */
  fireAndForget(start: (cb: Callback<void>) => void): void {
    this.call(start).catch(() => {});
  }

  /**
   * Ends the connection (wrapper `end()`, which waits for the server to close its side), then
   * destroys the socket: a server that never answers (hung, stopped) must not keep it open.
   */
  async end(timeoutMs = 5000): Promise<void> {
    this.markLost('closed by us');
    if (this.socket.destroyed) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.wrapper.end().catch(() => {}),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      ]);
    } finally {
      clearTimeout(timer);
      this.socket.destroy();
    }
  }

  /** Drops the connection at once, without the goodbye end() sends: for a server that is hung or gone. */
  destroy(): void {
    this.markLost('closed by us');
    this.socket.destroy();
  }

  private lostFrom(err: Error): SessionLostError {
    // ssh2 fails every open request with a plain Error (no numeric SFTP status) when the channel dies.
    this.markLost(err.message, err);
    return this.lostError!;
  }

  private markLost(reason: string, cause?: unknown): void {
    if (this.lostError) return;
    this.lostError = new SessionLostError(reason, { cause });
    for (const reject of this.pending) reject(this.lostError);
    this.pending.clear();
  }
}
