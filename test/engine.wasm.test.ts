import { WasmEngine } from '../src/engine/index.js';
import { testEngine } from './engine.shared.js';

testEngine({ name: 'WasmEngine (sqlite-wasm in a worker, node:fs VFS)', create: () => new WasmEngine() });
testEngine({
  name: 'WasmEngine without read-ahead',
  create: () => new WasmEngine({ readAheadBytes: 0, cacheSizeKiB: 1024 }),
});
