/**
 * Files as streams of chunks, for the pipelines that decode and encode backups (api/decode.ts,
 * api/encode.ts, api/pull-unpack.ts): a sequential reader and a writer, with every fs failure a
 * typed error naming the file the user knows.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { AbortError, fsError } from '../errors.js';

export interface ChunkIoOptions {
  signal?: AbortSignal | undefined;
}

export interface WriteChunksOptions {
  /** The failed step, in the EIO's message. @default "write" */
  what?: string;
}

/**
 * Reads `path` from the start in fresh `size`-byte chunks (the last one shorter); each chunk owns its
 * buffer, so a consumer may keep or transfer it. Errors are EIO naming `path` (EABORTED on abort).
 */
export async function* readFileChunks(path: string, size: number, options: ChunkIoOptions = {}): AsyncGenerator<Uint8Array> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw fsError('open', path, e);
  }
  try {
    for (;;) {
      if (options.signal?.aborted) throw new AbortError(`reading "${path}" aborted`, { path, cause: options.signal.reason });
      const buf = new Uint8Array(size);
      let fill = 0;
      while (fill < size) {
        let bytesRead: number;
        try {
          ({ bytesRead } = await fh.read(buf, fill, size - fill, null));
        } catch (e) {
          throw fsError('read', path, e);
        }
        if (bytesRead === 0) break;
        fill += bytesRead;
      }
      if (fill === 0) return;
      yield fill === size ? buf : buf.subarray(0, fill);
      if (fill < size) return;
    }
  } finally {
    await fh.close().catch(() => {});
  }
}

/**
 * Writes every chunk of `chunks` to `fh`, from offset 0 on; returns the bytes written. A failed
 * write is EIO naming `path` ("disk full" for ENOSPC).
 */
export async function writeChunks(fh: FileHandle, chunks: AsyncIterable<Uint8Array>, path: string, options: WriteChunksOptions = {}): Promise<number> {
  let position = 0;
  for await (const chunk of chunks) {
    for (let done = 0; done < chunk.length; ) {
      try {
        done += (await fh.write(chunk, done, chunk.length - done, position + done)).bytesWritten;
      } catch (e) {
        throw fsError(options.what ?? 'write', path, e);
      }
    }
    position += chunk.length;
  }
  return position;
}
