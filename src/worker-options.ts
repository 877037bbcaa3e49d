/**
 * The Node options our worker threads start with: the process's own, minus those a worker refuses.
 * A worker inherits `process.execArgv`, and `node --input-type=module -e "..."` (a one-line script,
 * a common way to call a library from a shell) puts `--input-type` there, which a worker with a
 * file entry point rejects at start (ERR_INPUT_TYPE_NOT_ALLOWED): every engine call then failed.
 */
export function workerExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--input-type')) {
      if (a === '--input-type') i++; // its value follows
      continue;
    }
    out.push(a);
  }
  return out;
}
