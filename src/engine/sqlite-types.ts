/**
 * The slice of the sqlite-wasm namespace the engine uses. sqlite-wasm ships its own typings, but
 * its struct wrappers (`$member` accessors) and pointer helpers are loosely typed there; this file
 * pins down what we rely on so the rest of the engine is checked by the compiler.
 */
import type sqlite3InitModule from '@sqlite.org/sqlite-wasm';

export type Sqlite3 = Awaited<ReturnType<typeof sqlite3InitModule>>;

/** A WASM pointer. This build uses 32-bit pointers (a 64-bit build would pass BigInt: we Number() them). */
export type Ptr = number;

/** A sqlite3_vfs / sqlite3_io_methods / sqlite3_file struct wrapper (members are `$name`). */
export interface WasmStruct {
  readonly pointer: number;
  dispose(): void;
  [member: `$${string}`]: unknown;
}
