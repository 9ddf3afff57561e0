import { describe, expect, test } from '@jest/globals';
import { REPLY_SHAPES, replyProblem } from '../../../src/qga/agent-commands.js';
import { int, listOf, object, oneOf, optional, str } from '../../../src/qga/reply-shape.js';

describe('reply shapes', () => {
  test('a check names the path of the first thing wrong', () => {
    const shape = object({ name: str, items: listOf(object({ n: int, tag: optional(oneOf('a', 'b')) })) });
    expect(shape({ name: 'x', items: [{ n: 1 }, { n: 2, tag: 'a' }] }, 'return')).toBeUndefined();
    expect(shape({ name: 'x', items: [{ n: 1 }, { n: 2.5 }] }, 'return')).toBe('return.items[1].n is a number, not a whole number');
    expect(shape({ name: 'x', items: [{ n: 1, tag: 'c' }] }, 'return')).toBe('return.items[0].tag is another string, not one of "a", "b"');
    expect(shape({ items: [] }, 'return')).toBe('return has no name');
  });

  test('members the check does not read are left alone (newer agents add members)', () => {
    expect(replyProblem('guest-get-host-name', { 'host-name': 'g', extra: [1, 2] })).toBeUndefined();
  });

  test("a guest's string is never echoed in the problem (it may hold a secret)", () => {
    expect(replyProblem('guest-fsfreeze-status', 'Zq7-TOKEN')).not.toContain('Zq7');
  });

  test('1e400 (Infinity once parsed) is no time; nanoseconds past 2^53 are', () => {
    expect(replyProblem('guest-get-time', Infinity)).toBe('return is not a finite number, not a whole number');
    expect(replyProblem('guest-get-time', 1795711242128035000)).toBeUndefined();
  });

  // Recorded from qemu-ga 7.2 on the lab (README examples) and QEMU's qapi-schema.json: what real agents send passes.
  test.each([
    ['guest-get-time', 1795711242128035000],
    ['guest-info', { version: '7.2.0', supported_commands: [{ enabled: true, name: 'guest-ping', 'success-response': true }] }],
    ['guest-exec-status', { exited: true, exitcode: 0, 'out-data': 'aGkK' }],
    ['guest-network-get-interfaces', [{ name: 'lo', 'hardware-address': '00:00:00:00:00:00', 'ip-addresses': [{ 'ip-address-type': 'ipv4', 'ip-address': '127.0.0.1', prefix: 8 }], statistics: { 'rx-bytes': 0 } }]],
    ['guest-get-users', [{ user: 'root', 'login-time': 1795711242.5 }]],
    ['guest-get-load', { load1m: 0.08, load5m: 0.03, load15m: 0.01 }],
    ['guest-fsfreeze-status', 'thawed'],
  ] as const)('%s: a real reply passes', (command, value) => {
    expect(REPLY_SHAPES[command](value, 'return')).toBeUndefined();
  });
});
