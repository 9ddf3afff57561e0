/**
 * The host agents' -b list (scripts/lab/agents.sh) must equal HOST_CHANGING_COMMANDS: a host agent
 * acts on this machine, so a command missing from the list could set the host's clock or shut it
 * down. Needs only bash and qemu-ga, not the lab guests, so it also runs with QGA_PLAY_LAB=off.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execa } from 'execa';
import { HOST_CHANGING_COMMANDS } from '../../src/qga/agent-commands.js';
import { HOST_AGENT_BLOCKED, LAB_SCRIPT, startHostAgents, type HostAgents } from '../helpers/host-agents.js';
import { SocketTransport } from '../../src/transport/socket.js';
import { call } from '../../src/transport/transport.js';

describe('host agent blocklist', () => {
  test('lab.sh agents blocked equals HOST_CHANGING_COMMANDS', async () => {
    const { stdout } = await execa('bash', [LAB_SCRIPT, 'agents', 'blocked']);
    const lab = stdout.trim().split(',');
    expect([...lab].sort()).toEqual([...HOST_CHANGING_COMMANDS].sort());
    expect(new Set(lab).size).toBe(lab.length);
    expect(HOST_AGENT_BLOCKED).toEqual(HOST_CHANGING_COMMANDS);
  });

  test('every blocked command is one this qemu-ga knows (so -b really disables it)', async () => {
    const { stdout } = await execa('qemu-ga', ['-b', 'help']);
    const known = new Set(stdout.split('\n').map((s) => s.trim()));
    expect(HOST_CHANGING_COMMANDS.filter((c) => !known.has(c))).toEqual([]);
  });

  describe('a running host agent', () => {
    let agents: HostAgents;
    let qga: SocketTransport;
    const opts = { timeoutMs: 10_000 };
    beforeAll(async () => {
      agents = await startHostAgents(2);
      qga = new SocketTransport({ path: agents.sockets[1] as string });
    });
    afterAll(async () => {
      await qga?.close();
      await agents?.stop();
    });

    test('answers guest-ping', async () => {
      expect((await qga.request({ execute: 'guest-ping' }, opts))?.reply).toEqual({ return: {} });
    });

    test('guest-info lists every host-changing command as disabled and guest-exec as enabled', async () => {
      const info = await call(qga, 'guest-info', undefined, opts);
      const enabled = new Map(info.supported_commands.map((c) => [c.name, c.enabled]));
      for (const c of HOST_CHANGING_COMMANDS) expect([c, enabled.get(c)]).toEqual([c, false]);
      expect(enabled.get('guest-exec')).toBe(true);
    });

    test.each([...HOST_CHANGING_COMMANDS])('%s answers CommandNotFound "has been disabled"', async (command) => {
      const reply = (await qga.request({ execute: command }, opts))?.reply;
      expect(reply).toEqual({ error: { class: 'CommandNotFound', desc: `Command ${command} has been disabled` } });
    });
  });
});
