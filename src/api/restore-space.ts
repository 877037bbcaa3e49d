/**
 * How much room a restored (or pulled) database needs, known before decompressing anything.
 *
 * A plain `.db` needs its own size. A gzip's decompressed size is not recorded anywhere reliable: the
 * trailer's ISIZE is the LAST member's length mod 2^32 (wrong above 4 GiB, and only one member of a
 * concatenation), and a sidecar hashes the file, not the database. So we take a bound that is never
 * above the truth, and refuse only when even that does not fit - a check that could refuse a restore
 * that fits would be worse than none:
 *  - the compressed size, less deflate's worst-case expansion (incompressible pages grow by ~1/10000)
 *    and the container's bytes (gzip header/trailer, age's header and 16-byte tags per 64 KiB): a
 *    database never decompresses to less;
 *  - ISIZE, which is at most the last member's length, itself at most the whole output.
 * For a single-member gzip under 4 GiB (ours, gzip's and pigz's) ISIZE is exact; above, or for an
 * encrypted file (no readable trailer), the compressed size is what catches a disk that is far too
 * small, and the writer's own ENOSPC handling the rest.
 */
import { open } from 'node:fs/promises';

export function compressedLowerBound(compressedBytes: number): number {
  return Math.max(0, Math.floor(compressedBytes * 0.999) - 64 * 1024);
}

/** The least the database in `path` (`format` as detectFormat found it: `sqlite`, `gzip`, any other is an encrypted or unknown container; `size` its size) takes once decoded. */
export async function decodedSizeAtLeast(path: string, format: string, size: number): Promise<number> {
  if (format === 'sqlite') return size;
  const bound = compressedLowerBound(size);
  if (format !== 'gzip' || size < 18) return bound;
  const trailer = Buffer.alloc(4);
  try {
    const fh = await open(path, 'r');
    try {
      await fh.read(trailer, 0, 4, size - 4);
    } finally {
      await fh.close();
    }
  } catch {
    return bound; // the decoder reports what is wrong with the file
  }
  return Math.max(bound, trailer.readUInt32LE(0));
}
