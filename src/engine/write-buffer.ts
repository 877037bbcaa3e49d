import { writeAll } from '../fs/sync.js';

/**
 * Write-behind for a file we own (a snapshot being written): SQLite writes one page per xWrite,
 * mostly at increasing offsets; coalescing contiguous pages into one writeSync of up to `capacity`
 * bytes turns ~37k 4 KiB writes (each ~10 us through node:fs) into ~150 large ones.
 * The owner must call flush() before any read, size query, truncate, sync or close of the file.
 */
export class WriteBuffer {
  /** Allocated on the first write: many files SQLite opens read-write are never written. */
  private buf: Buffer | undefined;
  private start = 0;
  private length = 0;
  constructor(
    private readonly fd: number,
    private readonly capacity: number,
  ) {}

  /** Queues `data` at `position`, flushing first when it does not extend the pending run. */
  write(data: Uint8Array, position: number): void {
    const extendsRun = position === this.start + this.length && this.length + data.length <= this.capacity;
    if (this.length > 0 && !extendsRun) this.flush();
    if (data.length >= this.capacity) {
      writeAll(this.fd, data, position);
      return;
    }
    this.buf ??= Buffer.allocUnsafe(this.capacity);
    if (this.length === 0) this.start = position;
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  flush(): void {
    if (this.length === 0) return;
    const n = this.length;
    this.length = 0; // a failed flush is not retried: SQLite gets the error and the snapshot is deleted
    writeAll(this.fd, this.buf!.subarray(0, n), this.start);
  }
}
