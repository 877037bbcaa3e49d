/**
 * Entry point of the engine worker thread. VACUUM INTO and integrity_check are single synchronous
 * wasm calls that take seconds on large databases; running them here keeps the caller's event loop
 * (an Electron main process, a server) free. The wasm module is loaded once per worker.
 *
 * Protocol (see wasm-engine.ts): the main thread posts `{ type: 'call', id, op, args, abort }`,
 * where `abort` is a SharedArrayBuffer whose first Int32 becomes non-zero on cancellation; the worker
 * answers with `progress` messages and one `result` or `error`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import { BackupError, ErrorCode } from '../errors.js';
import { NodeFsVfs } from './node-fs-vfs.js';
import { integrityCheck, onlineBackup, selectRows, vacuumInto, warmUp, type EngineContext, type OperationHooks } from './operations.js';
import { serializeError } from './wire.js';
import { copyLiveDatabase } from './live-copy.js';
import type { CallMessage, WorkerConfig, WorkerMessage } from './wire.js';

const port = parentPort;
if (!port) throw new Error('engine worker must run in a worker thread');
const config = workerData as WorkerConfig;

let context: Promise<EngineContext> | undefined;

async function load(): Promise<EngineContext> {
  // sqlite-wasm logs failed statements with console.warn; we report them as typed errors instead.
  const quiet = (): void => {};
  (globalThis as { sqlite3ApiConfig?: object }).sqlite3ApiConfig = { warn: quiet, debug: quiet, log: quiet };
  const init = sqlite3InitModule as unknown as (opts?: object) => ReturnType<typeof sqlite3InitModule>;
  let sqlite3: Awaited<ReturnType<typeof sqlite3InitModule>>;
  try {
    sqlite3 = await init({
      ...(config.wasmPath ? { wasmBinary: readFileSync(config.wasmPath) } : {}),
      // sqlite-wasm prints its own diagnostics; ours are typed errors, so keep its console quiet.
      print: () => {},
      printErr: () => {},
    });
  } catch (e) {
    const where = config.wasmPath ?? "sqlite3.wasm of @sqlite.org/sqlite-wasm";
    throw new BackupError(
      ErrorCode.ENGINE_LOAD,
      `cannot load SQLite's WebAssembly from ${where} (${(e as Error)?.message ?? String(e)}); ` +
        'if a bundler or an Electron package moved sqlite3.wasm, pass its location as wasmPath',
      { path: config.wasmPath, cause: e },
    );
  }
  const vfs = new NodeFsVfs(sqlite3, {
    readAheadBytes: config.readAheadBytes,
    tempDir: config.tempDir,
  });
  return { sqlite3, vfs, cacheSizeKiB: config.cacheSizeKiB };
}

function post(msg: WorkerMessage): void {
  port!.postMessage(msg);
}

port.on('message', async (msg: CallMessage) => {
  if (msg.type !== 'call') return;
  const flag = new Int32Array(msg.abort);
  const hooks: OperationHooks = {
    aborted: () => Atomics.load(flag, 0) !== 0,
    sleep: (ms) => void Atomics.wait(flag, 0, 0, ms),
    progress: (progress) => post({ type: 'progress', id: msg.id, progress }),
  };
  try {
    // A failed load (e.g. a wrong wasmPath) is reported to this call and retried by the next one.
    const ctx = await (context ??= load().catch((e: unknown) => {
      context = undefined;
      throw e;
    }));
    // Failures left by a previous call must not be blamed on this one.
    ctx.vfs.takeLastError();
    ctx.vfs.takeCloseWriteError();
    let value: unknown;
    switch (msg.op) {
      case 'vacuumInto':
        value = vacuumInto(ctx, msg.args.source, msg.args.dest, hooks);
        break;
      case 'onlineBackup':
        value = onlineBackup(ctx, msg.args.source, msg.args.dest, msg.args.params, hooks);
        break;
      case 'copyLive':
        value = copyLiveDatabase(msg.args.source, msg.args.dest, msg.args.params, hooks);
        break;
      case 'integrityCheck':
        value = integrityCheck(ctx, msg.args.path, msg.args.mode, msg.args.maxErrors, hooks);
        break;
      case 'selectRows':
        value = selectRows(ctx, msg.args.path, msg.args.sql, msg.args.bind, hooks);
        break;
      case 'warmUp':
        warmUp(ctx);
        value = undefined;
        break;
      case 'stats':
        value = { ...ctx.vfs.stats, openFiles: ctx.vfs.openFileCount(), memoryBytes: process.memoryUsage().rss };
        break;
    }
    post({ type: 'result', id: msg.id, value });
  } catch (e) {
    post({ type: 'error', id: msg.id, error: serializeError(e) });
  }
});
