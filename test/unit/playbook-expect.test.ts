import { describe, expect, test } from '@jest/globals';
import { compileMatcher, parseExpect } from '../../src/playbook/expect.js';
import { evaluateExpectations, SecretValue } from '../../src/playbook/index.js';

const result = {
  exitCode: 2,
  signal: null,
  stdout: 'Linux 6.1.0-18-amd64\n',
  truncated: false,
  offsetMs: 72.5,
  return: { version: '7.2.22', supported_commands: [{ name: 'guest-ping', enabled: true }] },
  tags: ['a', 'b'],
  token: new SecretValue('hidden'),
};

const check = (written: Record<string, unknown>) => evaluateExpectations(parseExpect(written), result);

describe('parseExpect', () => {
  test('plain values are eq; operator maps give one expectation each; exit-code is exitCode', () => {
    expect(parseExpect({ 'exit-code': 0, 'return.version': '7.2.22', offsetMs: { gt: -50, lt: 50 } })).toEqual([
      { path: ['exitCode'], op: 'eq', value: 0, text: 'exitCode == 0' },
      { path: ['return', 'version'], op: 'eq', value: '7.2.22', text: 'return.version == "7.2.22"' },
      { path: ['offsetMs'], op: 'gt', value: -50, text: 'offsetMs > -50' },
      { path: ['offsetMs'], op: 'lt', value: 50, text: 'offsetMs < 50' },
    ]);
    expect(parseExpect(undefined)).toEqual([]);
    expect(parseExpect({ tags: ['a', 'b'] })[0]).toMatchObject({ op: 'eq', value: ['a', 'b'] });
  });
});

describe('evaluateExpectations', () => {
  test('all hold: no messages', () => {
    expect(
      check({
        exitCode: 2,
        signal: null,
        truncated: false,
        'return.version': '7.2.22',
        'return.supported_commands.0.name': 'guest-ping',
        'return.supported_commands.length': 1,
        offsetMs: { gt: 70, ge: 72.5, lt: 73, le: 72.5, ne: 0 },
        stdout: { matches: '^Linux 6\\.', contains: 'amd64' },
        tags: { contains: 'b', eq: ['a', 'b'] },
        return: { eq: { version: '7.2.22', supported_commands: [{ name: 'guest-ping', enabled: true }] } },
      }),
    ).toEqual([]);
  });

  test('one message per expectation that does not hold', () => {
    expect(check({ 'exit-code': 0 })).toEqual(['exitCode: expected 0, got 2']);
    expect(check({ exitCode: { ne: 2 } })).toEqual(['exitCode: expected not 2, got 2']);
    expect(check({ offsetMs: { lt: 50, ge: 100 } })).toEqual(['offsetMs: expected < 50, got 72.5', 'offsetMs: expected >= 100, got 72.5']);
    expect(check({ 'return.version': '8.0' })).toEqual(['return.version: expected "8.0", got "7.2.22"']);
    expect(check({ stdout: { matches: '^Windows' } })).toEqual(['stdout: expected to match /^Windows/, got "Linux 6.1.0-18-amd64\\n"']);
    expect(check({ stdout: { matches: '/^linux/i' } })).toEqual([]);
    expect(check({ stdout: { contains: 'arm64' } })).toEqual(['stdout: expected to contain "arm64", got "Linux 6.1.0-18-amd64\\n"']);
    expect(check({ tags: { contains: 'c' } })).toEqual(['tags: expected to contain "c", got ["a","b"]']);
  });

  test('missing fields and wrong types say so', () => {
    expect(check({ 'return.nope': 1 })).toEqual(['return.nope: expected 1, got nothing (no such field in the result)']);
    expect(check({ 'tags.5': 'x' })).toEqual(['tags.5: expected "x", got nothing (no such field in the result)']);
    expect(check({ stdout: { gt: 3 } })).toEqual(['stdout: expected > 3, got "Linux 6.1.0-18-amd64\\n" (not a number)']);
    expect(check({ return: { matches: 'x' } })).toEqual(['return: expected to match /x/, got {"version":"7.2.22","supported_commands":[{"name":"guest-ping","enabled":true}]} (not text)']);
    expect(check({ stdout: 'x'.repeat(100) })[0]).toBe(`stdout: expected "${'x'.repeat(78)}…, got "Linux 6.1.0-18-amd64\\n"`);
    expect(check({ exitCode: { contains: 2 } })).toEqual(['exitCode: expected to contain 2, got 2 (not a string or a list)']);
    expect(evaluateExpectations(parseExpect({ x: 1 }), undefined)).toEqual(['x: expected 1, got nothing (no such field in the result)']);
  });

  test('a secret in a result is shown as ***', () => {
    expect(check({ token: 'hidden' })).toEqual(['token: expected "hidden", got "***"']);
  });

  test('is pure: the result is not changed', () => {
    const before = JSON.stringify(result);
    check({ exitCode: 0, 'return.version': { matches: '7' } });
    expect(JSON.stringify(result)).toBe(before);
  });
});

describe('matches runs in linear time (RE2 syntax)', () => {
  test('a pattern that backtracks exponentially in a backtracking engine returns at once', () => {
    // ^(\w+\s?)*$ against a long word and a stray character: 2^n paths for a backtracking engine.
    const hostile = { s: `${'a'.repeat(50_000)}!`, ok: 'one two three' };
    expect(evaluateExpectations(parseExpect({ s: { matches: '^(\\w+\\s?)*$' } }), hostile)).toHaveLength(1);
    expect(evaluateExpectations(parseExpect({ ok: { matches: '^(\\w+\\s?)*$' } }), hostile)).toEqual([]);
  });

  test('flags i, m, s; syntax RE2 does not have is refused when the playbook loads', () => {
    expect(check({ stdout: { matches: '/^LINUX/i' } })).toEqual([]);
    expect(check({ stdout: { matches: '/amd64$/m' } })).toEqual([]);
    expect(() => compileMatcher('(?=x)')).toThrow(/lookaround|Perl syntax|\(\?=/);
    expect(() => compileMatcher('(a)\\1')).toThrow();
    expect(() => compileMatcher('/x/g')).toThrow(/flag g/);
  });
});
