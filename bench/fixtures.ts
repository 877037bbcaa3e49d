/**
 * Benchmark fixtures: a realistic SQLite database of a given size, generated once with python3's
 * sqlite3 module and cached in `.bench/` (gitignored). The generator is seeded, so two machines get
 * byte-for-byte the same rows (page layout may differ with the SQLite version).
 *
 * Shape: users (text, indexed email/country), orders (integers, composite index), events (JSON-ish
 * text, index on ts/kind), attachments (1-20 KiB blobs, many on overflow pages, half compressible),
 * a view, a trigger, and a few percent of deleted rows (a freelist, as a live database has).
 * Page size default (4096), rollback journal (DELETE).
 */
import { timeCommand } from './util.js';
import { existsSync, mkdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';

/** Bump when the generator changes: old cached files are then ignored. */
export const FIXTURE_VERSION = 1;

export interface BenchDatabaseOptions {
  /** Approximate size of the database file in MB (10^6 bytes). @default 150 */
  sizeMB?: number;
  /** Cache directory. @default '.bench' */
  dir?: string;
  /** Called with a one-line message when the database has to be generated. */
  log?: (msg: string) => void;
}

const GENERATOR = String.raw`
import random, sqlite3, sys, os, json
path, target = sys.argv[1], int(sys.argv[2])
rng = random.Random(20261125)
con = sqlite3.connect(path, isolation_level=None)
con.execute("PRAGMA journal_mode=OFF")        # generation only; the file header stays rollback mode
con.execute("PRAGMA synchronous=OFF")
con.execute("PRAGMA cache_size=-262144")
con.executescript("""
CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE,
  country TEXT, created_at TEXT NOT NULL, bio TEXT, order_count INTEGER NOT NULL DEFAULT 0);
CREATE TABLE orders(id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),
  amount_cents INTEGER NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL, note TEXT);
CREATE TABLE events(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL, user_id INTEGER, payload TEXT);
CREATE TABLE attachments(id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, name TEXT NOT NULL, mime TEXT NOT NULL,
  sha TEXT NOT NULL, data BLOB NOT NULL);
CREATE INDEX users_country ON users(country, created_at);
CREATE INDEX orders_user ON orders(user_id, created_at);
CREATE INDEX orders_status ON orders(status, amount_cents);
CREATE INDEX events_ts ON events(ts, kind);
CREATE INDEX events_user ON events(user_id) WHERE user_id IS NOT NULL;
CREATE INDEX attachments_user ON attachments(user_id, name);
CREATE VIEW user_totals AS SELECT u.id, u.email, count(o.id) AS n, sum(o.amount_cents) AS total
  FROM users u LEFT JOIN orders o ON o.user_id = u.id GROUP BY u.id;
CREATE TRIGGER orders_count AFTER INSERT ON orders BEGIN
  UPDATE users SET order_count = order_count + 1 WHERE id = NEW.user_id; END;
""")
words = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore "
         "et dolore magna aliqua backup sqlite page cache journal vacuum integrity check snapshot restore "
         "gzip stream worker thread server client order invoice payment shipping refund customer").split()
countries = ["DE", "FR", "US", "GB", "JP", "BR", "IN", "NL", "ES", "IT", "SE", "PL", "CA", "AU", "MX"]
kinds = ["login", "logout", "view", "click", "purchase", "error", "search", "upload"]
statuses = ["new", "paid", "shipped", "delivered", "refunded", "cancelled"]
mimes = ["image/png", "image/jpeg", "application/pdf", "text/plain", "application/octet-stream"]
def text(lo, hi):
    return " ".join(rng.choices(words, k=rng.randint(lo, hi)))
def day(i):
    return "2025-%02d-%02dT%02d:%02d:%02dZ" % (1 + i % 12, 1 + i % 28, i % 24, i % 60, (i * 7) % 60)
pool = rng.randbytes(1 << 20)
nu = no = ne = na = 0
batch = 0
while True:
    batch += 1
    con.execute("BEGIN")
    users = []
    for _ in range(2000):
        nu += 1
        users.append((nu, "user %d %s" % (nu, rng.choice(words)), "u%d.%08x@example.com" % (nu, rng.getrandbits(32)),
                      rng.choice(countries), day(nu), text(3, 30)))
    con.executemany("INSERT INTO users(id,name,email,country,created_at,bio) VALUES(?,?,?,?,?,?)", users)
    orders = []
    for _ in range(6000):
        no += 1
        orders.append((no, rng.randint(1, nu), rng.randint(100, 500000), rng.choice(("EUR", "USD", "GBP")),
                       rng.choice(statuses), day(no), text(0, 12) or None))
    con.executemany("INSERT INTO orders VALUES(?,?,?,?,?,?,?)", orders)
    events = []
    for _ in range(10000):
        ne += 1
        k = rng.choice(kinds)
        payload = json.dumps({"kind": k, "path": "/" + "/".join(rng.choices(words, k=3)), "ms": rng.randint(1, 3000),
                              "ua": "Mozilla/5.0 (X11; Linux x86_64) " + rng.choice(words), "tags": rng.choices(words, k=rng.randint(0, 3)),
                              "msg": text(0, 8)})
        events.append((ne, 1735689600 + ne * 3 + rng.randint(0, 2), k, rng.randint(1, nu) if rng.random() < 0.8 else None, payload))
    con.executemany("INSERT INTO events VALUES(?,?,?,?,?)", events)
    atts = []
    for _ in range(70):
        na += 1
        n = rng.randint(1024, 20480)
        if rng.random() < 0.5:
            off = rng.randint(0, len(pool) - n)
            data = pool[off:off + n]                       # incompressible (jpeg-like)
        else:
            line = (text(4, 12) + "\n").encode()
            data = (line * (n // len(line) + 1))[:n]       # compressible (text-like)
        atts.append((na, rng.randint(1, nu), "file-%d.bin" % na, rng.choice(mimes), "%016x" % rng.getrandbits(64), data))
    con.executemany("INSERT INTO attachments VALUES(?,?,?,?,?,?)", atts)
    if batch % 10 == 0:   # churn: deletes and updates leave free pages and half-empty b-tree pages
        con.execute("DELETE FROM events WHERE id % 37 = 0 AND id > ?", (ne - 80000,))
        con.execute("DELETE FROM attachments WHERE id % 29 = 0 AND id > ?", (na - 700,))
        con.execute("UPDATE orders SET status='refunded', note=? WHERE id % 41 = 0 AND id > ?", (text(10, 30), no - 60000))
    con.execute("COMMIT")
    size = con.execute("PRAGMA page_count").fetchone()[0] * con.execute("PRAGMA page_size").fetchone()[0]
    if size >= target:
        break
# a contiguous delete frees whole pages (overflow chains): the file keeps a freelist, as live ones do
con.execute("DELETE FROM attachments WHERE id BETWEEN ? AND ?", (na - 400, na - 250))
con.execute("PRAGMA journal_mode=DELETE")
con.execute("ANALYZE")
con.close()
print("users=%d orders=%d events=%d attachments=%d" % (nu, no, ne, na))
`;

/** Path of the cached database for a size (it may not exist yet). */
export function benchDatabasePath(sizeMB: number, dir = '.bench'): string {
  return resolve(join(dir, `fixture-v${FIXTURE_VERSION}-${sizeMB}mb.sqlite`));
}

/**
 * Returns the path of a realistic database of about `sizeMB` MB, generating it on first use.
 * The file is written as `<name>.tmp-<random>` and renamed when complete, so an interrupted run is
 * never reused.
 */
export async function ensureBenchDatabase(options: BenchDatabaseOptions = {}): Promise<string> {
  const { sizeMB = 150, dir = '.bench', log } = options;
  if (!(sizeMB > 0 && sizeMB <= 4000)) throw new RangeError(`sizeMB must be in (0, 4000], got ${sizeMB}`);
  const path = benchDatabasePath(sizeMB, dir);
  if (existsSync(path) && statSync(path).size > 0) return path;
  mkdirSync(dir, { recursive: true });
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  const started = Date.now();
  log?.(`[bench] generating a ${sizeMB} MB fixture database (once) ...`);
  try {
    const counts = (await timeCommand('python3', ['-c', GENERATOR, tmp, String(Math.round(sizeMB * 1e6))])).stdout.trim();
    renameSync(tmp, path);
    log?.(`[bench] ${path}: ${(statSync(path).size / 1e6).toFixed(1)} MB, ${counts}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    for (const p of [tmp, `${tmp}-journal`]) {
      try {
        unlinkSync(p);
      } catch {
        /* already renamed or never created */
      }
    }
  }
  return path;
}
