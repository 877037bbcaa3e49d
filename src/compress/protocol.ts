/** Messages between the main thread (pool.ts) and compress-worker.ts. Every request gets one reply. */
import type { Level } from './deflate-core.js';
import type { GunzipTotals, MemberEnd } from './gunzip-checks.js';

export type WorkerRequest =
  | { op: 'deflate'; id: number; data: Uint8Array; dictionary?: Uint8Array; level: Level }
  /** `first` creates the session; `data` is optional (a pure drain); `end` marks the end of input. */
  | { op: 'gunzip'; id: number; session: number; name: string; first?: boolean; data?: Uint8Array; end?: boolean; budget: number }
  | { op: 'gunzip-close'; id: number; session: number };

export type WorkerReply =
  | { id: number; ok: true; out: Uint8Array; crc: number }
  | { id: number; ok: true; outs: Uint8Array[]; more: boolean; memberEnd?: MemberEnd; done?: GunzipTotals }
  | { id: number; ok: true; closed: true }
  | { id: number; ok: false; error: { code?: string; message: string; path?: string; stack?: string } };
