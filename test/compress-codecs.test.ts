/**
 * The two gunzip codecs (node:zlib, the default, and fflate through its public API) against each
 * other: same output and summary for everything valid, and for damaged input the same error code and
 * message at every truncation point and for every kind of data after a member. The fflate codec
 * finds where the last member ends in a byte-by-byte tail and trailing garbage past that tail by the
 * trailer's ISIZE, so both are exercised at and around their limits.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { isBackupError } from '../src/errors.js';
import { CHUNK_SIZE, CompressPool, gunzipStream, gzipStream, type GunzipOptions, type GzipSummary } from '../src/compress/index.js';
import { collect, gzipMember, makeData, runBytes } from './helpers/gzip.js';
import { requirePeer } from './helpers/peers.js';

const pool = new CompressPool({ size: 2 });
after(() => pool.close());

const CODECS: [string, GunzipOptions][] = [
  ['zlib', {}],
  ['fflate in a worker', { codec: 'fflate', pool }],
  ['fflate on the calling thread', { codec: 'fflate', worker: false }],
];

type Outcome = { ok: true; out: Buffer; summary: GzipSummary } | { ok: false; code: string; message: string };

async function gunzipWith(gz: Uint8Array, options: GunzipOptions, pieceSize = 65536): Promise<Outcome> {
  const pieces = Array.from({ length: Math.ceil(gz.length / pieceSize) }, (_, i) => gz.subarray(i * pieceSize, (i + 1) * pieceSize));
  const s = gunzipStream(pieces, { ...options, name: 'x.gz' });
  try {
    const out = await collect(s);
    return { ok: true, out, summary: await s.summary };
  } catch (e) {
    if (!isBackupError(e)) throw e;
    // The inflaters word deflate errors differently: the rest of the message is ours.
    return { ok: false, code: e.code, message: e.message.replace(/near byte \d+: .*/, 'near byte N: ...') };
  }
}

/** Every codec gives the same outcome for `gz`; returns it. */
async function sameEverywhere(gz: Uint8Array, label: string, codecs = CODECS): Promise<Outcome> {
  const ref = await gunzipWith(gz, codecs[0]![1]);
  for (const [name, options] of codecs.slice(1)) {
    for (const pieceSize of [65536, 7]) {
      const o = await gunzipWith(gz, options, pieceSize);
      if (ref.ok && o.ok) {
        assert.ok(o.out.equals(ref.out), `${label}: ${name}, ${pieceSize}-byte pieces: same output`);
        assert.deepEqual(o.summary, ref.summary, `${label}: ${name}: same summary`);
      } else {
        assert.deepEqual(o, ref, `${label}: ${name}, ${pieceSize}-byte pieces`);
      }
      if (gz.length > 200_000) break; // byte-sized pieces only for small inputs
    }
  }
  return ref;
}

async function ourGzip(data: Uint8Array): Promise<Buffer> {
  return collect(gzipStream([data], { pool }));
}

describe('valid input: both codecs give the same bytes and summary', () => {
  test('our own output, text and random, around the 1 MiB chunk size', async () => {
    for (const size of [0, 1, 1000, CHUNK_SIZE + 1, 3 * CHUNK_SIZE]) {
      for (const kind of ['text', 'random'] as const) {
        const data = makeData(kind, size, size + 7);
        const r = await sameEverywhere(await ourGzip(data), `${kind} ${size}`);
        assert.ok(r.ok && r.out.equals(data));
      }
    }
  });

  test('members with every header field, concatenated, with an empty one among them', async () => {
    const d = makeData('text', 50_000, 3);
    const gz = Buffer.concat([
      gzipMember(d.subarray(0, 20_000), { name: 'a.db', mtime: 1 }),
      gzipMember(new Uint8Array(0)),
      gzipMember(d.subarray(20_000), { extra: Buffer.from('AB\x02\x00xy', 'latin1'), comment: 'c', hcrc: true }),
      gzipMember(d.subarray(0, 10), { level: 0 }),
    ]);
    const r = await sameEverywhere(gz, 'four members');
    assert.ok(r.ok && r.summary.members === 4 && r.out.equals(Buffer.concat([d, d.subarray(0, 10)])));
  });

  test('gzip -1/-9 and pigz -i (many small blocks) files', async (t) => {
    if (!requirePeer(t, 'gzip') || !requirePeer(t, 'pigz')) return;
    const data = Buffer.concat([makeData('text', 1_500_000, 5), makeData('random', 100_000, 6)]);
    for (const args of [['gzip', '-1'], ['gzip', '-9'], ['pigz', '-i', '-b', '128']]) {
      const r = await sameEverywhere(runBytes(args[0]!, [...args.slice(1), '-c'], data), args.join(' '));
      assert.ok(r.ok && r.out.equals(data), args.join(' '));
    }
  });

  test('highly compressible data: fflate output stays bounded per step too', async () => {
    const gz = await ourGzip(Buffer.concat([makeData('text', 3 * 1024 * 1024), makeData('zeros', 30 * 1024 * 1024)]));
    for (const [name, options] of CODECS) {
      let largest = 0;
      let total = 0;
      for await (const c of gunzipStream([gz], options)) {
        largest = Math.max(largest, c.length);
        total += c.length;
      }
      assert.equal(total, 33 * 1024 * 1024, name);
      assert.ok(largest <= 20 * 1024 * 1024, `${name}: largest output chunk ${largest} bytes`);
    }
  });
});

describe('damaged input: both codecs raise the same error', () => {
  // Three members, the last one small, so every truncation point near the end is cheap to try.
  const d = makeData('text', 6000, 11);
  const members = [gzipMember(d.subarray(0, 3000)), gzipMember(d.subarray(3000, 5900), { name: 'n' }), gzipMember(d.subarray(5900))];
  const gz = Buffer.concat(members);

  test('truncated at every length', async () => {
    const codes = new Set<string>();
    const boundaries = [members[0]!.length, members[0]!.length + members[1]!.length];
    for (let len = 0; len < gz.length; len++) {
      const o = await sameEverywhere(gz.subarray(0, len), `truncated to ${len}`, [CODECS[0]!, CODECS[2]!]);
      if (boundaries.includes(len)) {
        assert.ok(o.ok, `cut between two members: a valid file of fewer members (${len})`);
        continue;
      }
      assert.ok(!o.ok, `truncated to ${len} is an error`);
      codes.add(o.code);
    }
    assert.deepEqual([...codes], ['EGZIP_TRUNCATED']);
    await sameEverywhere(gz.subarray(0, gz.length - 3), 'truncated, worker');
  });

  test('any data after the last member, short or long, is rejected the same way', async () => {
    const tails: Buffer[] = [Buffer.of(0x1f), Buffer.of(0x1f, 0x8b), Buffer.of(0x1f, 0x8b, 8), Buffer.of(0x1f, 0x8b, 7, 0), members[2]!.subarray(0, 15)];
    for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 20, 50, 63, 64, 65, 70, 100, 1000, 20_000, 100_000]) {
      tails.push(Buffer.alloc(n), Buffer.alloc(n, 0x0a), makeData('random', n, n));
    }
    for (const tail of tails) {
      const label = `tail of ${tail.length} bytes starting ${tail.subarray(0, 4).toString('hex')}`;
      const o = await sameEverywhere(Buffer.concat([gz, tail]), label, tail.length > 1000 ? CODECS : [CODECS[0]!, CODECS[2]!]);
      assert.ok(!o.ok, label);
      if (tail[0] !== 0x1f) assert.match(o.message, /EGZIP_TRAILING|after the end of gzip member 3 at byte \d+/, label);
    }
  });

  test('garbage between two members is EGZIP_TRAILING after the first, at its exact offset', async () => {
    for (const n of [1, 8, 40, 200, 70_000]) {
      const bad = Buffer.concat([members[0]!, makeData('random', n, 99).fill(0x55, 0, 1), members[1]!]);
      const o = await sameEverywhere(bad, `${n} bytes of garbage`);
      assert.ok(!o.ok && o.code === 'EGZIP_TRAILING', `${n}: ${JSON.stringify(o)}`);
      assert.match(o.message, new RegExp(`after the end of gzip member 1 at byte ${members[0]!.length} `));
    }
  });

  test('a damaged trailer or header in any member', async () => {
    const at = (i: number) => members.slice(0, i).reduce((n, m) => n + m.length, 0);
    const cases: [string, number, string, number?][] = [
      ['CRC of member 1', at(1) - 8, 'EGZIP_CRC'],
      ['ISIZE of member 2', at(2) - 2, 'EGZIP_SIZE'],
      ['CRC of member 3', gz.length - 5, 'EGZIP_CRC'],
      ['ISIZE of member 3', gz.length - 1, 'EGZIP_SIZE'],
      ['magic of member 2', at(1) + 1, 'EGZIP_TRAILING'],
      ['method of member 3', at(2) + 2, 'EGZIP_CORRUPT'],
      ['flags of member 2 (reserved + FEXTRA)', at(1) + 3, 'EGZIP_CORRUPT'],
      ['flags of member 3 (reserved + FEXTRA)', at(2) + 3, 'EGZIP_CORRUPT'],
      ['flags of member 2 (reserved only)', at(1) + 3, 'EGZIP_CORRUPT', 0x80],
    ];
    for (const [label, pos, code, xor = 0x24] of cases) {
      const bad = Buffer.from(gz);
      bad[pos] ^= xor;
      const o = await sameEverywhere(bad, label);
      assert.ok(!o.ok && o.code === code, `${label}: ${JSON.stringify(o)}`);
    }
    // fflate reads a header with only a reserved flag as valid: here it goes on through that small
    // member into the next one within one push, and the check must still come first.
    const small = gzipMember(d.subarray(0, 50));
    small[3] = 0x80;
    const three = Buffer.concat([gzipMember(d.subarray(0, 1000)), small, gzipMember(d.subarray(1000, 3000)), gzipMember(d)]);
    const r = await sameEverywhere(three, 'small member with a reserved flag');
    assert.ok(!r.ok && r.code === 'EGZIP_CORRUPT' && /reserved header flag bits set \(flags 0x80\) \(member 2/.test(r.message), JSON.stringify(r));
    // A header whose name never ends: fflate waits for its end, we stop at 64 KiB.
    const endless = Buffer.concat([members[0]!, Buffer.of(0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 3), Buffer.alloc(300_000, 0x41)]);
    const o = await sameEverywhere(endless, 'endless FNAME');
    assert.ok(!o.ok && o.code === 'EGZIP_CORRUPT' && /longer than/.test(o.message), JSON.stringify(o));
  });

  test('damaged deflate data is an error for both (where it is caught may differ)', async () => {
    // zlib rejects some broken Huffman tables that fflate decodes until the CRC or the framing fails.
    for (const pos of [members[0]!.length + 12, 500, 20, gz.length - 30]) {
      const bad = Buffer.from(gz);
      bad[pos] ^= 0x24;
      for (const [name, options] of CODECS) {
        const o = await gunzipWith(bad, options);
        assert.ok(!o.ok, `flip at ${pos}, ${name}`);
      }
    }
  });

  test('an unknown codec is refused', () => {
    assert.throws(() => gunzipStream([], { codec: 'pako' as never }), RangeError);
  });
});
