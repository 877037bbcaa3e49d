/**
 * The "ledger": a native writer (python3's sqlite3) that commits continuously and keeps invariants
 * that a torn copy breaks even when it still passes integrity_check:
 *   - accounts: balances always sum to zero. Each commit moves an amount between two accounts,
 *     updated in place (fixed-width text, so the b-tree shape never changes);
 *   - log: rows inserted (random sizes: page splits, overflow pages) and deleted, and meta.rows holds
 *     the row count, updated in the same transaction.
 * In WAL mode it also runs wal_checkpoint(PASSIVE / RESTART / TRUNCATE) in turn.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { sqlite3 } from './peers.js';

export type LedgerJournalMode = 'wal' | 'delete' | 'truncate' | 'persist';

export const LEDGER_ACCOUNTS = 500;

const WRITER = `
import random, signal, sqlite3, sys, time
stopping = []
signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
path, mode, seconds, pause_ms, ckpt_every = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
con = sqlite3.connect(path, isolation_level=None, timeout=30)
con.execute('PRAGMA journal_mode=' + mode)
con.execute('PRAGMA synchronous=NORMAL')
con.execute('BEGIN IMMEDIATE')
con.execute('CREATE TABLE IF NOT EXISTS accounts(id INTEGER PRIMARY KEY, balance TEXT NOT NULL, pad BLOB)')
con.execute('CREATE TABLE IF NOT EXISTS log(id INTEGER PRIMARY KEY, acct INTEGER, amount INTEGER, payload BLOB)')
con.execute('CREATE INDEX IF NOT EXISTS log_acct ON log(acct)')
con.execute('CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, n INTEGER NOT NULL)')
if con.execute('SELECT count(*) FROM accounts').fetchone()[0] == 0:
    con.executemany('INSERT INTO accounts VALUES (?, ?, randomblob(120))', [(i, '%+012d' % 0) for i in range(1, ${LEDGER_ACCOUNTS} + 1)])
    con.execute("INSERT INTO meta VALUES ('rows', 0), ('commits', 0)")
con.execute('COMMIT')
print('ready', flush=True)
deadline = time.time() + seconds
n = 0
ckpts = ['PASSIVE', 'RESTART', 'TRUNCATE']
while time.time() < deadline and not stopping:
    a, b = random.sample(range(1, ${LEDGER_ACCOUNTS} + 1), 2)
    amt = random.randint(1, 10000)
    con.execute('BEGIN IMMEDIATE')
    con.execute("UPDATE accounts SET balance = printf('%+012d', CAST(balance AS INTEGER) - ?) WHERE id = ?", (amt, a))
    con.execute("UPDATE accounts SET balance = printf('%+012d', CAST(balance AS INTEGER) + ?) WHERE id = ?", (amt, b))
    k = random.randint(1, 4)
    for _ in range(k):
        con.execute('INSERT INTO log(acct, amount, payload) VALUES (?, ?, randomblob(?))', (a, amt, random.choice([20, 300, 1500, 6000])))
    d = con.execute('DELETE FROM log WHERE id IN (SELECT id FROM log ORDER BY random() LIMIT ?)', (random.randint(0, 4),)).rowcount
    con.execute("UPDATE meta SET n = n + ? WHERE k = 'rows'", (k - d,))
    con.execute("UPDATE meta SET n = n + 1 WHERE k = 'commits'")
    con.execute('COMMIT')
    n += 1
    if mode == 'wal' and ckpt_every > 0 and n % ckpt_every == 0:
        con.execute('PRAGMA wal_checkpoint(%s)' % ckpts[(n // ckpt_every) % 3]).fetchall()
    if pause_ms > 0:
        time.sleep(random.random() * pause_ms / 1000)
print('commits', n, flush=True)
`;

export interface LedgerWriter {
  child: ChildProcess;
  /** Resolves once the schema exists and the first commit is in. */
  ready: Promise<void>;
  /** Commits made, known after stop(). */
  commits(): number;
  stop(): Promise<void>;
}

export function startLedgerWriter(
  db: string,
  opts: { journalMode: LedgerJournalMode; seconds?: number; pauseMs?: number; checkpointEvery?: number },
): LedgerWriter {
  const args = [db, opts.journalMode, String(opts.seconds ?? 60), String(opts.pauseMs ?? 2), String(opts.checkpointEvery ?? 25)];
  const child = spawn('python3', ['-c', WRITER, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      if (out.includes('ready')) {
        clearInterval(poll);
        resolve();
      }
    }, 5);
    child.once('exit', (code) => {
      clearInterval(poll);
      reject(new Error(`ledger writer exited early (${code})`));
    });
  });
  ready.catch(() => {});
  return {
    child,
    ready,
    commits: () => Number(/commits (\d+)/.exec(out)?.[1] ?? 0),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM'); // the writer finishes its transaction and exits
        const exited = once(child, 'exit');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

export interface LedgerVerdict {
  /** integrity_check said exactly ok AND both invariants hold. */
  ok: boolean;
  integrity: string;
  balanceSum: number;
  rowsCounted: number;
  rowsRecorded: number;
  accounts: number;
}

/** Native second opinion on a snapshot of the ledger: sqlite3 CLI integrity_check plus the invariants. */
export function checkLedger(snapshot: string): LedgerVerdict {
  const r = sqlite3(
    snapshot,
    `PRAGMA integrity_check;
SELECT 'sum=' || total(CAST(balance AS INTEGER)) || ' accounts=' || count(*) FROM accounts;
SELECT 'rows=' || (SELECT count(*) FROM log) || ' recorded=' || (SELECT n FROM meta WHERE k = 'rows');`,
    { allowFail: true },
  );
  const text = r.stdout + r.stderr;
  const integrity = text.split('\n')[0]!.trim();
  const num = (re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN);
  const balanceSum = num(/sum=(-?[\d.]+)/);
  const accounts = num(/accounts=(\d+)/);
  const rowsCounted = num(/rows=(\d+)/);
  const rowsRecorded = num(/recorded=(-?\d+)/);
  const ok =
    r.status === 0 && integrity === 'ok' && balanceSum === 0 && accounts === LEDGER_ACCOUNTS && rowsCounted === rowsRecorded;
  return { ok, integrity, balanceSum, rowsCounted, rowsRecorded, accounts };
}
