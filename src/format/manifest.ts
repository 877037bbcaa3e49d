/**
 * latest.txt of a local backup directory: the store's one reader and writer (store/manifest.ts)
 * over a LocalTransport.
 */
import { LocalTransport } from '../transport/local/local.js';
import * as store from '../store/manifest.js';

export { plainFileNameProblem, isPlainFileName } from '../transport/names.js';
export { LATEST_TEMP_SUFFIX } from '../store/manifest.js';

/**
 * The file name latest.txt in `dir` holds, or undefined when there is no latest.txt. One trailing
 * `\n` or `\r\n` is dropped. Throws EBACKUP_NOT_FOUND (naming the file) when the content is not a
 * plain file name or is not UTF-8, and EIO when the file cannot be read. It does not check that the
 * named file exists or is a backup: pickLatest does.
 */
export function readLatest(dir: string): Promise<string | undefined> {
  return store.readLatest(new LocalTransport(dir));
}

/**
 * Points latest.txt in `dir` at `name`: exactly the name, no newline, written atomically (0600).
 * Write it last, after the backup and its sidecar are in place and verified. Throws
 * EBACKUP_NOT_FOUND when `name` is not a backup file name or no such regular file is in `dir`.
 */
export function writeLatest(dir: string, name: string): Promise<void> {
  return store.writeLatest(new LocalTransport(dir), name);
}
