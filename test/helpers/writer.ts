import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/**
 * A native writer (python3's sqlite3) that commits into `db` continuously until stopped. Used to
 * show that the engine notices a source changing under it. Stopped by its own pid.
 */
export interface Writer {
  child: ChildProcess;
  /** Resolves after the writer has committed at least once. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

export function startWriter(
  db: string,
  opts: { journalMode?: 'delete' | 'wal'; maxSeconds?: number; pauseMs?: number } = {},
): Writer {
  const script = `
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
con.execute('PRAGMA journal_mode=' + sys.argv[2])
con.execute('PRAGMA synchronous=OFF')  # fast commits: short write windows, many of them
con.execute('CREATE TABLE IF NOT EXISTS churn(id INTEGER PRIMARY KEY, v BLOB)')
n = 0
deadline = time.time() + float(sys.argv[3])
while time.time() < deadline:
    con.execute('BEGIN IMMEDIATE')
    con.execute('INSERT INTO churn(v) VALUES (randomblob(3000))')
    con.execute('UPDATE churn SET v = randomblob(200) WHERE id = ?', (n - 50,))
    con.execute('DELETE FROM churn WHERE id < ?', (n - 200,))
    con.execute('COMMIT')
    n += 1
    time.sleep(float(sys.argv[4]) / 1000)
    if n == 1:
        print('ready', flush=True)
`;
  const child = spawn('python3', ['-c', script, db, opts.journalMode ?? 'delete', String(opts.maxSeconds ?? 30), String(opts.pauseMs ?? 0)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`writer exited early (${code})`)));
  });
  ready.catch(() => {});
  return {
    child,
    ready,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    },
  };
}
