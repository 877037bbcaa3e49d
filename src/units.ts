/**
 * Sizes as people read them, shared by every layer that reports one (the CLI's output and progress
 * bar, the free-space check of fs/): binary units, one decimal.
 */
const SIZE_UNITS = ['KiB', 'MiB', 'GiB', 'TiB'] as const;

/** The unit a size is shown in: bytes below 1 KiB, else the largest binary unit with a value >= 1. */
export function sizeUnit(bytes: number): { divisor: number; suffix: string } {
  if (!(bytes >= 1024)) return { divisor: 1, suffix: 'bytes' };
  let divisor = 1024;
  let i = 0;
  while (bytes >= divisor * 1024 && i < SIZE_UNITS.length - 1) {
    divisor *= 1024;
    i++;
  }
  return { divisor, suffix: SIZE_UNITS[i]! };
}

/**
 * `512 bytes`, `12.3 KiB`, `4.0 MiB`, `1.2 GiB`: the one style of sizes in the CLI's human output
 * (binary units, one decimal), in results, progress lines and the bar alike.
 */
export function formatSize(bytes: number): string {
  const { divisor, suffix } = sizeUnit(bytes);
  return divisor === 1 ? `${bytes} ${suffix}` : `${(bytes / divisor).toFixed(1)} ${suffix}`;
}
