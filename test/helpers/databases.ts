/**
 * Test databases written by independent, native writers (the sqlite3 CLI and python3's sqlite3),
 * and native second opinions on what our engine produced.
 */
import { copyFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { python, run, sqlite3 } from './peers.js';

/** A schema with the shapes a backup must carry: indexes, a view, a trigger, unicode, overflow blobs. */
export const RICH_SCHEMA = `
CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE, bio TEXT);
CREATE TABLE notes(owner INTEGER REFERENCES users(id), body TEXT, blob BLOB, created REAL);
CREATE INDEX notes_owner ON notes(owner, created);
CREATE VIEW user_notes AS SELECT u.name, n.body FROM users u JOIN notes n ON n.owner = u.id;
CREATE TABLE audit(at TEXT, what TEXT);
CREATE TRIGGER users_audit AFTER INSERT ON users BEGIN INSERT INTO audit VALUES ('t', NEW.name); END;
`;

/** Rows for RICH_SCHEMA: `n` users, 3 notes each, some notes with blobs bigger than a page (overflow). */
export function richRows(n: number): string {
  return `
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${n})
INSERT INTO users(name, email, bio) SELECT 'user ' || i || ' ünïcødé ✓', 'u' || i || '@example.org',
  printf('%.*c', i % 300, 'x') FROM c;
INSERT INTO notes SELECT id, 'note "' || id || '" it''s', CASE WHEN id % 7 = 0 THEN randomblob(5000 + id % 3000) ELSE randomblob(16) END, id * 1.5 FROM users;
INSERT INTO notes SELECT id, 'second ' || id, NULL, id * 2.5 FROM users;
INSERT INTO notes SELECT id, 'third ' || id, zeroblob(id % 100), id * 3.5 FROM users;
`;
}

export interface CreateOptions {
  pageSize?: number;
  autoVacuum?: 'none' | 'full' | 'incremental';
  journalMode?: 'delete' | 'wal';
  rows?: number;
}

/** Creates a database with the native sqlite3 CLI. */
export function createWithCli(path: string, opts: CreateOptions = {}): void {
  const pragmas = [
    opts.pageSize ? `PRAGMA page_size=${opts.pageSize};` : '',
    opts.autoVacuum ? `PRAGMA auto_vacuum=${opts.autoVacuum.toUpperCase()};` : '',
    opts.journalMode ? `PRAGMA journal_mode=${opts.journalMode.toUpperCase()};` : '',
  ].join('\n');
  sqlite3(path, `${pragmas}\n${RICH_SCHEMA}\nBEGIN;${richRows(opts.rows ?? 300)}COMMIT;`);
}

/**
 * Creates a WAL database with python3 whose newest commits exist only in the -wal: the writer turns
 * off auto-checkpoints and exits without closing, as a crashed or still-running app would leave it.
 */
export function createWalWithUncheckpointedFrames(path: string, rows = 500): void {
  python(
    `
import sqlite3, sys, os
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute('PRAGMA journal_mode=WAL')
con.execute('PRAGMA wal_autocheckpoint=0')
con.executescript(sys.argv[2])
con.executescript('BEGIN;' + sys.argv[3] + 'COMMIT;')
con.execute("INSERT INTO audit VALUES ('only-in-wal', 'last commit')")
os._exit(0)  # no close: no checkpoint, -wal and -shm stay
`,
    [path, RICH_SCHEMA, richRows(rows)],
  );
}

/** A big database for abort/event-loop tests (about `mb` MB), written by the sqlite3 CLI. */
export function createLarge(path: string, mb: number): void {
  const rows = Math.round((mb * 1024 * 1024) / 1100);
  sqlite3(
    path,
    `CREATE TABLE big(id INTEGER PRIMARY KEY, a TEXT, b BLOB);
     CREATE INDEX big_a ON big(a);
     WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${rows})
     INSERT INTO big(a, b) SELECT hex(randomblob(16)), randomblob(1000) FROM c;`,
  );
}

/** Copies a database with its side files (for native readers that would otherwise touch the original). */
export function copyDatabase(src: string, destDir: string, name = 'copy.db'): string {
  const dest = join(destDir, name);
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(src + suffix)) copyFileSync(src + suffix, dest + suffix);
  }
  return dest;
}

/** `.dump` by the native CLI. Works on a copy, since native SQLite may checkpoint or recover on open. */
export function nativeDump(path: string, scratchDir: string): string {
  const copy = copyDatabase(path, scratchDir, `dump-${Date.now()}-${Math.random().toString(16).slice(2)}.db`);
  return sqlite3(copy, '.dump').stdout;
}

/** Native verdict: ok only when the CLI exits 0 and prints exactly `ok`. */
export function nativeCheck(path: string, scratchDir: string, pragma = 'integrity_check'): boolean {
  const copy = copyDatabase(path, scratchDir, `check-${Date.now()}-${Math.random().toString(16).slice(2)}.db`);
  const r = run('sqlite3', ['-batch', copy, `PRAGMA ${pragma}`], { allowFail: true });
  return r.status === 0 && r.stdout.trim() === 'ok';
}

export interface FileFingerprint {
  exists: boolean;
  sha256?: string;
  mtimeMs?: number;
  size?: number;
}

/** sha256 + mtime of a database and its side files, to prove we changed nothing. */
export function fingerprint(dbPath: string): Record<string, FileFingerprint> {
  const out: Record<string, FileFingerprint> = {};
  for (const suffix of ['', '-wal', '-shm', '-journal']) {
    const p = dbPath + suffix;
    if (!existsSync(p)) {
      out[suffix || 'db'] = { exists: false };
      continue;
    }
    const st = statSync(p);
    out[suffix || 'db'] = {
      exists: true,
      sha256: createHash('sha256').update(readFileSync(p)).digest('hex'),
      mtimeMs: st.mtimeMs,
      size: st.size,
    };
  }
  return out;
}

/**
 * Overwrites bytes inside the root b-tree page of table or index `name`: a real on-disk corruption.
 * By default 64 bytes just past the page header; `fromEnd` instead hits the cell content area at the
 * page's end (always in use, also on interior pages with lots of free space).
 */
export function corruptBtreePage(db: string, name: string, { fromEnd = 0 } = {}): void {
  const root = Number(sqlite3(db, `SELECT rootpage FROM sqlite_master WHERE name = '${name}';`).stdout.trim());
  const pageSize = Number(sqlite3(db, 'PRAGMA page_size;').stdout.trim());
  const offset = fromEnd > 0 ? root * pageSize - fromEnd : (root - 1) * pageSize + 12;
  const length = fromEnd > 0 ? fromEnd : 64;
  python(
    `import sys\nwith open(sys.argv[1], 'r+b') as f:\n  f.seek(int(sys.argv[2]))\n  f.write(bytes([0xA5]) * int(sys.argv[3]))`,
    [db, String(offset), String(length)],
  );
}
