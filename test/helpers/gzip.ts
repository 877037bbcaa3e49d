/**
 * Test helpers for the compress suite: deterministic data, hand-built gzip members (node:zlib is the
 * independent reference for deflate and CRC-32 here, never used by src/compress), and the Go peer.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { run } from './peers.js';

/** Deterministic bytes: 'random' (incompressible), 'text' (compressible, like a database), 'zeros'. */
export function makeData(kind: 'random' | 'text' | 'zeros', size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  if (kind === 'zeros') return out;
  let x = (seed * 0x9e3779b9) >>> 0 || 1;
  const next = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
  if (kind === 'random') {
    for (let i = 0; i < size; i += 4) {
      const v = next();
      out[i] = v;
      if (i + 1 < size) out[i + 1] = v >>> 8;
      if (i + 2 < size) out[i + 2] = v >>> 16;
      if (i + 3 < size) out[i + 3] = v >>> 24;
    }
    return out;
  }
  const words = ['backup', 'sqlite', 'page', 'insert', 'into', 'users', 'values', 'gzip', 'stream', 'chunk', 'worker', 'order', 'id', 'name', 'null', 'email'];
  let at = 0;
  while (at < size) {
    const v = next();
    const w = `${words[v % words.length]}${v % 7 === 0 ? String(v % 100000) : ''}${v % 11 === 0 ? '\n' : ' '}`;
    at += out.write(w, at, 'latin1');
  }
  return out;
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export interface MemberOptions {
  name?: string;
  comment?: string;
  extra?: Uint8Array;
  /** Write FHCRC (CRC16 of the header). */
  hcrc?: boolean;
  /** Store a wrong header CRC16. */
  badHcrc?: boolean;
  level?: number;
  mtime?: number;
}

/** A gzip member built by hand: header fields as asked, deflate and CRC-32 from node:zlib. */
export function gzipMember(data: Uint8Array, o: MemberOptions = {}): Buffer {
  let flags = 0;
  const parts: Buffer[] = [];
  if (o.extra) {
    flags |= 0x04;
    const len = Buffer.alloc(2);
    len.writeUInt16LE(o.extra.length);
    parts.push(len, Buffer.from(o.extra));
  }
  if (o.name !== undefined) {
    flags |= 0x08;
    parts.push(Buffer.from(o.name, 'latin1'), Buffer.of(0));
  }
  if (o.comment !== undefined) {
    flags |= 0x10;
    parts.push(Buffer.from(o.comment, 'latin1'), Buffer.of(0));
  }
  if (o.hcrc) flags |= 0x02;
  const fixed = Buffer.of(0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3);
  fixed.writeUInt32LE(o.mtime ?? 0, 4);
  let header = Buffer.concat([fixed, ...parts]);
  if (o.hcrc) {
    const crc16 = Buffer.alloc(2);
    crc16.writeUInt16LE((zlib.crc32(header) & 0xffff) ^ (o.badHcrc ? 0x5555 : 0));
    header = Buffer.concat([header, crc16]);
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(zlib.crc32(data), 0);
  trailer.writeUInt32LE(data.length % 2 ** 32, 4);
  return Buffer.concat([header, zlib.deflateRawSync(data, { level: o.level ?? 6 }), trailer]);
}

/** Runs a command and returns its stdout as bytes (peers.run decodes to text); throws on failure. */
export function runBytes(cmd: string, args: string[], input?: Uint8Array): Buffer {
  const r = spawnSync(cmd, args, { maxBuffer: 1 << 30, ...(input ? { input } : {}) });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${String(r.stderr).trim()}`);
  return r.stdout;
}

/** Names in `dir`, sorted: for "nothing else was left behind" checks. */
export function listDir(dir: string): string[] {
  return readdirSync(dir).sort();
}

export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of stream) parts.push(c);
  return Buffer.concat(parts);
}

const GO_TOOL = `package main

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

func fail(err error) { fmt.Fprintln(os.Stderr, err); os.Exit(1) }

func main() {
	switch os.Args[1] {
	case "gunzip": // gunzip <file.gz>: prints "<sha256> <length>" of the decompressed data
		f, err := os.Open(os.Args[2])
		if err != nil { fail(err) }
		r, err := gzip.NewReader(f)
		if err != nil { fail(err) }
		h := sha256.New()
		n, err := io.Copy(h, r)
		if err != nil { fail(err) }
		fmt.Println(hex.EncodeToString(h.Sum(nil)), n)
	case "gzip": // gzip <in> <out> <name> <comment> <extra as hex>: one member with FNAME, FCOMMENT, FEXTRA
		in, err := os.ReadFile(os.Args[2])
		if err != nil { fail(err) }
		out, err := os.Create(os.Args[3])
		if err != nil { fail(err) }
		w, _ := gzip.NewWriterLevel(out, gzip.BestSpeed)
		extra, err := hex.DecodeString(os.Args[6])
		if err != nil { fail(err) }
		w.Name, w.Comment, w.Extra = os.Args[4], os.Args[5], extra
		if _, err := w.Write(in); err != nil { fail(err) }
		if err := w.Close(); err != nil { fail(err) }
		if err := out.Close(); err != nil { fail(err) }
	}
}
`;

/** Builds the Go gzip peer (compress/gzip) in `dir` and returns the binary's path. */
export function buildGoTool(dir: string): string {
  writeFileSync(join(dir, 'gotool.go'), GO_TOOL);
  const bin = join(dir, 'gotool');
  run('go', ['build', '-o', bin, join(dir, 'gotool.go')], { cwd: dir, env: { ...process.env, GOFLAGS: '-mod=mod', GO111MODULE: 'off' } });
  return bin;
}
