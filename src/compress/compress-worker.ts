/**
 * Worker entry of the compress pool: deflates chunks, and runs gunzip sessions of the fflate codec
 * (`codec: 'fflate'`) off the main thread.
 * It is its own module so bundlers can find it: pool.ts starts it with
 * `new Worker(new URL('./compress-worker.js', import.meta.url))`, or from `workerUrl` when given.
 * Output buffers are transferred (not copied) back to the main thread.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { BackupError } from '../errors.js';
import { deflateChunk } from './deflate-core.js';
import { FflateGunzipParser } from './fflate-gunzip.js';
import type { WorkerReply, WorkerRequest } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('compress-worker.js must be started as a worker thread');

const sessions = new Map<number, FflateGunzipParser>();

/**
 * fflate's inflate allocates typed arrays for every step, several times the size of its input. V8
 * frees their memory only when it collects the small wrappers, which it does late: each worker would
 * hold tens of MiB of dead buffers. A minor GC after each job costs a fraction of a millisecond and
 * keeps that at a few MiB; it also makes gunzip faster, since memory is reused while still mapped.
 * `gc` is obtained the usual way (enable --expose-gc, read `gc` from a fresh context) and the flag is
 * switched off again at once, so no other context of the process gets a `gc` global. Without it
 * (flag refused) we simply skip this step.
 */
const collectGarbage = ((): ((options: { type: 'minor' }) => void) | undefined => {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as (options: { type: 'minor' }) => void) : undefined;
  } catch {
    return undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
})();

port.on('message', (req: WorkerRequest) => {
  try {
    const [reply, transfer] = handle(req);
    port.postMessage(reply, transfer);
    collectGarbage?.({ type: 'minor' });
  } catch (e) {
    if (req.op === 'gunzip') sessions.delete(req.session);
    const error =
      e instanceof BackupError
        ? { code: e.code, message: e.message, path: e.path }
        : { message: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined };
    port.postMessage({ id: req.id, ok: false, error } satisfies WorkerReply);
  }
});

function handle(req: WorkerRequest): [WorkerReply, ArrayBuffer[]] {
  switch (req.op) {
    case 'deflate': {
      const { out, crc } = deflateChunk(req.data, req.level, req.dictionary);
      return [{ id: req.id, ok: true, out, crc }, [out.buffer as ArrayBuffer]];
    }
    case 'gunzip': {
      let parser = sessions.get(req.session);
      if (!parser) {
        // A drain that was already on its way when the session finished: nothing left to do.
        if (!req.first) return [{ id: req.id, ok: true, outs: [], more: false }, []];
        sessions.set(req.session, (parser = new FflateGunzipParser(req.name)));
      }
      if (req.data) parser.push(req.data);
      if (req.end) parser.end();
      const { out, more, memberEnd, done } = parser.drain(req.budget);
      if (done) sessions.delete(req.session);
      const reply: WorkerReply = { id: req.id, ok: true, outs: out, more };
      if (memberEnd) reply.memberEnd = memberEnd;
      if (done) reply.done = done;
      return [reply, transferable(out)];
    }
    case 'gunzip-close':
      sessions.delete(req.session);
      return [{ id: req.id, ok: true, closed: true }, []];
  }
}

/** Buffers that can be moved to the other thread: whole, distinct, non-shared ArrayBuffers. */
function transferable(chunks: Uint8Array[]): ArrayBuffer[] {
  const seen = new Set<ArrayBufferLike>();
  const list: ArrayBuffer[] = [];
  for (const c of chunks) {
    const b = c.buffer;
    if (b instanceof ArrayBuffer && c.byteOffset === 0 && c.byteLength === b.byteLength && !seen.has(b)) {
      seen.add(b);
      list.push(b);
    }
  }
  return list;
}
