import { describe, expect, test } from '@jest/globals';
import { describeRoute, resolveRoute, uriHost } from '../../src/inventory/route.js';
import { defaultSessions } from '../../src/inventory/provider.js';

// The route resolver decides, without I/O, how a run reaches each VM; the provider builds
// transports from it (test/integration/virsh-fake.test.ts, virsh-session.test.ts).
describe('resolveRoute', () => {
  test('the standard channel goes through virsh, in the run\'s virsh mode', () => {
    expect(resolveRoute({ uri: 'qemu:///system', domain: 'web-1' })).toEqual({ kind: 'virsh', uri: 'qemu:///system', domain: 'web-1', mode: 'session' });
    expect(resolveRoute({ uri: 'qemu:///system', domain: 'web-1', channel: 'org.qemu.guest_agent.0' }, 'process')).toMatchObject({ kind: 'virsh', mode: 'process' });
  });

  test('another channel: its socket here, over ssh for an ssh URI (with the URI\'s ssh parameters), no route for TLS/TCP', () => {
    expect(resolveRoute({ uri: 'qemu:///system', domain: 'a', channel: 'org.qemu.guest_agent.1' })).toEqual({ kind: 'socket', uri: 'qemu:///system', domain: 'a', channel: 'org.qemu.guest_agent.1' });
    expect(resolveRoute({ uri: 'qemu+ssh://root@hv2:2222/system?keyfile=/k&no_verify=1&command=/usr/local/bin/ssh', domain: 'a', channel: 'org.qemu.guest_agent.1', channelPath: '/run/a.sock' })).toEqual({
      kind: 'ssh-socket',
      uri: 'qemu+ssh://root@hv2:2222/system?keyfile=/k&no_verify=1&command=/usr/local/bin/ssh',
      domain: 'a',
      channel: 'org.qemu.guest_agent.1',
      path: '/run/a.sock',
      ssh: { host: 'root@hv2', options: ['-p', '2222', '-i', '/k', '-o', 'StrictHostKeyChecking=no'], command: '/usr/local/bin/ssh' },
    });
    const none = resolveRoute({ uri: 'qemu+tls://hv4/system', domain: 'a', channel: 'org.qemu.guest_agent.1' });
    expect(none).toMatchObject({ kind: 'none', reason: expect.stringContaining('qemu+ssh://') });
  });

  test('a socket given directly needs no libvirt, here or on an ssh host', () => {
    expect(resolveRoute({ uri: 'qemu:///system', domain: 'x', socket: '/run/x.sock' })).toEqual({ kind: 'socket', uri: 'qemu:///system', domain: 'x', path: '/run/x.sock' });
    expect(resolveRoute({ uri: 'qemu:///system', domain: 'x', socket: '/run/x.sock', ssh: 'root@hv9' })).toMatchObject({ kind: 'ssh-socket', path: '/run/x.sock', ssh: { host: 'root@hv9', options: [] } });
  });

  test('routes described for plans', () => {
    expect(describeRoute(resolveRoute({ uri: 'qemu:///system', domain: 'w' }))).toBe('virsh qemu-agent-command (org.qemu.guest_agent.0), shared virsh session');
    expect(describeRoute(resolveRoute({ uri: 'qemu:///system', domain: 'w' }, 'process'))).toBe('virsh qemu-agent-command (org.qemu.guest_agent.0), a virsh process per call');
    expect(describeRoute(resolveRoute({ uri: 'qemu:///system', domain: 'w', channel: 'org.qemu.guest_agent.1' }))).toBe('socket of channel org.qemu.guest_agent.1 (from dumpxml)');
    expect(describeRoute(resolveRoute({ uri: 'qemu+ssh://hv2/system', domain: 'w', channel: 'c.1', channelPath: '/p.sock' }))).toBe('socket /p.sock (channel c.1) on hv2 via ssh');
  });
});

describe('uriHost', () => {
  test('libvirt\'s ssh parameters become ssh options; IPv6 brackets are dropped; known_hosts and no_verify', () => {
    expect(uriHost('qemu+ssh://[::1]:22/system?known_hosts=/kh')).toEqual({ kind: 'ssh', host: '::1', options: ['-p', '22', '-o', 'UserKnownHostsFile=/kh'] });
    expect(uriHost('qemu+ssh://localhost/system')).toEqual({ kind: 'local' });
    expect(uriHost('not a uri')).toEqual({ kind: 'local' });
  });
});

describe('virsh sessions per URI when not told', () => {
  test('the concurrency, at most 8, and for a local hypervisor at most the CPU count', () => {
    expect(defaultSessions(16, false, 2)).toBe(2);
    expect(defaultSessions(16, true, 2)).toBe(8);
    expect(defaultSessions(16, false, 32)).toBe(8);
    expect(defaultSessions(3, false, 32)).toBe(3);
    expect(defaultSessions(3, true, 1)).toBe(3);
    expect(defaultSessions(1, false, 1)).toBe(1);
  });
});
