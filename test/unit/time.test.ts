import { describe, expect, test } from '@jest/globals';
import { parsePlaybook } from '../../src/playbook/load.js';
import { runPlaybook } from '../../src/runner/run.js';
import type { RawReply } from '../../src/qga/protocol.js';
import { MemoryTransport } from '../helpers/memory-transport.js';
import { hostNowMs } from '../../src/util/clock.js';

/** A guest clock `offsetMs` off the host's, reached with a symmetric delay of `oneWayMs`. */
class SimulatedGuest extends MemoryTransport {
  offsetMs: number;
  sets: (number | undefined)[] = [];
  constructor(
    offsetMs: number,
    oneWayMs: number,
    onSet: (guest: SimulatedGuest, timeNs?: number) => RawReply['reply'] = (g, t) => {
      if (t !== undefined) g.offsetMs = t / 1e6 - hostNowMs();
      return { return: {} };
    },
  ) {
    const wait = (): Promise<void> => new Promise((r) => setTimeout(r, oneWayMs));
    super('sim', async (_vm, req) => {
      await wait();
      let reply: RawReply['reply'];
      if (req.execute === 'guest-get-time') reply = { return: Math.round((hostNowMs() + guest.offsetMs) * 1e6) };
      else if (req.execute === 'guest-set-time') {
        const t = (req.arguments as { time?: number } | undefined)?.time;
        guest.sets.push(t);
        reply = onSet(guest, t);
      } else reply = { return: {} };
      await wait();
      return reply;
    });
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const guest = this;
    this.offsetMs = offsetMs;
  }
}

async function sync(guest: SimulatedGuest, params = '') {
  const { playbook } = parsePlaybook(`name: t\ntargets:\n  - vm: g\n    socket: /sim\nsteps:\n  - time-sync${params ? `: { ${params} }` : ''}\n`, '/tmp/t.yaml');
  const result = await runPlaybook(playbook, { transportFor: () => guest });
  return result.vms[0]!.steps[0]!;
}

describe('time-get and time-sync against a simulated guest clock', () => {
  test('measures the offset within the error bound', async () => {
    const guest = new SimulatedGuest(37_000, 3);
    const { playbook } = parsePlaybook('name: t\ntargets:\n  - vm: g\n    socket: /sim\nsteps:\n  - time-get\n', '/tmp/t.yaml');
    const step = (await runPlaybook(playbook, { transportFor: () => guest })).vms[0]!.steps[0]!;
    const r = step.result as { offsetMs: number; errorBoundMs: number; samples: number };
    expect(r.samples).toBe(5);
    expect(r.errorBoundMs).toBeGreaterThan(2.5); // half the ~6 ms round trip (timers may fire a hair early)
    expect(Math.abs(r.offsetMs - 37_000)).toBeLessThanOrEqual(r.errorBoundMs);
  });

  test('sets a clock that is off, compensating half the round trip, and proves it', async () => {
    const guest = new SimulatedGuest(-120_000, 5);
    const step = await sync(guest);
    expect(step.status).toBe('ok');
    const r = step.result as Record<string, number | string>;
    expect(r.action).toBe('set');
    expect(Math.abs((r.offsetBeforeMs as number) + 120_000)).toBeLessThan(20);
    expect(Math.abs(r.offsetAfterMs as number)).toBeLessThan(r.toleranceMs as number);
    expect(Math.abs(guest.offsetMs)).toBeLessThan(5);
    expect(guest.sets).toHaveLength(1);
  });

  test('below the threshold nothing is set', async () => {
    const guest = new SimulatedGuest(40, 1);
    const step = await sync(guest);
    expect(step.result).toMatchObject({ action: 'none' });
    expect(guest.sets).toHaveLength(0);
  });

  test('measure-only reports the drift and changes nothing', async () => {
    const guest = new SimulatedGuest(5000, 1);
    const step = await sync(guest, 'measure-only: true');
    expect(step.status).toBe('ok');
    expect(step.result).toMatchObject({ action: 'none', note: expect.stringContaining('measure-only') });
    expect(guest.sets).toHaveLength(0);
    expect(guest.offsetMs).toBe(5000);
  });

  test('source rtc sends guest-set-time without a time', async () => {
    const guest = new SimulatedGuest(9000, 1, (g) => {
      g.offsetMs = 0.4;
      return { return: {} };
    });
    const step = await sync(guest, 'source: rtc');
    expect(step.status).toBe('ok');
    expect(guest.sets).toEqual([undefined]);
  });

  test('the clock changed but the agent reported an error (no hwclock): judged by the measurement after', async () => {
    const guest = new SimulatedGuest(3_600_000, 1, (g, t) => {
      g.offsetMs = t! / 1e6 - hostNowMs();
      return { error: { class: 'GenericError', desc: 'failed to execute child process "/sbin/hwclock": No such file or directory' } };
    });
    const step = await sync(guest);
    expect(step.status).toBe('ok');
    expect(step.result).toMatchObject({ action: 'set', setError: expect.stringContaining('hwclock'), note: expect.stringContaining('the clock was set') });
  });

  test('a guest that refuses and stays off fails, saying what the agent said', async () => {
    const guest = new SimulatedGuest(9000, 1, () => ({ error: { class: 'GenericError', desc: 'Time argument is required on this platform' } }));
    const step = await sync(guest, 'source: rtc');
    expect(step.status).toBe('failed');
    expect(step.error).toMatchObject({ code: 'CLOCK_NOT_SYNCED', message: expect.stringContaining('Time argument is required on this platform') });
    expect(step.result).toMatchObject({ action: 'set', offsetBeforeMs: expect.any(Number), offsetAfterMs: expect.any(Number) });
  });

  test('a blocked guest-set-time fails at once with a clear message, clock not changed', async () => {
    const guest = new SimulatedGuest(9000, 1, () => ({ error: { class: 'CommandNotFound', desc: 'Command guest-set-time has been disabled' } }));
    const step = await sync(guest);
    expect(step.status).toBe('failed');
    expect(step.error).toMatchObject({ code: 'COMMAND_DISABLED', message: expect.stringMatching(/guest-set-time is disabled.*clock not changed/) });
    expect(guest.offsetMs).toBe(9000);
  });
});
