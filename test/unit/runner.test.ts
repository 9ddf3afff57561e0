import { describe, expect, test } from '@jest/globals';
import { agentError, ok, playbook, runWith, type Handler } from '../helpers/memory-transport.js';
import { CanceledError, TimeoutError, UnreachableError } from '../../src/errors.js';
import { parsePlaybook } from '../../src/playbook/load.js';
import { sessionDemand } from '../../src/runner/targets.js';
import { parseLimit } from '../../src/runner/limit.js';

const run = runWith;

const statuses = (r: Awaited<ReturnType<typeof run>>['result'], vm: string) => r.vms.find((v) => v.vm === vm)!.steps.map((s) => s.status);

describe('runner outcome rules', () => {
  test('steps run in order on each VM; every VM gets one transport, closed at the end', async () => {
    const { result, log, transports } = await run(playbook('  - ping\n  - hostname\n'), (_vm, req) =>
      req.execute === 'guest-get-host-name' ? ok({ 'host-name': 'h' }) : ok(),
    );
    expect(result.totals).toEqual({ vms: 2, ok: 2, failed: 0, unreachable: 0, canceled: 0 });
    expect(log.filter((l) => l.startsWith('a '))).toEqual(['a guest-ping', 'a guest-get-host-name']);
    expect(transports).toHaveLength(2);
    expect(transports.every((t) => t.closed)).toBe(true);
    expect(result.vms[0]!.steps[1]!.result).toEqual({ hostname: 'h' });
  });

  test('unreachable: the rest of the VM is skipped, other VMs go on, VM status unreachable', async () => {
    const { result } = await run(playbook('  - ping\n  - hostname\n  - ping\n'), (vm) => {
      if (vm === 'a') throw new UnreachableError('a is down', 'AGENT_NOT_CONNECTED');
      return ok({ 'host-name': 'b' });
    });
    expect(statuses(result, 'a')).toEqual(['unreachable', 'skipped', 'skipped']);
    expect(result.vms[0]!.steps[0]!.error).toEqual({ code: 'AGENT_NOT_CONNECTED', message: 'a is down' });
    expect(result.vms[0]!.status).toBe('unreachable');
    expect(statuses(result, 'b')).toEqual(['ok', 'ok', 'ok']);
  });

  test('failed: the rest is skipped unless continue-on-error', async () => {
    const handler: Handler = (_vm, req) => (req.execute === 'guest-get-host-name' ? agentError('GenericError', 'no hostname') : ok());
    const stop = await run(playbook('  - hostname\n  - ping\n', ['a']), handler);
    expect(statuses(stop.result, 'a')).toEqual(['failed', 'skipped']);
    expect(stop.result.vms[0]!.steps[0]!.error?.message).toContain('no hostname');
    const go = await run(playbook('  - hostname:\n    continue-on-error: true\n  - ping\n', ['a']), handler);
    expect(statuses(go.result, 'a')).toEqual(['failed', 'ok']);
    expect(go.result.vms[0]!.status).toBe('failed');
  });

  test('retries apply to unreachable and timed-out, not to failures', async () => {
    let pings = 0;
    const flaky = await run(playbook('  - ping:\n    retries: 3\n    retry-delay: 10ms\n', ['a']), () => {
      if (++pings < 3) throw new UnreachableError('not yet', 'AGENT_NOT_CONNECTED');
      return ok();
    });
    expect(flaky.result.vms[0]!.steps[0]).toMatchObject({ status: 'ok', attempts: 3 });
    let calls = 0;
    const failing = await run(playbook('  - hostname:\n    retries: 3\n    retry-delay: 10ms\n', ['a']), () => {
      calls++;
      return agentError('GenericError', 'nope');
    });
    expect(failing.result.vms[0]!.steps[0]).toMatchObject({ status: 'failed', attempts: 1 });
    expect(calls).toBe(1);
  });

  test('a step past its timeout is timed-out; the VM counts as unreachable', async () => {
    const { result } = await run(playbook('  - ping:\n    timeout: 100ms\n  - ping\n', ['a']), (_vm, _req, options) => {
      return new Promise((_resolve, reject) => setTimeout(() => reject(new TimeoutError('late', options.timeoutMs)), options.timeoutMs));
    });
    expect(statuses(result, 'a')).toEqual(['timed-out', 'skipped']);
    expect(result.vms[0]!.status).toBe('unreachable');
  });

  test('a step that ignores its deadline is still cut at the timeout', async () => {
    const started = Date.now();
    const { result } = await run(playbook('  - ping:\n    timeout: 150ms\n', ['a']), () => new Promise(() => undefined));
    expect(statuses(result, 'a')).toEqual(['timed-out']);
    expect(result.vms[0]!.steps[0]!.error?.message).toMatch(/timed out after 150 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test('expect decides ok or failed; exec fails on a non-zero exit unless the step has an expect', async () => {
    const exec: Handler = (_vm, req) =>
      req.execute === 'guest-exec' ? ok({ pid: 7 }) : ok({ exited: true, exitcode: 3, 'out-data': Buffer.from('hi\n').toString('base64') });
    const plain = await run(playbook('  - exec: { path: /bin/false }\n', ['a']), exec);
    expect(plain.result.vms[0]!.steps[0]).toMatchObject({ status: 'failed', error: { code: 'EXPECTATION_FAILED' } });
    expect(plain.result.vms[0]!.steps[0]!.result).toMatchObject({ pid: 7, exitCode: 3, stdout: 'hi\n', truncated: false });
    const expected = await run(playbook('  - exec: { path: /bin/false }\n    expect: { exit-code: 3, stdout: { matches: "^hi" } }\n', ['a']), exec);
    expect(expected.result.vms[0]!.steps[0]!.status).toBe('ok');
  });

  test('a command guest-info reports disabled fails at once, without sending it', async () => {
    const { result, log } = await run(playbook('  - info\n  - exec: { path: /bin/true }\n', ['a']), (_vm, req) =>
      req.execute === 'guest-info'
        ? ok({ version: '7.2', supported_commands: [{ name: 'guest-exec', enabled: false }, { name: 'guest-exec-status', enabled: true }] })
        : ok(),
    );
    expect(statuses(result, 'a')).toEqual(['ok', 'failed']);
    expect(result.vms[0]!.steps[1]!.error).toMatchObject({ code: 'COMMAND_DISABLED', message: expect.stringContaining('guest-exec is disabled') });
    expect(log).toEqual(['a guest-info']);
  });

  test('a disabled command the agent refuses is named as such', async () => {
    const { result } = await run(playbook('  - exec: { path: /bin/true }\n', ['a']), () => agentError('CommandNotFound', 'Command guest-exec has been disabled'));
    expect(result.vms[0]!.steps[0]!.error).toMatchObject({ code: 'COMMAND_DISABLED', message: expect.stringContaining('--allow-rpcs') });
  });

  test('concurrency bounds VMs at once', async () => {
    let running = 0;
    let most = 0;
    const targets = Array.from({ length: 12 }, (_, i) => `vm${i}`);
    await run(playbook('  - ping\n', targets), async () => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 20));
      running--;
      return ok();
    }, { concurrency: 3 });
    expect(most).toBe(3);
  });

  test('cancel: in-flight steps end canceled, the rest canceled, no retry after the abort', async () => {
    const controller = new AbortController();
    const targets = ['a', 'b', 'c', 'd'];
    let calls = 0;
    const promise = run(playbook('  - ping:\n    retries: 5\n  - ping\n', targets), () => {
      calls++;
      return new Promise(() => undefined);
    }, { signal: controller.signal, concurrency: 2 });
    setTimeout(() => controller.abort(new CanceledError('interrupted by SIGINT')), 100);
    const { result } = await promise;
    expect(result.canceled).toBe(true);
    for (const vm of targets) expect(statuses(result, vm)).toEqual(['canceled', 'canceled']);
    expect(result.totals.canceled).toBe(4);
    expect(calls).toBe(2);
  });

  test('events: run-start, vm and step events, run-end with the result', async () => {
    const { events, result } = await run(playbook('  - ping\n', ['a']), () => ok());
    expect(events.map((e) => e.type)).toEqual(['run-start', 'vm-start', 'step-start', 'step-end', 'vm-end', 'run-end']);
    expect(events.at(-1)).toEqual({ type: 'run-end', result });
  });

  test('an exec that timed out is not retried (that would start the program again), and keeps its pid', async () => {
    let execs = 0;
    const { result } = await run(playbook('  - exec: { path: /bin/sleep, args: ["100"] }\n    timeout: 300ms\n    retries: 2\n    retry-delay: 10ms\n', ['a']), (_vm, req) => {
      if (req.execute === 'guest-exec') {
        execs++;
        return ok({ pid: 42 });
      }
      // Each status call takes long, so the deadline lands during a call, not between polls.
      return new Promise((resolve) => setTimeout(() => resolve(ok({ exited: false })), 120));
    });
    const step = result.vms[0]!.steps[0]!;
    expect(step).toMatchObject({ status: 'timed-out', attempts: 1, result: { pid: 42 } });
    expect(step.error!.message).toMatch(/\/bin\/sleep \(pid 42\) still running/);
    expect(execs).toBe(1);
  });

  test('a failure before the program started is retried as usual', async () => {
    let execs = 0;
    const { result } = await run(playbook('  - exec: { path: /bin/true }\n    retries: 1\n    retry-delay: 10ms\n', ['a']), (_vm, req) => {
      if (req.execute === 'guest-exec' && ++execs === 1) throw new UnreachableError('not yet', 'AGENT_NOT_CONNECTED');
      return req.execute === 'guest-exec' ? ok({ pid: 1 }) : ok({ exited: true, exitcode: 0 });
    });
    expect(result.vms[0]!.steps[0]).toMatchObject({ status: 'ok', attempts: 2 });
  });

  test('a guest left frozen by a failed step is thawed before the run leaves it', async () => {
    const { result, log } = await run(playbook('  - fsfreeze\n  - hostname\n  - fsthaw\n', ['a']), (_vm, req) => {
      if (req.execute === 'guest-get-host-name') return agentError('GenericError', 'boom');
      return ok(1);
    });
    expect(statuses(result, 'a')).toEqual(['ok', 'failed', 'skipped', 'ok']);
    expect(result.vms[0]!.steps[3]!.name).toMatch(/fsthaw \(automatic/);
    expect(log).toEqual(['a guest-fsfreeze-freeze', 'a guest-get-host-name', 'a guest-fsfreeze-thaw']);
  });

  test('a canceled run still thaws; a thawed guest is left alone', async () => {
    const controller = new AbortController();
    const promise = run(playbook('  - fsfreeze\n  - ping\n  - fsthaw\n', ['a']), (_vm, req) => (req.execute === 'guest-ping' ? new Promise(() => undefined) : ok(1)), { signal: controller.signal });
    setTimeout(() => controller.abort(new CanceledError('interrupted by SIGTERM')), 50);
    const canceled = await promise;
    expect(canceled.log).toEqual(['a guest-fsfreeze-freeze', 'a guest-ping', 'a guest-fsfreeze-thaw']);
    const fine = await run(playbook('  - fsfreeze\n  - fsthaw\n', ['a']), () => ok(1));
    expect(fine.log).toEqual(['a guest-fsfreeze-freeze', 'a guest-fsfreeze-thaw']);
  });
});

describe('the virsh sessions a run starts ahead (sessionDemand)', () => {
  const targets = (yaml: string) => parsePlaybook(`name: t\nconnect: qemu:///system\ntargets:\n${yaml}steps:\n  - ping\n`, '/tmp/t.yaml').playbook.targets;

  test('one per named VM, the whole pool for a glob, one for a lookup, none for a socket', () => {
    const demand = sessionDemand(
      targets(
        '  - vm: a\n  - vm: b\n  - vm: c\n    channel: org.qemu.guest_agent.1\n  - vm: s\n    socket: /run/s.sock\n  - vm: "web-*"\n    connect: qemu+ssh://h/system\n',
      ),
    );
    expect(demand).toEqual(new Map([['qemu:///system', 3], ['qemu+ssh://h/system', Infinity]]));
  });

  test('named VMs a --limit leaves out start nothing', () => {
    expect(sessionDemand(targets('  - vm: a\n  - vm: b\n'), parseLimit('b'))).toEqual(new Map([['qemu:///system', 1]]));
    expect(sessionDemand(targets('  - vm: a\n'), parseLimit('zzz'))).toEqual(new Map());
  });
});
