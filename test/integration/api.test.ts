import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startHostAgents, type HostAgents } from '../helpers/host-agents.js';
import { ROOT } from '../helpers/cli.js';
import * as api from '../../src/index.js';
import type { RunEvent, RunResult } from '../../src/index.js';

// The programmatic API against real qemu-ga host agents (host-changing commands blocked).
let agents: HostAgents;

beforeAll(async () => {
  agents = await startHostAgents(2);
}, 120_000);

afterAll(async () => {
  await agents?.stop();
});

const playbookText = (sockets: string[]) =>
  `name: api\ntimeout: 10s\ntargets:\n${sockets.map((s, i) => `  - vm: agent-${i}\n    socket: ${s}\n`).join('')}  - vm: dead\n    socket: /nonexistent/qga-api.sock\nsteps:\n  - ping\n  - exec: { path: /bin/echo, args: [hello, api] }\n    expect: { stdout: "hello api\\n" }\n`;

describe('src/index.ts: the programmatic API', () => {
  test('parsePlaybook + runPlaybook with a listener: results and every event, in order per VM', async () => {
    const { playbook } = api.parsePlaybook(playbookText(agents.sockets), '/api/playbook.yaml');
    const events: RunEvent[] = [];
    const result = await api.runPlaybook(playbook, { listener: (e) => events.push(e) });
    expect(result.totals).toEqual({ vms: 3, ok: 2, failed: 0, unreachable: 1, canceled: 0 });
    const agent0 = result.vms.find((v) => v.vm === 'agent-0')!;
    expect(agent0.steps.map((s) => s.status)).toEqual(['ok', 'ok']);
    expect(agent0.steps[1]!.result).toMatchObject({ exitCode: 0, stdout: 'hello api\n' });
    const dead = result.vms.find((v) => v.vm === 'dead')!;
    expect(dead.steps.map((s) => [s.status, s.error?.code])).toEqual([
      ['unreachable', 'SOCKET_MISSING'],
      ['skipped', undefined],
    ]);
    // What an error code means is the one mapping: an unreachable VM makes exit 3.
    expect(api.errorOutcome(new api.UnreachableError('x', 'SOCKET_MISSING'))).toEqual({ status: 'unreachable', exit: api.EXIT.unreachable });
    expect(events[0]?.type).toBe('run-start');
    expect(events.at(-1)).toEqual({ type: 'run-end', result });
    const forVm = (vm: string) => events.filter((e) => ('vm' in e && e.vm === vm) || (e.type === 'vm-end' && e.report.vm === vm)).map((e) => e.type);
    expect(forVm('agent-1')).toEqual(['vm-start', 'step-start', 'step-end', 'step-start', 'step-end', 'vm-end']);
  }, 60_000);

  test('a Reporter of your own gets the run, secrets masked, through reporters()', async () => {
    const { playbook } = api.parsePlaybook(playbookText(agents.sockets.slice(0, 1)), '/api/playbook.yaml');
    const seen: string[] = [];
    let ended: RunResult | undefined;
    const mine: api.Reporter = {
      onEvent: (e) => {
        if (e.type === 'step-end' && e.report.kind === 'exec') seen.push(String((e.report.result as { stdout?: string }).stdout));
        if (e.type === 'run-end') ended = e.result;
      },
    };
    const set = api.reporters([mine], { secrets: ['hello'] });
    const result = await api.runPlaybook(playbook, { listener: set.listener });
    expect(await set.finish()).toEqual([]);
    expect(seen).toEqual(['*** api\n']);
    expect(ended?.totals).toEqual(result.totals);
  }, 60_000);

  test('a bad playbook throws a PlaybookError, a UsageError: exit 2', () => {
    let caught: unknown;
    try {
      api.parsePlaybook('name: x\nsteps: []\n', '/api/bad.yaml');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(api.PlaybookError);
    expect(caught).toBeInstanceOf(api.UsageError);
    expect(api.errorOutcome(caught).exit).toBe(api.EXIT.usage);
  });
});

describe('the built package entry (npm run build runs before the integration tests)', () => {
  test("package.json's main, types and exports name files that exist", () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { main: string; types: string; exports: { '.': { types: string; import: string } } };
    for (const file of [pkg.main, pkg.types, pkg.exports['.'].types, pkg.exports['.'].import]) expect([file, existsSync(path.join(ROOT, file))]).toEqual([file, true]);
    expect(readFileSync(path.join(ROOT, pkg.types), 'utf8')).toContain('runPlaybook');
  });

  test("import from 'qga-play' runs a playbook against host agents and collects its events", async () => {
    const r = await execa(process.execPath, [path.join(ROOT, 'fixtures/api/run-playbook.mjs'), playbookText(agents.sockets)], { cwd: ROOT, reject: false });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const { events, result } = JSON.parse(r.stdout) as { events: string[]; result: RunResult };
    expect(result.totals).toEqual({ vms: 3, ok: 2, failed: 0, unreachable: 1, canceled: 0 });
    expect(events[0]).toBe('run-start');
    expect(events.at(-1)).toBe('run-end');
    expect(events.filter((e) => e === 'vm-end')).toHaveLength(3);
    expect(events.filter((e) => e === 'step-end')).toHaveLength(5);
  }, 60_000);
});
