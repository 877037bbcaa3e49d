/**
 * The demo's sample database, built from SQL in an in-memory sqlite-wasm database and written out as
 * a file: no native sqlite3 needed, nothing downloaded.
 */
import { writeFileSync } from 'node:fs';
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';

const SAMPLE_SQL = `
CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE, joined TEXT);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER REFERENCES customers(id), total REAL, note TEXT);
CREATE INDEX orders_customer ON orders(customer);
CREATE VIEW big_spenders AS SELECT c.name, sum(o.total) AS spent FROM customers c JOIN orders o ON o.customer = c.id GROUP BY c.id HAVING spent > 500;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
INSERT INTO customers(name, email, joined) SELECT 'Customer ' || i, 'c' || i || '@example.org', date('2024-01-01', '+' || i || ' days') FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
INSERT INTO orders(customer, total, note) SELECT 1 + i % 500, round((i * 37 % 1000) / 3.0, 2), 'order #' || i FROM n;
`;

/** Writes the sample database to `path` (which must not exist) and returns its row counts. */
export async function writeSampleDatabase(path: string): Promise<{ customers: number; orders: number }> {
  const quiet = (): void => {};
  (globalThis as { sqlite3ApiConfig?: object }).sqlite3ApiConfig = { warn: quiet, debug: quiet, log: quiet };
  const sqlite3 = await sqlite3InitModule();
  const db = new sqlite3.oo1.DB(':memory:');
  try {
    db.exec(SAMPLE_SQL);
    const bytes = sqlite3.capi.sqlite3_js_db_export(db.pointer!);
    writeFileSync(path, bytes, { flag: 'wx', mode: 0o600 });
    return {
      customers: Number(db.selectValue('SELECT count(*) FROM customers')),
      orders: Number(db.selectValue('SELECT count(*) FROM orders')),
    };
  } finally {
    db.close();
  }
}
