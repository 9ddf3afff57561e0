import { afterAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { runCli } from '../helpers/cli.js';
import { labDescribe, LAB_URI, LAB_VARIANTS } from '../helpers/lab.js';
import type { JsonSummary } from '../../src/report/index.js';

// reboot and shutdown through the agent on a real guest, confirmed through libvirt. The guest
// is qgalab-off: started here, and shut off again by the playbook (or by the cleanup).
const VM = LAB_VARIANTS.off;
const virsh = (...args: string[]) => execa('virsh', ['-c', LAB_URI, ...args], { reject: false, stdin: 'ignore' });
let dir: string | undefined;

labDescribe(describe)('power steps on a lab guest', () => {
  afterAll(async () => {
    if ((await virsh('domstate', VM)).stdout.trim() !== 'shut off') await virsh('destroy', VM);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('wait-agent, reboot (agent gone and back), shutdown (domain shut off): exit 0', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'qga-power-'));
    expect((await virsh('start', VM)).exitCode).toBe(0);
    const file = path.join(dir, 'power.yaml');
    writeFileSync(
      file,
      `name: power\ntargets:\n  - vm: ${VM}\nsteps:\n  - wait-agent: { interval: 500ms }\n    timeout: 120s\n  - reboot:\n    timeout: 150s\n  - osinfo\n  - shutdown:\n    timeout: 90s\n`,
    );
    const r = await runCli(['run', file, '--format', 'json', '--report-dir', path.join(dir, 'reports')]);
    const steps = (JSON.parse(r.stdout) as JsonSummary).vms[0]!.steps;
    expect(steps.map((s) => [s.name, s.status])).toEqual([
      ['wait-agent', 'ok'],
      ['reboot', 'ok'],
      ['osinfo', 'ok'],
      ['shutdown', 'ok'],
    ]);
    expect(steps[1]!.result).toMatchObject({ confirmedBy: 'agent back, domain running', state: 'running' });
    expect(steps[3]!.result).toMatchObject({ confirmedBy: 'domain state', state: 'shut off' });
    expect(r.exitCode).toBe(0);
    expect((await virsh('domstate', VM)).stdout.trim()).toBe('shut off');
  }, 300_000);
});
