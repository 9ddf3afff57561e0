import { describe, expect, test } from '@jest/globals';
import { agentError, ok, playbook, runWith } from '../helpers/memory-transport.js';

// Each query kind against the shared in-memory transport: the command it sends and the result it keeps.
const one = async (step: string, reply: (execute: string) => unknown) => {
  const { result, log } = await runWith(playbook(`  - ${step}\n`, ['a']), (_vm, req) => reply(req.execute));
  return { step: result.vms[0]!.steps[0]!, log };
};

describe('query step kinds', () => {
  test.each([
    ['info', 'guest-info', { version: '7.2.0', supported_commands: [{ name: 'guest-ping', enabled: true, 'success-response': true }, { name: 'guest-exec', enabled: false, 'success-response': true }] }, { version: '7.2.0', commands: 2, disabled: ['guest-exec'] }],
    ['network', 'guest-network-get-interfaces', [{ name: 'lo', 'hardware-address': '00:00:00:00:00:00', 'ip-addresses': [{ 'ip-address-type': 'ipv4', 'ip-address': '127.0.0.1', prefix: 8 }] }], { interfaces: [{ name: 'lo', mac: '00:00:00:00:00:00', addresses: ['127.0.0.1/8'] }] }],
    ['osinfo', 'guest-get-osinfo', { id: 'alpine' }, { id: 'alpine' }],
    ['hostname', 'guest-get-host-name', { 'host-name': 'g1' }, { hostname: 'g1' }],
    ['users', 'guest-get-users', [{ user: 'root', 'login-time': 1 }], { users: [{ user: 'root', 'login-time': 1 }] }],
    ['timezone', 'guest-get-timezone', { zone: 'UTC', offset: 0 }, { zone: 'UTC', offset: 0 }],
    ['fsinfo', 'guest-get-fsinfo', [{ name: 'vda1' }], { filesystems: [{ name: 'vda1' }] }],
    ['disks', 'guest-get-disks', [{ name: '/dev/vda' }], { disks: [{ name: '/dev/vda' }] }],
    ['load', 'guest-get-load', { load1m: 0.5, load5m: 0.25, load15m: 0.125 }, { load1m: 0.5, load5m: 0.25, load15m: 0.125 }],
  ])('%s sends %s and keeps %j', async (kind, command, reply, expected) => {
    const { step, log } = await one(kind, (execute) => (execute === command ? ok(reply) : agentError('GenericError', 'unexpected')));
    expect(log).toEqual([`a ${command}`]);
    expect(step.status).toBe('ok');
    expect(step.result).toEqual(expected);
  });

  test('ping keeps its round trip', async () => {
    const { step } = await one('ping', () => ok({}));
    expect(step.status).toBe('ok');
    expect(typeof (step.result as { rttMs: unknown }).rttMs).toBe('number');
  });

  test('load on an agent without guest-get-load (qemu-ga before 10): COMMAND_NOT_FOUND, named clearly', async () => {
    const { step } = await one('load', () => agentError('CommandNotFound', 'The command guest-get-load has not been found'));
    expect(step.status).toBe('failed');
    expect(step.error).toMatchObject({ code: 'COMMAND_NOT_FOUND', message: "the guest's agent does not know guest-get-load (too old, or not for this OS)" });
  });

  test('load keeps only the three numbers; a reply with other fields fails the step, naming what was missing', async () => {
    const extra = await one('load', () => ok({ load1m: 1, load5m: 2, load15m: 3, junk: 'x'.repeat(10) }));
    expect(extra.step.result).toEqual({ load1m: 1, load5m: 2, load15m: 3 });
    // The field names an earlier qga-play read: the agent answered, so the step failed (not unreachable).
    const bad = await one('load', () => ok({ load1: 1, load5: 2, load15: 3 }));
    expect(bad.step.status).toBe('failed');
    expect(bad.step.error).toEqual({ code: 'REPLY_SHAPE', message: 'guest-get-load answered a reply qga-play cannot read: return has no load1m' });
  });

  // Each typed kind given a reply of another shape: failed with REPLY_SHAPE naming the command, never ok, never unreachable.
  test.each([
    ['hostname', 'guest-get-host-name', 42, 'return is a number, not an object with host-name'],
    ['hostname', 'guest-get-host-name', { 'host-name': 7 }, 'return["host-name"] is a number, not a string'],
    ['network', 'guest-network-get-interfaces', { name: 'lo' }, 'return is an object, not a list'],
    ['network', 'guest-network-get-interfaces', [{ name: 'eth0', 'ip-addresses': [{ 'ip-address-type': 'ipv9', 'ip-address': '::1', prefix: 1 }] }], 'return[0]["ip-addresses"][0]["ip-address-type"] is another string, not one of "ipv4", "ipv6"'],
    ['users', 'guest-get-users', [{ name: 'root' }], 'return[0] has no user'],
    ['timezone', 'guest-get-timezone', { zone: 'UTC' }, 'return has no offset'],
    ['info', 'guest-info', { version: '7.2.0' }, 'return has no supported_commands'],
    ['fsinfo', 'guest-get-fsinfo', 'vda1', 'return is a string, not a list'],
    ['disks', 'guest-get-disks', null, 'return is null, not a list'],
    ['osinfo', 'guest-get-osinfo', ['debian'], 'return is a list, not an object'],
    ['fsthaw', 'guest-fsfreeze-thaw', '1', 'return is a string, not a whole number'],
    ['ping', 'guest-ping', 'pong', 'return is a string, not an object'],
  ])('%s given %s answering %j fails REPLY_SHAPE: %s', async (kind, command, reply, problem) => {
    const { step } = await one(kind, () => ok(reply));
    expect(step.status).toBe('failed');
    expect(step.error).toEqual({ code: 'REPLY_SHAPE', message: `${command} answered a reply qga-play cannot read: ${problem}` });
  });

  test('a reply of the wrong shape lets continue-on-error continue to the next step', async () => {
    const { result } = await runWith(playbook('  - hostname:\n    continue-on-error: true\n  - ping\n', ['a']), (_vm, req) => (req.execute === 'guest-get-host-name' ? ok(42) : ok({})));
    expect(result.vms[0]!.steps.map((s) => [s.status, s.error?.code])).toEqual([
      ['failed', 'REPLY_SHAPE'],
      ['ok', undefined],
    ]);
  });
});
