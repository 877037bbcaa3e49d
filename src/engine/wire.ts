/** Messages between the engine worker and WasmEngine, and how errors cross the thread boundary. */
import { AbortError, BackupError, type ErrorCodeValue } from '../errors.js';
import type { EngineProgress, IntegrityMode } from './types.js';
import type { OnlineParams } from './operations.js';
import type { LiveCopyParams } from './live-copy.js';

export interface WorkerConfig {
  wasmPath?: string;
  cacheSizeKiB: number;
  readAheadBytes?: number;
  tempDir?: string;
}

interface CallBase {
  type: 'call';
  id: number;
  /** SharedArrayBuffer(4): Int32 [0] != 0 means "abort now". */
  abort: SharedArrayBuffer;
}

export type CallMessage = CallBase &
  (
    | { op: 'vacuumInto'; args: { source: string; dest: string } }
    | { op: 'onlineBackup'; args: { source: string; dest: string; params: OnlineParams } }
    | { op: 'copyLive'; args: { source: string; dest: string; params: LiveCopyParams } }
    | { op: 'integrityCheck'; args: { path: string; mode: IntegrityMode; maxErrors: number } }
    | { op: 'selectRows'; args: { path: string; sql: string; bind: (string | number)[] } }
    | { op: 'stats'; args: Record<string, never> }
    | { op: 'warmUp'; args: Record<string, never> }
  );

export type WorkerMessage =
  | { type: 'progress'; id: number; progress: EngineProgress }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id: number; error: SerializedError };

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  path?: string;
  host?: string;
  errno?: string;
  sqliteCode?: number;
  cause?: SerializedError;
}

export function serializeError(e: unknown): SerializedError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  const b = e as Partial<BackupError>;
  return {
    name: e.name,
    message: e.message,
    stack: e.stack,
    code: b.code,
    path: b.path,
    errno: b.errno,
    sqliteCode: b.sqliteCode,
    cause: e.cause === undefined ? undefined : serializeError(e.cause),
  };
}

/** Rebuilds a typed error on the calling thread. */
export function deserializeError(s: SerializedError): Error {
  const cause = s.cause ? deserializeError(s.cause) : undefined;
  const details = { path: s.path, errno: s.errno, sqliteCode: s.sqliteCode, cause };
  let err: Error;
  if (s.name === 'AbortError') err = new AbortError(s.message, details);
  else if (s.code && s.name === 'BackupError') err = new BackupError(s.code as ErrorCodeValue, s.message, details);
  else if (s.name === 'RangeError') err = new RangeError(s.message);
  else {
    err = new Error(s.message, cause ? { cause } : undefined);
    err.name = s.name;
  }
  if (s.stack) err.stack = s.stack;
  return err;
}
