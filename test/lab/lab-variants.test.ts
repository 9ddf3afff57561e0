/**
 * The lab's fault guests and in-guest controls behave as the lab promises (docs/lab.md), so
 * transport and engine fault tests can rely on them:
 *   qgalab-noagent (no agent on .0), qgalab-nochannel (no agent channel), qgalab-off (shut off),
 *   /run/qgaN.pid (the running agent's pid) and /run/qgaN.norestart (keep agent N stopped).
 * Uses virsh and the raw test client only, not qga-play's transports.
 */
import { describe, expect, test } from '@jest/globals';
import { execa } from 'execa';
import {
  channelSocket,
  guestExec,
  LAB_GUESTS,
  LAB_MISSING_GUEST,
  LAB_URI,
  LAB_VARIANTS,
  labDescribe,
  qgaSocketRequest,
  virshAgentCommand,
} from '../helpers/lab.js';

const labSuite = labDescribe(describe);

async function virshPing(guest: string): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }> {
  const r = await execa('virsh', ['-c', LAB_URI, 'qemu-agent-command', guest, '{"execute":"guest-ping"}'], {
    reject: false,
    timeout: 30_000,
    stdin: 'ignore',
  });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

async function waitFor(what: string, ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

labSuite('lab fault guests', () => {
  test('qgalab-noagent: .0 is configured but not connected; .1 answers', async () => {
    const r = await virshPing(LAB_VARIANTS.noAgent);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('QEMU guest agent is not connected');
    expect(await qgaSocketRequest(channelSocket(LAB_VARIANTS.noAgent, 1), 'guest-ping')).toEqual({ return: {} });
  });

  test('qgalab-nochannel: no agent channel at all', async () => {
    const r = await virshPing(LAB_VARIANTS.noChannel);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('QEMU guest agent is not configured');
    const { stdout } = await execa('virsh', ['-c', LAB_URI, 'domstate', LAB_VARIANTS.noChannel]);
    expect(stdout.trim()).toBe('running');
  });

  test('qgalab-off: defined but shut off', async () => {
    const { stdout } = await execa('virsh', ['-c', LAB_URI, 'domstate', LAB_VARIANTS.off]);
    expect(stdout.trim()).toBe('shut off');
    const r = await virshPing(LAB_VARIANTS.off);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('domain is not running');
  });

  test('a missing domain', async () => {
    const r = await virshPing(LAB_MISSING_GUEST);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/failed to get domain|Domain not found/);
  });

  test('dumpxml shows both channels connected on a regular guest', async () => {
    const { stdout } = await execa('virsh', ['-c', LAB_URI, 'dumpxml', LAB_GUESTS[0] as string]);
    expect(stdout).toMatch(/name='org\.qemu\.guest_agent\.0' state='connected'/);
    expect(stdout).toMatch(/name='org\.qemu\.guest_agent\.1' state='connected'/);
  });
});

labSuite('lab in-guest agent controls', () => {
  const guest = LAB_GUESTS[LAB_GUESTS.length - 1] as string;
  const sock1 = channelSocket(guest, 1);

  test('/run/qga0.pid and /run/qga1.pid name the running qemu-ga processes', async () => {
    const r = await guestExec(sock1, '/bin/sh', ['-c', 'for n in 0 1; do cat /proc/$(cat /run/qga$n.pid)/comm; done']);
    expect(r.exitcode).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(['qemu-ga', 'qemu-ga']);
  });

  test('/run/qga0.norestart keeps the .0 agent stopped until removed', async () => {
    try {
      const r = await guestExec(sock1, '/bin/sh', ['-c', 'touch /run/qga0.norestart && kill $(cat /run/qga0.pid)']);
      expect(r.exitcode).toBe(0);
      await waitFor('.0 agent gone', async () => (await virshPing(guest)).stderr.includes('not connected'), 20_000);
    } finally {
      await guestExec(sock1, '/bin/rm', ['-f', '/run/qga0.norestart']);
    }
    await waitFor('.0 agent back', async () => (await virshPing(guest)).exitCode === 0, 30_000);
    expect(await virshAgentCommand(guest, { execute: 'guest-ping' })).toEqual({});
  }, 90_000);
});
