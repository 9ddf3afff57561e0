import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { runCli } from '../helpers/cli.js';
import { labDescribe, LAB_GUESTS, LAB_VARIANTS } from '../helpers/lab.js';
import { startHostAgents, type HostAgents } from '../helpers/host-agents.js';
import type { JsonSummary } from '../../src/report/index.js';

// Issues 4 and 5 on real guests: playbooks with exec, file round trips through virsh (chunked)
// and through a socket channel, targets that are down, and one run over the lab guests plus
// 200 host agents that leaves every report file.
let dir: string;
let agents: HostAgents;

labDescribe(describe)('playbooks on lab guests', () => {
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'qga-labrun-'));
    agents = await startHostAgents(200);
  }, 120_000);
  afterAll(async () => {
    await agents?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('exec, files both ways, queries; down targets are unreachable; exit 3', async () => {
    const payload = randomBytes(300 * 1024);
    writeFileSync(path.join(dir, 'payload.bin'), payload);
    const file = path.join(dir, 'lab.yaml');
    writeFileSync(
      file,
      `name: lab run
timeout: 30s
targets:
  - vm: "qgalab-[1-3]"
  - vm: ${LAB_VARIANTS.off}
  - vm: ${LAB_VARIANTS.noChannel}
steps:
  - wait-agent: { interval: 500ms }
    timeout: 6s
  - info
  - exec: { path: /bin/busybox, args: [uname, -r], env: { LANG: C } }
    expect: { exit-code: 0, stdout: { matches: "^6\\\\." } }
  - exec: { path: /bin/busybox, args: [sh, -c, "cat; echo err >&2; exit 3"], stdin: "from stdin\\n" }
    expect: { exit-code: 3, stdout: "from stdin\\n", stderr: "err\\n" }
  - file-write: { path: /tmp/payload.bin, from: payload.bin }
  - file-read: { path: /tmp/payload.bin, to: "back-{vm}.bin" }
  - file-read: { path: /etc/os-release }
    expect: { content: { contains: "qga-play lab guest" } }
  - network
  - osinfo
  - hostname
  - timezone
`,
    );
    const reports = path.join(dir, 'lab-reports');
    const r = await runCli(['run', file, '--report-dir', reports, '--format', 'json', '--concurrency', '3']);
    const summary = JSON.parse(r.stdout) as JsonSummary;
    const byVm = Object.fromEntries(summary.vms.map((v) => [v.vm, v]));
    for (const vm of LAB_GUESTS) {
      const steps = byVm[vm]!.steps;
      expect(steps.map((s) => [s.name, s.status])).toEqual(steps.map((s) => [s.name, 'ok']));
      expect(steps[4]!.result).toMatchObject({ bytes: payload.length });
      expect((steps[4]!.result as { calls: number }).calls).toBeGreaterThan(1); // virsh argv cap: 64 KiB chunks
      const nets = (steps[7]!.result as { interfaces: { name: string }[] }).interfaces.map((i) => i.name);
      expect(nets).toContain('lo');
    }
    // Each guest's copy comes back to a file of its own ({vm}), whole.
    for (const vm of LAB_GUESTS) expect(readFileSync(path.join(dir, `back-${vm}.bin`)).equals(payload)).toBe(true);
    expect(byVm[LAB_VARIANTS.off]!.steps[0]).toMatchObject({ status: 'timed-out' });
    expect(byVm[LAB_VARIANTS.off]!.steps[0]!.error!.message).toMatch(/domain is not running|did not answer/);
    expect(byVm[LAB_VARIANTS.noChannel]!.steps[0]!.error!.message).toMatch(/not configured/);
    expect(summary.totals).toMatchObject({ vms: 5, ok: 3, unreachable: 2, failed: 0 });
    expect(r.exitCode).toBe(3);
  }, 180_000);

  test('the lab guests and 200 host agents in one run leave every report file', async () => {
    const file = path.join(dir, 'mixed.yaml');
    const hostTargets = agents.sockets.map((s, i) => `  - vm: host-${String(i).padStart(3, '0')}\n    socket: ${s}\n`).join('');
    writeFileSync(
      file,
      `name: mixed fleet\nconcurrency: 32\ntimeout: 20s\ntargets:\n  - vm: "qgalab-[1-3]"\n  - vm: qgalab-1\n    channel: org.qemu.guest_agent.1\n${hostTargets}steps:\n  - ping\n  - info\n  - time-get\n  - exec: { path: /bin/echo, args: [ok] }\n`,
    );
    const reports = path.join(dir, 'mixed-reports');
    const metrics = path.join(dir, 'mixed.prom');
    const started = Date.now();
    const r = await runCli(['run', file, '--report-dir', reports, '--metrics', metrics, '--keep', '3']);
    const ms = Date.now() - started;
    console.log(`3 lab guests + 200 host agents, ping+info+time-get+exec at concurrency 32: ${ms} ms`);
    // qgalab-1 is matched by the glob and named with its .1 channel: its own entry wins.
    const summary = JSON.parse(readFileSync(path.join(reports, 'summary.json'), 'utf8')) as { totals: Record<string, number>; vms: { vm: string; report: string }[] };
    expect(summary.totals).toEqual({ vms: 203, ok: 203, failed: 0, unreachable: 0, canceled: 0 });
    const first = JSON.parse(readFileSync(path.join(reports, 'qgalab-1.json'), 'utf8')) as { transport: string; route: string };
    expect(first.transport).toBe('socket');
    expect(r.exitCode).toBe(0);
    for (const v of summary.vms) expect(existsSync(path.join(reports, v.report))).toBe(true);
    const junit = new XMLParser({ ignoreAttributes: false }).parse(readFileSync(path.join(reports, 'junit.xml'), 'utf8')) as { testsuites: { '@_tests': string; testsuite: unknown[] } };
    expect(junit.testsuites.testsuite).toHaveLength(203);
    expect(Number(junit.testsuites['@_tests'])).toBe(203 * 4);
    const prom = readFileSync(metrics, 'utf8');
    expect(prom.match(/^qga_play_agent_up\{/gm)).toHaveLength(203);
    expect(prom).toMatch(/^qga_play_clock_offset_seconds\{playbook="mixed fleet",vm="qgalab-2",connect="qemu:\/\/\/system"\} /m);
    expect(prom).toMatch(/^qga_play_run_duration_seconds\{playbook="mixed fleet"\} /m);
    expect(existsSync(path.join(reports, 'history'))).toBe(true);
    expect(r.stdout).toMatch(/203 VMs: 203 ok/);
  }, 180_000);
});
