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
    ['load', 'guest-get-load', { load1: 0.5, load5: 0.25, load15: 0.125 }, { load1: 0.5, load5: 0.25, load15: 0.125 }],
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

  test('load keeps only the three numbers; anything else is a protocol error', async () => {
    const extra = await one('load', () => ok({ load1: 1, load5: 2, load15: 3, junk: 'x'.repeat(10) }));
    expect(extra.step.result).toEqual({ load1: 1, load5: 2, load15: 3 });
    const bad = await one('load', () => ok({ load1: '1', load5: 2 }));
    expect(bad.step.status).not.toBe('ok');
    expect(bad.step.error?.message).toContain('not {load1, load5, load15}');
  });
});
