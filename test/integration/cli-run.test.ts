import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { FAKE_BIN, ROOT, runCli } from '../helpers/cli.js';
import { startFakeAgent, wellBehaved, type FakeAgent } from '../helpers/fake-agent.js';
import type { JsonSummary } from '../../src/report/index.js';

// Target resolution and the run command's edges, against the fake virsh on PATH (its domains:
// web-1, web-2, build-1, db-1, two-channels, no-channel running; old shut off).
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'qga-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function playbook(name: string, body: string): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, body);
  return file;
}

describe('targets and plans (fake virsh)', () => {
  const fleet = () =>
    playbook(
      'fleet',
      'name: fleet\ntargets:\n  - vm: "*"\n    exclude: ["build-*", "two-*", no-channel]\n  - vm: web-1\n  - vm: "nothing-*"\nsteps:\n  - ping\n',
    );

  test('--dry-run: globs over running domains, exclude, duplicates once, a glob matching nothing warned', async () => {
    const r = await runCli(['run', fleet(), '--dry-run'], { fakeVirsh: true });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/VMs \(3\):\n {2}web-1 .*\n {2}web-2 .*\n {2}db-1 /);
    expect(r.stdout).not.toContain('old');
    expect(r.stdout).not.toContain('build-1');
    expect(r.stdout).toMatch(/warning: .*fleet\.yaml:6: vm "nothing-\*" matches no running domain/);
    expect(r.stdout).toContain('Dry run: no agent command was sent.');
  });

  test('--dry-run resolves a non-standard channel to its socket, and says when it cannot', async () => {
    const file = playbook('chan', 'name: chan\ntargets:\n  - vm: two-channels\n    channel: org.qemu.guest_agent.1\n  - vm: no-channel\n    channel: org.qemu.guest_agent.1\nsteps:\n  - ping\n');
    const r = await runCli(['run', file, '--dry-run'], { fakeVirsh: true });
    expect(r.stdout).toContain('two-channels  qemu:///system  socket /run/fake/two-channels.1.sock (channel org.qemu.guest_agent.1, disconnected)');
    expect(r.stdout).toMatch(/no-channel .*PROBLEM: .*has no guest agent channel/);
    expect(r.exitCode).toBe(3);
  });

  test('a VM matched by a glob and named with its own entry takes its own route, wherever the entry stands', async () => {
    const file = playbook('override', 'name: o\ntargets:\n  - vm: "*"\n  - vm: two-channels\n    channel: org.qemu.guest_agent.1\nsteps:\n  - ping\n');
    const r = await runCli(['run', file, '--dry-run'], { fakeVirsh: true });
    expect(r.stdout).toContain('two-channels  qemu:///system  socket /run/fake/two-channels.1.sock');
    expect(r.stdout.match(/two-channels /g)).toHaveLength(1);
  });

  test('wait-agent gives up at once when waiting cannot help (no agent channel)', async () => {
    const file = playbook('wait', 'name: w\ntargets:\n  - vm: not-configured\nsteps:\n  - wait-agent:\n    timeout: 20s\n');
    const started = Date.now();
    const r = await runCli(['run', file, '--format', 'json', '--report-dir', path.join(dir, 'rw')], { fakeVirsh: true });
    expect(Date.now() - started).toBeLessThan(8000);
    expect(r.exitCode).toBe(3);
    expect((JSON.parse(r.stdout) as JsonSummary).vms[0]!.steps[0]).toMatchObject({ status: 'unreachable', error: { code: 'AGENT_NOT_CONFIGURED' } });
  });

  test('wait-agent on an agent that never connects times out saying what it saw', async () => {
    const file = playbook('wait2', 'name: w\ntargets:\n  - vm: not-connected\nsteps:\n  - wait-agent: { interval: 200ms }\n    timeout: 1s\n');
    const r = await runCli(['run', file, '--format', 'json', '--report-dir', path.join(dir, 'rw2')], { fakeVirsh: true });
    expect(r.exitCode).toBe(3);
    const step = (JSON.parse(r.stdout) as JsonSummary).vms[0]!.steps[0]!;
    expect(step.status).toBe('timed-out');
    expect(step.error!.message).toMatch(/agent did not answer within .* attempts; last: .*guest agent is not connected/);
  });

  test('a hypervisor that cannot be listed is one unreachable entry; the others run', async () => {
    const file = playbook('dead', 'name: dead\ntargets:\n  - vm: "web-*"\n  - vm: "*"\n    connect: qemu+ssh://root@dead/system\nsteps:\n  - ping\n');
    const r = await runCli(['run', file, '--format', 'json', '--report-dir', path.join(dir, 'rdead')], { fakeVirsh: true });
    expect(r.exitCode).toBe(3);
    const summary = JSON.parse(r.stdout) as JsonSummary;
    expect(summary.vms.map((v) => [v.vm, v.connect, v.status])).toEqual([
      ['web-1', 'qemu:///system', 'ok'],
      ['web-2', 'qemu:///system', 'ok'],
      ['*', 'qemu+ssh://root@dead/system', 'unreachable'],
    ]);
    expect(summary.vms[2]!.steps[0]!.error).toMatchObject({ code: 'LIBVIRT_UNAVAILABLE', message: expect.stringContaining('dead') });
    expect(r.stderr).toMatch(/dead\.yaml:4: cannot list the domains of qemu\+ssh:\/\/root@dead\/system/);
  });

  test('run with --limit and -c: only matching VMs, on the given connection', async () => {
    const r = await runCli(['run', fleet(), '--limit', 'web-*', '-c', 'qemu:///other', '--format', 'json', '--report-dir', path.join(dir, 'r1')], { fakeVirsh: true });
    expect(r.exitCode).toBe(0);
    const summary = JSON.parse(r.stdout) as JsonSummary;
    expect(summary.vms.map((v) => [v.vm, v.connect, v.transport])).toEqual([
      ['web-1', 'qemu:///other', 'virsh'],
      ['web-2', 'qemu:///other', 'virsh'],
    ]);
  });

  test('a plain name that does not exist is an unreachable target: exit 3', async () => {
    const file = playbook('ghost', 'name: ghost\ntargets:\n  - vm: web-1\n  - vm: ghost-vm\nsteps:\n  - ping\n  - info\n');
    const r = await runCli(['run', file, '--format', 'json', '--report-dir', path.join(dir, 'r2')], { fakeVirsh: true });
    expect(r.exitCode).toBe(3);
    const ghost = (JSON.parse(r.stdout) as JsonSummary).vms.find((v) => v.vm === 'ghost-vm')!;
    expect(ghost.status).toBe('unreachable');
    expect(ghost.steps.map((s) => s.status)).toEqual(['unreachable', 'skipped']);
    expect(ghost.steps[0]!.error).toMatchObject({ code: 'NO_SUCH_DOMAIN', message: expect.stringContaining('ghost-vm on qemu:///system') });
  });

  test('check: prints the plan and exits 0; a bad playbook exits 2 with every problem', async () => {
    const ok = await runCli(['check', fleet()], { fakeVirsh: true });
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toContain('glob * excluding build-*, two-*, no-channel');
    const bad = await runCli(['check', playbook('bad', 'name: x\ntargets:\n  - vm: a\n    conect: y\nsteps:\n  - exec: {}\n  - time-sync: { threshold: soon }\n')]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/bad\.yaml:4:5: unknown key `conect`.*did you mean `connect`/);
    expect(bad.stderr).toMatch(/bad\.yaml:6:\d+: .*path/);
    expect(bad.stderr).toMatch(/bad\.yaml:7:\d+: .*soon.* is not a duration/);
  });

  test('missing playbook file: exit 2 naming it', async () => {
    const r = await runCli(['run', path.join(dir, 'nope.yaml')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('nope.yaml');
  });

  test('list: domains, states, channels, transport, whether each agent answers', async () => {
    const r = await runCli(['list', '--format', 'json'], { fakeVirsh: true });
    expect(r.exitCode).toBe(0);
    const listed = JSON.parse(r.stdout) as { domains: { name: string; state: string; channels: { name: string; transport: string; answers?: boolean }[] }[] };
    const byName = Object.fromEntries(listed.domains.map((d) => [d.name, d]));
    expect(byName['web-1']!.channels).toEqual([expect.objectContaining({ name: 'org.qemu.guest_agent.0', transport: 'virsh', answers: true })]);
    expect(byName['two-channels']!.channels[1]).toMatchObject({ transport: 'socket', answers: false });
    expect(byName['old']).toMatchObject({ state: 'shut off' });
    expect(byName['old']!.channels[0]!.answers).toBeUndefined();
    const human = await runCli(['list'], { fakeVirsh: true });
    expect(human.stdout).toMatch(/^DOMAIN\s+STATE\s+CHANNEL\s+TRANSPORT\s+AGENT/);
    expect(human.stdout).toMatch(/no-channel\s+running\s+-\s+-\s+no agent channel/);
  });
});

describe('interrupting a run', () => {
  let agent: FakeAgent;
  beforeAll(async () => {
    // Answers the sync, never answers a ping: a guest whose agent hangs mid-run.
    agent = await startFakeAgent((incoming, conn) => {
      if (incoming.type === 'request' && incoming.execute === 'guest-ping') return;
      wellBehaved(incoming, conn);
    });
  });
  afterAll(() => agent.stop());

  test('SIGINT cancels in-flight steps, still writes the reports, exits 130', async () => {
    const file = playbook('hang', `name: hang\ntimeout: 1m\ntargets:\n  - vm: stuck\n    socket: ${agent.path}\nsteps:\n  - ping\n  - info\n`);
    const reports = path.join(dir, 'r-int');
    const child = execa(process.execPath, [path.join(ROOT, 'bin/qga-play.js'), 'run', file, '--report-dir', reports], {
      reject: false,
      env: { PATH: `${FAKE_BIN}:${process.env.PATH ?? ''}` },
    });
    const started = Date.now();
    while (agent.requests.length === 0 && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(Date.now() - started).toBeLessThan(10_000);
    const vm = JSON.parse(readFileSync(path.join(reports, 'stuck.json'), 'utf8')) as { status: string; steps: { status: string; error?: { message: string } }[] };
    expect(vm.status).toBe('canceled');
    expect(vm.steps.map((s) => s.status)).toEqual(['canceled', 'canceled']);
    expect(vm.steps[0]!.error?.message).toContain('SIGINT');
    expect(JSON.parse(readFileSync(path.join(reports, 'summary.json'), 'utf8'))).toMatchObject({ canceled: true, totals: { canceled: 1 } });
  }, 30_000);

  test('SIGINT through virsh sessions: the hung command is canceled, every session process is gone, exit 130', async () => {
    const file = playbook('hang-virsh', 'name: hang-virsh\ntimeout: 1m\ntargets:\n  - vm: hang\n  - vm: web-1\nsteps:\n  - ping\n  - info\n');
    const log = path.join(dir, 'virsh-sigint.log');
    const child = execa(process.execPath, [path.join(ROOT, 'bin/qga-play.js'), 'run', file, '--report-dir', path.join(dir, 'r-int-virsh')], {
      reject: false,
      env: { PATH: `${FAKE_BIN}:${process.env.PATH ?? ''}`, FAKE_VIRSH_LOG: log },
    });
    const started = Date.now();
    // Wait until the hung domain's command has reached a session.
    while (!(existsSync(log) && readFileSync(log, 'utf8').includes("STDIN:qemu-agent-command --timeout 60 -- 'hang'")) && Date.now() - started < 10_000) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const sessions = await execa('pgrep', ['-P', String(child.pid)], { reject: false });
    const pids = sessions.stdout.split('\n').filter(Boolean).map(Number);
    expect(pids.length).toBeGreaterThan(0);
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(130);
    // The run closed its provider: no virsh session it started is left (each checked by pid).
    const alive = pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
  }, 30_000);
});
