/**
 * LocalTransport: a backup directory on this machine (or a mounted share), with exactly the
 * behaviour of the SFTP transport - the same shared test suite runs against both.
 */
import { open, readdir, lstat, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { AbortError, BackupError, ErrorCode, fsError } from '../../errors.js';
import { ensurePrivateDir, writeFileAtomic } from '../../fs/atomic.js';
import { fsyncDir } from '../../fs/sync.js';
import type { ReadOptions, RemoteFile, Transport, WriteOptions, WriteResult, WriteSource } from '../types.js';
import { checkTransportName } from '../names.js';
import { writeChunks } from '../write-source.js';

const READ_CHUNK = 1 << 20;

/**
 * A backup directory on this machine (or a mounted share) as a Transport: files are written under a
 * temp name, fsynced and renamed, so a reader sees a whole file or none.
 */
export class LocalTransport implements Transport {
  readonly kind = 'local';
  readonly location: string;

  constructor(private readonly dir: string) {
    this.location = dir;
  }

  async list(): Promise<RemoteFile[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') {
        throw new BackupError(ErrorCode.IO, `cannot list "${this.dir}": not a directory`, { path: this.dir, errno: 'ENOTDIR', cause: e });
      }
      throw ioError('list', this.dir, e);
    }
    const files: RemoteFile[] = [];
    for (const name of names) {
      const f = await this.stat(name).catch(() => undefined);
      if (f) files.push(f);
    }
    return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async stat(name: string): Promise<RemoteFile | undefined> {
    const path = this.pathOf(name);
    try {
      const st = await lstat(path);
      return st.isFile() ? { name, size: st.size, mtimeMs: st.mtimeMs } : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw ioError('stat', path, e);
    }
  }

  async *read(name: string, options: ReadOptions = {}): AsyncGenerator<Uint8Array> {
    const path = this.pathOf(name);
    const fh = await this.openFile(path);
    try {
      let position = options.start ?? 0;
      for (;;) {
        if (options.signal?.aborted) throw new AbortError(`read of "${path}" aborted`, { path, cause: options.signal.reason });
        const chunk = new Uint8Array(READ_CHUNK);
        let n: number;
        try {
          ({ bytesRead: n } = await fh.read(chunk, 0, chunk.length, position));
        } catch (e) {
          throw ioError('read', path, e);
        }
        if (n === 0) return;
        position += n;
        yield n === chunk.length ? chunk : chunk.subarray(0, n);
      }
    } finally {
      await fh.close();
    }
  }

  async readText(name: string, maxBytes: number): Promise<string | undefined> {
    const path = this.pathOf(name);
    let fh: FileHandle;
    try {
      fh = await this.openFile(path);
    } catch (e) {
      if (e instanceof BackupError && e.code === ErrorCode.BACKUP_NOT_FOUND) return undefined;
      throw e;
    }
    try {
      const buf = Buffer.alloc(maxBytes);
      const { bytesRead } = await fh.read(buf, 0, maxBytes, 0);
      return buf.toString('utf8', 0, bytesRead);
    } catch (e) {
      throw ioError('read', path, e);
    } finally {
      await fh.close();
    }
  }

  async write(name: string, data: WriteSource, options: WriteOptions = {}): Promise<WriteResult> {
    const path = this.pathOf(name);
    await ensurePrivateDir(this.dir, 'directory');
    const size = await writeFileAtomic(path, writeChunks(data, options, path), {
      tempBase: options.tempBase,
      signal: options.signal,
    });
    return { name, size };
  }

  async remove(name: string): Promise<boolean> {
    const path = this.pathOf(name);
    try {
      const st = await lstat(path);
      if (st.isDirectory()) return false;
      await rm(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw fsError('remove', path, e);
    }
    fsyncDir(this.dir);
    return true;
  }

  async close(): Promise<void> {}

  private pathOf(name: string): string {
    checkTransportName(name, this.location);
    return join(this.dir, name);
  }

  private async openFile(path: string): Promise<FileHandle> {
    try {
      const st = await lstat(path);
      if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOENT' });
      return await open(path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new BackupError(ErrorCode.BACKUP_NOT_FOUND, `"${path}" does not exist`, { path, errno: 'ENOENT' });
      }
      throw ioError('open', path, e);
    }
  }
}

function ioError(op: string, path: string, e: unknown): BackupError {
  const errno = (e as NodeJS.ErrnoException).code;
  return new BackupError(ErrorCode.IO, `${op} "${path}" failed (${errno ?? (e as Error).message})`, {
    path,
    cause: e,
    errno,
  });
}
