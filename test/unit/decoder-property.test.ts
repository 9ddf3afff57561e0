import { CUT_MARK } from '../../src/util/excerpt.js';
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { MAX_REPLY_DEPTH, ReplyDecoder, type DecoderEvent } from '../../src/qga/decoder.js';
import { SyncHandshake } from '../../src/qga/sync.js';

// Seeded and a few hundred runs by default; QGA_PLAY_FUZZ_RUNS=100000 (and QGA_PLAY_FUZZ_SEED) for long runs.
const runs = Number(process.env.QGA_PLAY_FUZZ_RUNS ?? 300);
const seed = Number(process.env.QGA_PLAY_FUZZ_SEED ?? 20_240_611);
const params = { numRuns: runs, seed };

const MAX = 4096;

/** Pieces a hostile or confused agent's stream is made of. */
const piece = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(`${JSON.stringify({ return: v })}\n`)),
  fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(`{"error": {"class": "GenericError", "desc": ${JSON.stringify(JSON.stringify(v))}}}\n`)),
  fc.constant(Buffer.from([0xff])),
  fc.string({ maxLength: 40 }).map((s) => Buffer.from(`${s}\n`)),
  fc.uint8Array({ maxLength: 60 }).map((a) => Buffer.from(a)),
  fc.constantFrom(Buffer.from([0xc3]), Buffer.from([0xe2, 0x82]), Buffer.from([0xf0, 0x9f, 0x98]), Buffer.from([0x80, 0xbf])),
  fc.integer({ min: 1, max: 3 * MAX_REPLY_DEPTH }).map((d) => Buffer.from(`{"return": ${'['.repeat(d)}${']'.repeat(d)}}\n`)),
  fc.integer({ min: MAX - 50, max: MAX + 50 }).map((n) => Buffer.from(`{"return": "${'A'.repeat(n)}"}\n`)),
);

/** Cut points for an arbitrary chunking of `length` bytes. */
const chunked = (input: Buffer, cuts: number[]): Buffer[] => {
  const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let last = 0;
  for (const p of [...points, input.length]) {
    chunks.push(input.subarray(last, p));
    last = p;
  }
  return chunks;
};

function decode(chunks: Buffer[]): { events: DecoderEvent[]; maxPending: number } {
  const decoder = new ReplyDecoder({ maxReplyBytes: MAX });
  const events: DecoderEvent[] = [];
  let maxPending = 0;
  for (const c of chunks) {
    events.push(...decoder.write(c));
    maxPending = Math.max(maxPending, decoder.pending);
  }
  return { events, maxPending };
}

// Where an oversize reply trips depends on the chunking; that it trips does not.
const normal = (events: DecoderEvent[]) => events.map((e) => (e.type === 'oversize' ? { type: 'oversize' } : e));

describe('ReplyDecoder properties', () => {
  test('any stream, any chunking: the same events as in one chunk, never a throw, memory within the cap', () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 40 }), (pieces, cuts) => {
        const input = Buffer.concat(pieces);
        const whole = decode([input]);
        const split = decode(chunked(input, cuts));
        expect(normal(split.events)).toEqual(normal(whole.events));
        expect(split.maxPending).toBeLessThanOrEqual(MAX);
        for (const e of whole.events) {
          if (e.type === 'reply') expect(e.text.length).toBeLessThanOrEqual(MAX);
          if (e.type === 'garbage') expect(e.text.length).toBeLessThanOrEqual(200 + CUT_MARK.length);
        }
      }),
      params,
    );
  });

  test('replies alone come out exactly, in order, one each, whatever the chunking', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue({ maxDepth: 5 }), { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 40 }), (values, cuts) => {
        const input = Buffer.from(values.map((v) => `${JSON.stringify({ return: v })}\n`).join(''));
        const { events } = decode(chunked(input, cuts));
        expect(events.map((e) => (e.type === 'reply' ? e.reply : e))).toEqual(values.map((v) => ({ return: JSON.parse(JSON.stringify(v)) as unknown })));
      }),
      params,
    );
  });
});

describe('SyncHandshake properties', () => {
  test('whatever stale bytes come first, the sync completes on the 0xFF and its own id, and not before', () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (stale, cuts) => {
        const handshake = new SyncHandshake(987_654_321_123);
        const answer = Buffer.concat([Buffer.from([0xff]), Buffer.from(`{"return": ${handshake.id}}\n`)]);
        const input = Buffer.concat([...stale, answer]);
        const decoder = new ReplyDecoder({ maxReplyBytes: MAX });
        let doneAt = -1;
        let offset = 0;
        for (const c of chunked(input, cuts)) {
          for (const e of decoder.write(c)) if (handshake.accept(e) === 'done' && doneAt === -1) doneAt = offset + c.length;
          offset += c.length;
        }
        expect(doneAt).toBeGreaterThan(input.length - answer.length);
      }),
      params,
    );
  });
});
