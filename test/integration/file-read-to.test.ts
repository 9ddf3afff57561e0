import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { startHostAgents, type HostAgents } from '../helpers/host-agents.js';
import type { JsonSummary } from '../../src/report/index.js';

// file-read `to:` over several real host agents (each reads this machine's /etc/os-release).
let agents: HostAgents;
let dir: string;
beforeAll(async () => {
  agents = await startHostAgents(2);
  dir = mkdtempSync(path.join(os.tmpdir(), 'qga-fr-'));
}, 120_000);
afterAll(async () => {
  await agents.stop();
  rmSync(dir, { recursive: true, force: true });
});

function playbook(name: string, to: string): string {
  const file = path.join(dir, `${name}.yaml`);
  const targets = agents.sockets.map((s, i) => `  - vm: vm-${i + 1}\n    socket: ${s}\n`).join('');
  writeFileSync(file, `name: ${name}\ntargets:\n${targets}steps:\n  - file-read: { path: /etc/os-release, to: "${to}" }\n`);
  return file;
}

test('{vm} gives each VM its own file, in directories created as needed', async () => {
  const r = await runCli(['run', playbook('ok', path.join(dir, 'out/{vm}/os-release')), '--format', 'json', '--report-dir', path.join(dir, 'r1')]);
  expect(r.exitCode).toBe(0);
  const expected = readFileSync('/etc/os-release', 'utf8');
  for (const vm of ['vm-1', 'vm-2']) expect(readFileSync(path.join(dir, 'out', vm, 'os-release'), 'utf8')).toBe(expected);
  const steps = (JSON.parse(r.stdout) as JsonSummary).vms.map((v) => v.steps[0]!.result);
  expect(steps).toEqual(expect.arrayContaining([expect.objectContaining({ to: path.join(dir, 'out/vm-1/os-release') })]));
});

test('one shared `to:` for many VMs is refused at check time, exit 2, nothing run', async () => {
  const file = playbook('shared', path.join(dir, 'shared-os-release'));
  const check = await runCli(['check', file]);
  expect(check.exitCode).toBe(2);
  expect(check.stderr).toMatch(/shared\.yaml:\d+:\d+: `to: .*shared-os-release` is one file for every VM .*put `\{vm\}` in it/);
  const run = await runCli(['run', file, '--report-dir', path.join(dir, 'r2')]);
  expect(run.exitCode).toBe(2);
});

test('a destination that cannot be written: the error names the real path, not a temporary file', async () => {
  writeFileSync(path.join(dir, 'a-file'), '');
  const r = await runCli(['run', playbook('bad', path.join(dir, 'a-file/{vm}/os-release')), '--format', 'json', '--report-dir', path.join(dir, 'r3')]);
  expect(r.exitCode).toBe(1);
  const error = (JSON.parse(r.stdout) as JsonSummary).vms[0]!.steps[0]!.error!;
  expect(error.code).toBe('LOCAL_WRITE_FAILED');
  expect(error.message).toMatch(new RegExp(`cannot write ${path.join(dir, 'a-file/vm-\\d/os-release').replace(/[/.]/g, '\\$&')}: ENOTDIR`));
  expect(error.message).not.toContain('.tmp');
});
