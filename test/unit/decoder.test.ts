import { describe, expect, test } from '@jest/globals';
import { MAX_REPLY_DEPTH, nestingDepth, ReplyDecoder, type DecoderEvent } from '../../src/qga/decoder.js';
import { SyncHandshake } from '../../src/qga/sync.js';

const FF = Buffer.from([0xff]);
const b = (s: string): Buffer => Buffer.from(s, 'utf8');

function feed(input: Buffer, mode: 'whole' | 'bytewise', maxReplyBytes?: number): DecoderEvent[] {
  const decoder = new ReplyDecoder({ maxReplyBytes });
  if (mode === 'whole') return decoder.write(input);
  const events: DecoderEvent[] = [];
  for (let i = 0; i < input.length; i++) events.push(...decoder.write(input.subarray(i, i + 1)));
  return events;
}

const cases: { name: string; input: Buffer; expected: DecoderEvent[]; max?: number }[] = [
  {
    name: 'one reply',
    input: b('{"return": {}}\n'),
    expected: [{ type: 'reply', reply: { return: {} }, text: '{"return": {}}' }],
  },
  {
    name: 'many replies in one chunk',
    input: b('{"return": 1}\n{"return": "two"}\n{"error": {"class": "GenericError", "desc": "x"}}\n'),
    expected: [
      { type: 'reply', reply: { return: 1 }, text: '{"return": 1}' },
      { type: 'reply', reply: { return: 'two' }, text: '{"return": "two"}' },
      {
        type: 'reply',
        reply: { error: { class: 'GenericError', desc: 'x' } },
        text: '{"error": {"class": "GenericError", "desc": "x"}}',
      },
    ],
  },
  {
    name: 'a 0xFF sentinel drops the half reply before it',
    input: Buffer.concat([b('{"return": {"half'), FF, b('{"return": 42}\n')]),
    expected: [{ type: 'delimiter' }, { type: 'reply', reply: { return: 42 }, text: '{"return": 42}' }],
  },
  {
    name: 'garbage lines are reported, not thrown',
    input: b('hello\n{"neither": 1}\n{"return": true}\n'),
    expected: [
      { type: 'garbage', text: 'hello' },
      { type: 'garbage', text: '{"neither": 1}' },
      { type: 'reply', reply: { return: true }, text: '{"return": true}' },
    ],
  },
  {
    name: 'the tail of an earlier client\'s reply, then the sync answer',
    input: Buffer.concat([
      b('AAAAAAAA", "eof": false}}\n'),
      b('{"error": {"class": "GenericError", "desc": "JSON parse error, stray \'\\ufffd\'"}}\n'),
      FF,
      b('{"return": 7}\n'),
    ]),
    expected: [
      { type: 'garbage', text: 'AAAAAAAA", "eof": false}}' },
      {
        type: 'reply',
        reply: { error: { class: 'GenericError', desc: "JSON parse error, stray '\ufffd'" } },
        text: '{"error": {"class": "GenericError", "desc": "JSON parse error, stray \'\\ufffd\'"}}',
      },
      { type: 'delimiter' },
      { type: 'reply', reply: { return: 7 }, text: '{"return": 7}' },
    ],
  },
  {
    name: 'multibyte UTF-8 split across chunks',
    input: b('{"return": "h\u00e9llo \u2603"}\n'),
    expected: [{ type: 'reply', reply: { return: 'h\u00e9llo \u2603' }, text: '{"return": "h\u00e9llo \u2603"}' }],
  },
  {
    name: 'a reply over the cap is dropped and the stream recovers at the next line',
    input: b(`{"return": "${'x'.repeat(100)}"}\n{"return": 1}\n`),
    max: 64,
    expected: [{ type: 'oversize', bytes: 65 }, { type: 'reply', reply: { return: 1 }, text: '{"return": 1}' }],
  },
  {
    name: 'blank lines are ignored',
    input: b('\n\r\n{"return": {}}\r\n'),
    expected: [{ type: 'reply', reply: { return: {} }, text: '{"return": {}}' }],
  },
];

describe('ReplyDecoder', () => {
  for (const c of cases) {
    for (const mode of ['whole', 'bytewise'] as const) {
      test(`${c.name} (${mode})`, () => {
        const events = feed(c.input, mode, c.max);
        if (c.expected.some((e) => e.type === 'oversize')) {
          // The byte count at which the cap tripped depends on chunking; its presence does not.
          expect(events.map((e) => e.type)).toEqual(c.expected.map((e) => e.type));
          expect(events[1]).toEqual(c.expected[1]);
        } else {
          expect(events).toEqual(c.expected);
        }
      });
    }
  }

  test('an oversize reply is not buffered', () => {
    const decoder = new ReplyDecoder({ maxReplyBytes: 1024 });
    decoder.write(b('{"return": "'));
    for (let i = 0; i < 100; i++) decoder.write(Buffer.alloc(1000, 0x41));
    expect(decoder.pending).toBe(0);
    expect(decoder.write(b('\n{"return": 2}\n'))).toEqual([{ type: 'reply', reply: { return: 2 }, text: '{"return": 2}' }]);
  });

  const nested = (depth: number): string => `{"return": ${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;

  for (const mode of ['whole', 'bytewise'] as const) {
    test(`a reply nested deeper than ${MAX_REPLY_DEPTH} levels is refused at once; the stream recovers (${mode})`, () => {
      expect(feed(b(`${nested(MAX_REPLY_DEPTH)}\n`), mode)).toMatchObject([{ type: 'reply' }]);
      const events = feed(b(`${nested(MAX_REPLY_DEPTH + 1)}\n{"return": 3}\n`), mode);
      expect(events).toEqual([
        { type: 'too-deep', depth: MAX_REPLY_DEPTH + 1 },
        { type: 'reply', reply: { return: 3 }, text: '{"return": 3}' },
      ]);
    });

    test(`brackets inside strings, escaped quotes included, do not count as nesting (${mode})`, () => {
      const text = `{"return": "${'['.repeat(200)}\\"${'{'.repeat(200)}"}`;
      expect(feed(b(`${text}\n`), mode)).toEqual([{ type: 'reply', reply: JSON.parse(text) as unknown, text }]);
    });
  }

  test('a deep reply is neither buffered nor parsed: 3,000 levels and 16 MiB of them', () => {
    const decoder = new ReplyDecoder();
    const events = decoder.write(b(`{"return":${'['.repeat(3000)}`));
    expect(events).toEqual([{ type: 'too-deep', depth: MAX_REPLY_DEPTH + 1 }]);
    for (let i = 0; i < 16; i++) expect(decoder.write(Buffer.alloc(1024 * 1024, 0x5b))).toEqual([]);
    expect(decoder.pending).toBe(0);
    expect(decoder.write(b(`${']'.repeat(3000)}}\n{"return": 4}\n`))).toEqual([{ type: 'reply', reply: { return: 4 }, text: '{"return": 4}' }]);
  });

  test('a junk line is not buffered, only its first 200 characters are kept, the cut marked', () => {
    const decoder = new ReplyDecoder();
    for (let i = 0; i < 20; i++) expect(decoder.write(Buffer.alloc(1024 * 1024, 0x78))).toEqual([]);
    expect(decoder.pending).toBeLessThanOrEqual(1024);
    expect(decoder.write(b('\n'))).toEqual([{ type: 'garbage', text: `${'x'.repeat(200)}…` }]);
  });
});

describe('nestingDepth (replies that come whole, through virsh)', () => {
  test('counts brackets outside strings and stops past the limit', () => {
    expect(nestingDepth('{"return": {"a": [1, {"b": "[[[{{\\"]]"}]}}')).toBe(4);
    expect(nestingDepth('{"return": 1}')).toBe(1);
    expect(nestingDepth('[' .repeat(100_000))).toBe(MAX_REPLY_DEPTH + 1);
  });
});

describe('SyncHandshake', () => {
  const run = (handshake: SyncHandshake, input: Buffer, mode: 'whole' | 'bytewise'): boolean => {
    let done = false;
    for (const event of feed(input, mode)) {
      if (handshake.accept(event) === 'done') done = true;
    }
    return done;
  };

  test('sends 0xFF then guest-sync-delimited with its id', () => {
    const h = new SyncHandshake(1234);
    expect(h.bytes[0]).toBe(0xff);
    expect(JSON.parse(h.bytes.subarray(1).toString())).toEqual({ execute: 'guest-sync-delimited', arguments: { id: 1234 }, id: 'sync-1234' });
  });

  test('random ids differ', () => {
    expect(new SyncHandshake().id).not.toBe(new SyncHandshake().id);
  });

  for (const mode of ['whole', 'bytewise'] as const) {
    test(`skips stale replies, the parse error and a wrong id (${mode})`, () => {
      const h = new SyncHandshake(99);
      const input = Buffer.concat([
        b('{"return": 99}\n'), // right id but before any 0xFF: stale
        b('{"return": {"stale": 1}}\n'),
        FF,
        b('{"return": 5}\n'), // an earlier client's sync
        b('{"error": {"class": "GenericError", "desc": "JSON parse error"}}\n'),
        FF,
        b('{"return": 99}\n'),
      ]);
      expect(run(h, input, mode)).toBe(true);
      expect(h.discarded).toBe(4); // two stale lines, the wrong id, the parse error
    });

    test(`garbage after a 0xFF means waiting for the next 0xFF (${mode})`, () => {
      const h = new SyncHandshake(7);
      expect(run(h, Buffer.concat([FF, b('junk\n{"return": 7}\n')]), mode)).toBe(false);
      const h2 = new SyncHandshake(7);
      expect(run(h2, Buffer.concat([FF, b('junk\n'), FF, b('{"return": 7}\n')]), mode)).toBe(true);
    });

    test(`without the 0xFF nothing completes (${mode})`, () => {
      expect(run(new SyncHandshake(3), b('{"return": 3}\n'), mode)).toBe(false);
    });
  }
});
