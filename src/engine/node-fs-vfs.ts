/**
 * A SQLite VFS on `node:fs`, for sqlite-wasm (whose Node build only has an in-memory file system).
 *
 * Files fall in two classes:
 * - **Protected** (a source database and its `-wal`, `-shm`, `-journal`): opened `O_RDONLY`, reported
 *   to SQLite as read-only, and every write, truncate, sync or delete is refused. A missing `-wal` is
 *   presented as an empty read-only file instead of being created. Our reads are served through a
 *   read-ahead block cache: the cost of this VFS is the number of JS<->fs crossings (~2.5 us each),
 *   not SQLite's compute, so fewer, larger reads are the lever.
 * - **Owned** (a backup we are writing, SQLite temp files): read-write, created 0600, `fsync`ed on
 *   `xSync`. Writes go through a write-behind buffer (write-buffer.ts) that joins contiguous pages
 *   into one `writeSync` and is flushed before any read, size query, truncate, sync or close.
 *
 * Locking: Node has no fcntl locks, so xLock/xUnlock only record the level, and other processes do not
 * see us. That is why callers open sources with `locking_mode=EXCLUSIVE` (heap wal-index, no `-shm`)
 * and why consistency against live writers is established outside SQLite (copy and validate).
 * `xCheckReservedLock` reports 1 ("another connection holds RESERVED"): with lock stubs, reporting 0
 * would make any rollback journal look hot and SQLite would "recover" it - into the user's database.
 *
 * Every fs failure is mapped to the right SQLITE_IOERR_* code, and the original error (errno + path)
 * is kept so the engine can surface it as a typed JS error; xGetLastError hands its message to SQLite.
 *
 * Methods are in alphabetical order, as in sqlite-wasm's own VFSes.
 */
import {
  closeSync,
  constants as fsc,
  existsSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { randomFillSync, randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import type { Ptr, Sqlite3, WasmStruct } from './sqlite-types.js';
import { BlockCache } from './block-cache.js';
import { WriteBuffer } from './write-buffer.js';
import { fsyncDir, readFully, unlinkQuiet, writeAll } from '../fs/sync.js';

export const VFS_NAME = 'restinpieces-nodefs';

/** An fs failure seen by the VFS, kept for the engine to turn into a typed error. */
export interface VfsIoError {
  op: string;
  path: string;
  errno?: string;
  message: string;
  sqliteRc: number;
}

/** What SQLite may do with an open file. */
interface OpenFile {
  path: string;
  /** -1 for a virtual empty file (a protected -wal that does not exist). */
  fd: number;
  flags: number;
  protected: boolean;
  deleteOnClose: boolean;
  lockType: number;
  cache: BlockCache | null;
  wbuf: WriteBuffer | null;
}

export interface NodeFsVfsOptions {
  /** Read-ahead block size for protected files; 0 disables read-ahead. @default 65536 */
  readAheadBytes?: number;
  /** Read-ahead cache size per protected file. @default 8388608 */
  readAheadCacheBytes?: number;
  /** Where SQLite's own temp files go. @default os.tmpdir() */
  tempDir?: string;
  /** Registered VFS name (one per instance). @default 'restinpieces-nodefs' */
  name?: string;
  /**
   * @internal Tests only: what xCheckReservedLock reports. 1, the default, is what keeps SQLite from
   * "recovering" a rollback journal into a source database; the tests set 0 to prove it matters.
   */
  reservedLockResult?: 0 | 1;
}

export const DEFAULT_READ_AHEAD_BYTES = 64 * 1024;
/** Write-behind buffer per file we write (snapshots): contiguous page writes become one writeSync. */
export const WRITE_BUFFER_BYTES = 1024 * 1024;
/**
 * Blocks the read-ahead keeps per file (LRU). A bound that only a large database reaches: the check
 * of a 150 MB database never filled 8 MiB of blocks, that of a 1 GB one did, and the check's peak RSS
 * grew with the database by that much (126-128 MB at 150 MB, 134-137 MB at 1 GB; with 2 MiB 122 and
 * 127 MB, same speed: sequential reads use one block at a time, the LRU only serves a table and an
 * index walked side by side).
 */
export const DEFAULT_READ_AHEAD_CACHE_BYTES = 2 * 1024 * 1024;

/** The suffixes SQLite appends to a database path for its side files. */
export const SIDE_FILE_SUFFIXES = ['-wal', '-shm', '-journal'] as const;

/** Counters, for progress reporting and the benchmark. */
export interface VfsStats {
  bytesRead: number;
  readCalls: number;
  fsReads: number;
  bytesWritten: number;
}

export class NodeFsVfs {
  readonly name: string;
  readonly stats: VfsStats = { bytesRead: 0, readCalls: 0, fsReads: 0, bytesWritten: 0 };
  private readonly files = new Map<number, OpenFile>();
  private readonly protectedPaths = new Set<string>();
  private lastError: VfsIoError | null = null;
  /** See takeCloseWriteError. */
  private closeWriteError: VfsIoError | null = null;
  private readonly sleepCell = new Int32Array(new SharedArrayBuffer(4));
  private readonly readAheadBytes: number;
  private readonly readAheadCacheBytes: number;
  private readonly tempDir: string;
  private readonly reservedLockResult: 0 | 1;

  constructor(
    private readonly sqlite3: Sqlite3,
    options: NodeFsVfsOptions = {},
  ) {
    this.readAheadBytes = options.readAheadBytes ?? DEFAULT_READ_AHEAD_BYTES;
    this.readAheadCacheBytes = options.readAheadCacheBytes ?? DEFAULT_READ_AHEAD_CACHE_BYTES;
    this.tempDir = options.tempDir ?? tmpdir();
    this.name = options.name ?? VFS_NAME;
    this.reservedLockResult = options.reservedLockResult ?? 1;
    this.install();
  }

  /** Marks a database and its side files as read-only for as long as the returned function is not called. */
  protect(dbPath: string): () => void {
    const paths = [dbPath, ...SIDE_FILE_SUFFIXES.map((s) => dbPath + s)].map((p) => resolve(p));
    const added = paths.filter((p) => !this.protectedPaths.has(p));
    for (const p of added) this.protectedPaths.add(p);
    return () => {
      for (const p of added) this.protectedPaths.delete(p);
    };
  }

  isProtected(path: string): boolean {
    return this.protectedPaths.has(resolve(path));
  }

  /** A failed write-behind flush at xClose (SQLite ignores xClose errors): cleared by reading it. */
  takeCloseWriteError(): VfsIoError | null {
    const e = this.closeWriteError;
    this.closeWriteError = null;
    return e;
  }

  /** The last fs failure, cleared by reading it. */
  takeLastError(): VfsIoError | null {
    const e = this.lastError;
    this.lastError = null;
    return e;
  }

  openFileCount(): number {
    return this.files.size;
  }

  private fail(op: string, path: string, rc: number, e: unknown): number {
    const err = e as NodeJS.ErrnoException;
    // The first failure is the cause; what fails after it (e.g. SQLite's rollback writing a journal
    // on the same full disk) must not hide it. The engine takes (clears) it per operation.
    if (this.lastError) return rc;
    this.lastError = {
      op,
      path,
      message: err?.message ?? String(e),
      sqliteRc: rc,
      errno: err?.code,
    };
    return rc;
  }

  private file(pFile: Ptr): OpenFile {
    const f = this.files.get(Number(pFile));
    if (!f) throw new Error(`unknown sqlite3_file pointer ${pFile}`);
    return f;
  }

  private install(): void {
    const { capi, wasm } = this.sqlite3;
    const vfs = this;
    const heap = (): Uint8Array => wasm.heap8u();
    const cstr = (p: Ptr): string => wasm.cstrToJs(Number(p)) ?? '';

    const writeRc = (e: unknown): number => ((e as NodeJS.ErrnoException).code === 'ENOSPC' ? capi.SQLITE_FULL : capi.SQLITE_IOERR_WRITE);
    // Pages kept by the write-behind buffer are written when a later read, size query, sync or
    // truncate flushes them: a failure there is a failed write, and is reported as one (a full disk
    // named as "fsync ... (disk full)" sends people looking at the wrong call).
    const flushWrites = (f: OpenFile): number => {
      try {
        f.wbuf?.flush();
        return 0;
      } catch (e) {
        return vfs.fail('write', f.path, writeRc(e), e);
      }
    };

    const ioMethods = {
      xCheckReservedLock(_pFile: Ptr, pOut: Ptr): number {
        // See the header: 1 means "someone may be writing", so SQLite never treats a journal as hot.
        wasm.poke32(Number(pOut), vfs.reservedLockResult);
        return 0;
      },
      xClose(pFile: Ptr): number {
        const f = vfs.files.get(Number(pFile));
        if (!f) return 0;
        vfs.files.delete(Number(pFile));
        try {
          try {
            f.wbuf?.flush();
          } catch (e) {
            // SQLite ignores xClose's result, so keep the failure for the engine to check.
            vfs.fail('write', f.path, writeRc(e), e);
            vfs.closeWriteError = vfs.lastError;
          }
          if (f.fd >= 0) closeSync(f.fd);
          if (f.deleteOnClose) unlinkQuiet(f.path);
          return 0;
        } catch (e) {
          return vfs.fail('close', f.path, capi.SQLITE_IOERR_CLOSE, e);
        }
      },
      xDeviceCharacteristics(_pFile: Ptr): number {
        return 0;
      },
      xFileControl(_pFile: Ptr, _op: number, _pArg: Ptr): number {
        return capi.SQLITE_NOTFOUND;
      },
      xFileSize(pFile: Ptr, pSize: Ptr): number {
        const f = vfs.file(pFile);
        const flushRc = flushWrites(f);
        if (flushRc !== 0) return flushRc;
        try {
          const size = f.fd < 0 ? 0 : fstatSync(f.fd).size;
          wasm.poke64(Number(pSize), BigInt(size));
          return 0;
        } catch (e) {
          return vfs.fail('fstat', f.path, capi.SQLITE_IOERR_FSTAT, e);
        }
      },
      xLock(pFile: Ptr, lockType: number): number {
        const f = vfs.file(pFile);
        // A new read transaction starts here: SQLite re-reads the header to see whether another
        // process changed the file (and resets its cache, or restarts an online backup), so the
        // read-ahead must not hand it stale bytes.
        if (f.lockType === capi.SQLITE_LOCK_NONE && lockType !== capi.SQLITE_LOCK_NONE) f.cache?.clear();
        f.lockType = lockType;
        return 0;
      },
      xRead(pFile: Ptr, pDest: Ptr, n: number, offset: Ptr): number {
        const f = vfs.file(pFile);
        const dest = Number(pDest);
        const pos = Number(offset);
        vfs.stats.readCalls++;
        const flushRc = flushWrites(f);
        if (flushRc !== 0) return flushRc;
        try {
          const target = heap().subarray(dest, dest + n);
          let got: number;
          if (f.fd < 0) got = 0;
          else if (f.cache) got = f.cache.read(target, pos);
          else {
            got = readFully(f.fd, target, pos);
            vfs.stats.fsReads++;
          }
          vfs.stats.bytesRead += got;
          if (got < n) {
            // SQLite requires the unread tail to be zeroed on a short read.
            heap().fill(0, dest + got, dest + n);
            return capi.SQLITE_IOERR_SHORT_READ;
          }
          return 0;
        } catch (e) {
          return vfs.fail('read', f.path, capi.SQLITE_IOERR_READ, e);
        }
      },
      xSectorSize(_pFile: Ptr): number {
        return 4096;
      },
      xSync(pFile: Ptr, flags: number): number {
        const f = vfs.file(pFile);
        if (f.protected) return vfs.refuse('sync', f.path);
        const flushRc = flushWrites(f);
        if (flushRc !== 0) return flushRc;
        try {
          if (f.fd >= 0) {
            if (flags & capi.SQLITE_SYNC_DATAONLY) fdatasyncSync(f.fd);
            else fsyncSync(f.fd);
          }
          return 0;
        } catch (e) {
          return vfs.fail('fsync', f.path, capi.SQLITE_IOERR_FSYNC, e);
        }
      },
      xTruncate(pFile: Ptr, size: Ptr): number {
        const f = vfs.file(pFile);
        if (f.protected) return vfs.refuse('truncate', f.path);
        const flushRc = flushWrites(f);
        if (flushRc !== 0) return flushRc;
        try {
          ftruncateSync(f.fd, Number(size));
          return 0;
        } catch (e) {
          return vfs.fail('truncate', f.path, capi.SQLITE_IOERR_TRUNCATE, e);
        }
      },
      xUnlock(pFile: Ptr, lockType: number): number {
        vfs.file(pFile).lockType = lockType;
        return 0;
      },
      xWrite(pFile: Ptr, pSrc: Ptr, n: number, offset: Ptr): number {
        const f = vfs.file(pFile);
        if (f.protected) return vfs.refuse('write', f.path);
        const src = Number(pSrc);
        try {
          const data = heap().subarray(src, src + n);
          if (f.wbuf) f.wbuf.write(data, Number(offset));
          else writeAll(f.fd, data, Number(offset));
          vfs.stats.bytesWritten += n;
          return 0;
        } catch (e) {
          return vfs.fail('write', f.path, writeRc(e), e);
        }
      },
    };

    const vfsMethods = {
      xAccess(_pVfs: Ptr, zName: Ptr, flags: number, pOut: Ptr): number {
        const path = cstr(zName);
        let result = 0;
        try {
          if (flags === capi.SQLITE_ACCESS_READWRITE && vfs.isProtected(path)) result = 0;
          else if (flags === capi.SQLITE_ACCESS_EXISTS) {
            // SQLite asks whether a -wal or -journal exists; an empty one is as good as none.
            result = existsSync(path) && statSync(path).size > 0 ? 1 : 0;
          } else result = existsSync(path) ? 1 : 0;
        } catch {
          result = 0;
        }
        wasm.poke32(Number(pOut), result);
        return 0;
      },
      xCurrentTime(_pVfs: Ptr, pOut: Ptr): number {
        wasm.poke(Number(pOut), 2440587.5 + Date.now() / 864e5, 'double');
        return 0;
      },
      xCurrentTimeInt64(_pVfs: Ptr, pOut: Ptr): number {
        wasm.poke64(Number(pOut), BigInt(0xbfc83e532200 + Date.now()));
        return 0;
      },
      xDelete(_pVfs: Ptr, zName: Ptr, syncDir: number): number {
        const path = cstr(zName);
        if (vfs.isProtected(path)) return vfs.refuse('delete', path, capi.SQLITE_IOERR_DELETE);
        try {
          unlinkSync(path);
          if (syncDir) fsyncDir(dirname(path));
          return 0;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') return capi.SQLITE_IOERR_DELETE_NOENT;
          return vfs.fail('unlink', path, capi.SQLITE_IOERR_DELETE, e);
        }
      },
      xFullPathname(_pVfs: Ptr, zName: Ptr, nOut: number, pOut: Ptr): number {
        const full = new TextEncoder().encode(resolve(cstr(zName)));
        if (full.length + 1 > nOut) return capi.SQLITE_CANTOPEN;
        const out = Number(pOut);
        heap().set(full, out);
        heap()[out + full.length] = 0;
        return 0;
      },
      xGetLastError(_pVfs: Ptr, nOut: number, pOut: Ptr): number {
        const e = vfs.lastError;
        if (!e) return 0;
        const msg = new TextEncoder().encode(`${e.op} "${e.path}": ${e.message}`).subarray(0, Math.max(0, nOut - 1));
        const out = Number(pOut);
        heap().set(msg, out);
        heap()[out + msg.length] = 0;
        return e.sqliteRc;
      },
      xOpen(_pVfs: Ptr, zName: Ptr, pFile: Ptr, flags: number, pOutFlags: Ptr): number {
        let path = zName && Number(zName) ? cstr(zName) : '';
        try {
          const isTemp = path === '';
          if (isTemp) path = resolve(vfs.tempDir, `sqlite-backup-tmp-${randomBytes(8).toString('hex')}`);
          const isProtected = vfs.isProtected(path);
          let fd: number;
          let outFlags = flags;
          if (isProtected) {
            outFlags = (flags & ~(capi.SQLITE_OPEN_READWRITE | capi.SQLITE_OPEN_CREATE)) | capi.SQLITE_OPEN_READONLY;
            try {
              fd = openSync(path, fsc.O_RDONLY);
            } catch (e) {
              // A source in WAL mode whose -wal was removed at its last clean close: present it as an
              // empty file rather than creating it.
              const missingSideFile = (e as NodeJS.ErrnoException).code === 'ENOENT' && !(flags & capi.SQLITE_OPEN_MAIN_DB);
              if (!missingSideFile) throw e;
              fd = -1;
            }
          } else if (flags & capi.SQLITE_OPEN_READWRITE) {
            let oflags = fsc.O_RDWR;
            if (flags & capi.SQLITE_OPEN_CREATE) oflags |= fsc.O_CREAT;
            if (flags & capi.SQLITE_OPEN_EXCLUSIVE || isTemp) oflags |= fsc.O_EXCL;
            fd = openSync(path, oflags, 0o600);
          } else {
            fd = openSync(path, fsc.O_RDONLY);
          }
          // SQLite's anonymous temp files: unlink at once where the OS allows it, so a crash leaves nothing.
          if (isTemp && process.platform !== 'win32') unlinkQuiet(path);
          const deleteOnClose = isTemp || !!(flags & capi.SQLITE_OPEN_DELETEONCLOSE);
          const readOnly = isProtected || !(flags & capi.SQLITE_OPEN_READWRITE);
          vfs.files.set(Number(pFile), {
            path,
            fd,
            flags,
            protected: isProtected,
            deleteOnClose,
            lockType: capi.SQLITE_LOCK_NONE,
            cache:
              readOnly && fd >= 0 && vfs.readAheadBytes > 0
                ? new BlockCache(fd, vfs.readAheadBytes, vfs.readAheadCacheBytes, vfs.stats)
                : null,
            wbuf: !readOnly && fd >= 0 ? new WriteBuffer(fd, WRITE_BUFFER_BYTES) : null,
          });
          const file = new capi.sqlite3_file(Number(pFile)) as unknown as WasmStruct;
          file.$pMethods = io.pointer;
          file.dispose();
          if (pOutFlags && Number(pOutFlags)) wasm.poke32(Number(pOutFlags), outFlags);
          return 0;
        } catch (e) {
          return vfs.fail('open', path, capi.SQLITE_CANTOPEN, e);
        }
      },
      xRandomness(_pVfs: Ptr, nOut: number, pOut: Ptr): number {
        const out = Number(pOut);
        randomFillSync(heap().subarray(out, out + nOut));
        return nOut;
      },
      xSleep(_pVfs: Ptr, micros: number): number {
        Atomics.wait(vfs.sleepCell, 0, 0, Math.max(0, micros / 1000));
        return micros;
      },
    };

    const io = new capi.sqlite3_io_methods() as unknown as WasmStruct;
    io.$iVersion = 1; // no xShm*: WAL databases are opened with locking_mode=EXCLUSIVE (heap wal-index)
    const vfsStruct = new capi.sqlite3_vfs() as unknown as WasmStruct;
    vfsStruct.$iVersion = 2;
    vfsStruct.$szOsFile = (capi.sqlite3_file as unknown as { structInfo: { sizeof: number } }).structInfo.sizeof;
    vfsStruct.$mxPathname = 4096;
    this.sqlite3.vfs.installVfs({
      io: { struct: io as never, methods: ioMethods as never },
      vfs: { struct: vfsStruct as never, methods: vfsMethods as never, name: this.name },
    } as never);
  }

  /** A write-class operation on a protected file: refuse it and remember why. */
  private refuse(op: string, path: string, rc: number = this.sqlite3.capi.SQLITE_READONLY): number {
    this.lastError = { op, path, message: `refused: "${path}" is a protected source file`, sqliteRc: rc };
    return rc;
  }
}
