import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { modes, replyLine, startFakeAgent, wellBehaved, type Behaviour, type FakeAgent } from '../helpers/fake-agent.js';
import type { JsonSummary } from '../../src/report/index.js';

// What a hostile guest sends, through the real CLI (built dist) against fake agents.
let dir: string;
const agents: FakeAgent[] = [];
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'qga-hostile-'));
});
afterAll(async () => {
  for (const a of agents) await a.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function agent(behaviour: Behaviour, onConnect?: Parameters<typeof startFakeAgent>[1]): Promise<string> {
  const a = await startFakeAgent(behaviour, onConnect);
  agents.push(a);
  return a.path;
}

function playbook(name: string, body: string): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, body);
  return file;
}

async function run(name: string, body: string): Promise<{ exitCode: number | undefined; summary: JsonSummary; reports: string[]; stderr: string }> {
  const reports = path.join(dir, `r-${name}`);
  const r = await runCli(['run', playbook(name, body), '--report-dir', reports, '--format', 'json']);
  let summary: JsonSummary;
  try {
    summary = JSON.parse(r.stdout) as JsonSummary;
  } catch {
    throw new Error(`not JSON on stdout (exit ${String(r.exitCode)}): ${r.stdout.slice(0, 300)}\n${r.stderr.slice(0, 2000)}`);
  }
  return { exitCode: r.exitCode, summary, reports: readdirSync(reports).sort(), stderr: r.stderr };
}

// Answers what the playbooks below ask; anything else as wellBehaved does.
const answering: Behaviour = (incoming, conn) => {
  if (incoming.type === 'request' && incoming.execute === 'guest-get-osinfo') conn.reply({ id: 'debian' });
  else if (incoming.type === 'request' && incoming.execute === 'guest-info') conn.reply({ version: '7.2.0', supported_commands: [] });
  else wellBehaved(incoming, conn);
};
const good = () => agent(answering);

describe('a hostile guest cannot stop the other VMs or fool the run', () => {
  test('a reply nested 3,000 levels deep fails that step on that VM; every report is written', async () => {
    const deep = await agent(modes.deepReply('guest-get-osinfo', 3000, modes.deepReply('guest-info', 3000, answering)));
    const r = await run(
      'deep',
      `name: deep\ntargets:\n  - vm: bad\n    socket: ${deep}\n  - vm: good\n    socket: ${await good()}\nsteps:\n  - osinfo:\n    continue-on-error: true\n  - agent: { execute: guest-info }\n    continue-on-error: true\n  - ping\n`,
    );
    expect(r.stderr).not.toContain('internal error');
    expect(r.reports).toEqual(['bad.json', 'good.json', 'junit.xml', 'summary.json']);
    const [bad, fine] = r.summary.vms;
    expect(bad!.steps.map((s) => [s.status, s.error?.code])).toEqual([
      ['failed', 'REPLY_TOO_DEEP'],
      ['failed', 'REPLY_TOO_DEEP'],
      ['ok', undefined],
    ]);
    expect(fine!.status).toBe('ok');
    expect(r.exitCode).toBe(1);
  });

  test("a guest flooding junk is closed as FLOODING and does not hold up another VM's steps", async () => {
    const flood = await agent(wellBehaved, modes.junkFlood);
    // The case: the good guest takes 20 readings of its clock, 3 s for the step, while the other floods.
    const timeGet = (incoming: Parameters<Behaviour>[0], conn: Parameters<Behaviour>[1]) => {
      if (incoming.type === 'request' && incoming.execute === 'guest-get-time') conn.reply(Date.now() * 1e6);
      else answering(incoming, conn);
    };
    const r = await run(
      'flood',
      `name: flood\ntimeout: 3s\ntargets:\n  - vm: bad\n    socket: ${flood}\n  - vm: good\n    socket: ${await agent(timeGet)}\nsteps:\n  - ping:\n    retries: 3\n    retry-delay: 10ms\n  - time-get: { samples: 20 }\n  - ping\n  - hostname\n  - ping\n`,
    );
    const [bad, fine] = r.summary.vms;
    expect(bad!.status).toBe('unreachable');
    expect(bad!.steps[0]!.error?.code).toBe('FLOODING');
    expect(fine!.steps.map((s) => s.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    // A figure for the note, not an assertion: the good guest's slowest step while the other floods.
    console.log(`[flood] good guest's slowest step: ${Math.max(...fine!.steps.map((s) => s.durationMs))} ms; flooding guest: ${bad!.steps[0]!.attempts} attempts, ${bad!.durationMs} ms`);
  });

  test("a duplicated reply is not taken as the next step's answer", async () => {
    const slowHostname: Behaviour = (incoming, conn) => {
      if (incoming.type === 'request' && incoming.execute === 'guest-get-host-name') setTimeout(() => wellBehaved(incoming, conn), 100);
      else wellBehaved(incoming, conn);
    };
    const r = await run('dup', `name: dup\ntargets:\n  - vm: d\n    socket: ${await agent(modes.duplicateReply(30, slowHostname))}\nsteps:\n  - ping\n  - hostname\n`);
    expect(r.summary.vms[0]!.steps[1]).toMatchObject({ status: 'ok', result: { hostname: 'fake' } });
  });

  test('a guest-get-time of 1e400 is a failed step (REPLY_SHAPE), not an ok step with no offset', async () => {
    const inf: Behaviour = (incoming, conn) => {
      if (incoming.type === 'request' && incoming.execute === 'guest-get-time') conn.write(replyLine({ return: 0 }, incoming.id).replace('0', '1e400'));
      else wellBehaved(incoming, conn);
    };
    const r = await run('inf', `name: inf\ntargets:\n  - vm: i\n    socket: ${await agent(inf)}\nsteps:\n  - time-get\n`);
    const step = r.summary.vms[0]!.steps[0]!;
    // The agent answered: the step ran and failed (not unreachable), saying what was wrong.
    expect(step.status).toBe('failed');
    expect(step.error).toEqual({ code: 'REPLY_SHAPE', message: 'guest-get-time answered a reply qga-play cannot read: return is not a finite number, not a whole number' });
  });

  test('a guest-exec reply without a pid fails at once, without polling pid undefined', async () => {
    const statusCalls: unknown[] = [];
    const noPid: Behaviour = (incoming, conn) => {
      if (incoming.type === 'request' && incoming.execute === 'guest-exec') conn.reply({});
      else if (incoming.type === 'request' && incoming.execute === 'guest-exec-status') {
        statusCalls.push(incoming.arguments);
        conn.reply({ exited: false });
      } else wellBehaved(incoming, conn);
    };
    const r = await run('nopid', `name: nopid\ntargets:\n  - vm: i\n    socket: ${await agent(noPid)}\nsteps:\n  - exec: { path: /bin/true }\n    timeout: 3s\n`);
    const step = r.summary.vms[0]!.steps[0]!;
    expect(step.status).not.toBe('timed-out');
    expect(step.error).toEqual({ code: 'REPLY_SHAPE', message: 'guest-exec answered a reply qga-play cannot read: return has no pid' });
    expect(statusCalls).toEqual([]);
  });
});

describe('no guest or playbook text reaches a terminal raw', () => {
  // eslint-disable-next-line no-control-regex
  const ESC = /[\u001b\u0007\u009b\u202e]/;

  test("agent: the agent's error desc is shown with its control characters made visible", async () => {
    const evil: Behaviour = (incoming, conn) => {
      if (incoming.type === 'request' && incoming.execute === 'guest-evil') conn.error('GenericError', 'x\u001b]0;pwned\u0007\u001b[2J\u202eright\u009b');
      else wellBehaved(incoming, conn);
    };
    const r = await runCli(['agent', '--socket', await agent(evil), '{"execute":"guest-evil"}']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).not.toMatch(ESC);
    expect(r.stderr).toContain('x\\x1b]0;pwned\\x07\\x1b[2J\\u202eright\\x9b');
    // stdout stays the same JSON value, with what a terminal would act on escaped.
    expect(r.stdout).not.toMatch(ESC);
    expect((JSON.parse(r.stdout) as { error: { desc: string } }).error.desc).toBe('x\u001b]0;pwned\u0007\u001b[2J\u202eright\u009b');
  });

  test('check: names with control characters are shown escaped', async () => {
    const file = playbook('escname', 'name: "n\\e[2J"\ntargets:\n  - vm: "evil\\e]0;t\\a\\u202e"\n    socket: /x.sock\nsteps:\n  - ping\n');
    const r = await runCli(['check', file]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toMatch(ESC);
    expect(r.stdout).toContain('evil\\x1b]0;t\\x07\\u202e');
  });

  test('check: a problem quoting control characters is shown escaped', async () => {
    const file = playbook('escbad', 'name: n\ntargets:\n  - vm: x\nsteps:\n  - "no\\e[2Jsuch"\n');
    const r = await runCli(['check', file]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).not.toMatch(ESC);
  });
});

test('replyLine echoes ids like qemu-ga', () => {
  expect(replyLine({ return: {} }, 'a')).toBe('{"return":{},"id":"a"}\n');
});
