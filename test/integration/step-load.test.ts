import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { parsePlaybook } from '../../src/playbook/load.js';
import { runPlaybook } from '../../src/runner/run.js';
import { startHostAgents, type HostAgents } from '../helpers/host-agents.js';
import { startFakeAgent, wellBehaved, type FakeAgent } from '../helpers/fake-agent.js';

// The `load` step kind (guest-get-load, QEMU 10) through a real socket: a real host qemu-ga
// (7.2 here: it lacks the command) and the fake agent answering as a QEMU 10 agent does.
let agents: HostAgents;
let fake: FakeAgent;

beforeAll(async () => {
  agents = await startHostAgents(1);
  fake = await startFakeAgent((incoming, conn) => {
    // The reply shape of QEMU 10's qga/qapi-schema.json GuestLoadAverage.
    if (incoming.type === 'request' && incoming.execute === 'guest-get-load') conn.reply({ load1m: 0.08, load5m: 0.03, load15m: 0.01 });
    else wellBehaved(incoming, conn);
  });
}, 120_000);

afterAll(async () => {
  await agents?.stop();
  await fake?.stop();
});

async function loadStep(socket: string) {
  const { playbook } = parsePlaybook(`name: load\ntargets:\n  - vm: g\n    socket: ${socket}\nsteps:\n  - load\n`, '/tmp/load.yaml');
  const result = await runPlaybook(playbook, {});
  return result.vms[0]!.steps[0]!;
}

describe('load step kind', () => {
  test('a host qemu-ga without guest-get-load: the step fails COMMAND_NOT_FOUND, saying so', async () => {
    const step = await loadStep(agents.sockets[0]!);
    expect(step.status).toBe('failed');
    expect(step.error).toEqual({ code: 'COMMAND_NOT_FOUND', message: "the guest's agent does not know guest-get-load (too old, or not for this OS)" });
  });

  test('an agent with guest-get-load: the three load averages', async () => {
    const step = await loadStep(fake.path);
    expect(step.status).toBe('ok');
    expect(step.result).toEqual({ load1m: 0.08, load5m: 0.03, load15m: 0.01 });
  });
});
