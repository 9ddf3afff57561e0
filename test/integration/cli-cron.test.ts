import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT } from '../helpers/cli.js';
import { startHostAgents, type HostAgents } from '../helpers/host-agents.js';

// The README's cron line as cron runs it: an empty environment but HOME and a short PATH, the
// working directory $HOME, against real host qemu-ga agents.
let agents: HostAgents;
let home: string;
beforeAll(async () => {
  agents = await startHostAgents(2);
  home = mkdtempSync(path.join(os.tmpdir(), 'qga-cron-'));
}, 120_000);
afterAll(async () => {
  await agents.stop();
  rmSync(home, { recursive: true, force: true });
});

function playbook(name: string, sockets: string[]): string {
  const file = path.join(home, `${name}.yaml`);
  const targets = sockets.map((s, i) => `  - vm: guest-${i + 1}\n    socket: ${s}\n`).join('');
  writeFileSync(file, `name: ${name}\ntargets:\n${targets}steps:\n  - ping\n  - time-get\n`);
  return file;
}

function cron(args: string[]) {
  return execa('env', ['-i', `HOME=${home}`, 'PATH=/usr/bin:/bin', 'SHELL=/bin/sh', process.execPath, path.join(ROOT, 'bin/qga-play.js'), ...args], { cwd: home, reject: false });
}

describe('from cron', () => {
  test('--quiet and all well: no output at all (no mail), reports and metrics written', async () => {
    const file = playbook('timesync', agents.sockets);
    const reports = path.join(home, 'var/timesync');
    const metrics = path.join(home, 'textfile/qga-play-timesync.prom');
    mkdirSync(path.dirname(metrics), { recursive: true });
    const r = await cron(['run', file, '--quiet', '--report-dir', reports, '--metrics', metrics, '--lock-wait', '5m']);
    expect({ code: r.exitCode, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(JSON.parse(readFileSync(path.join(reports, 'summary.json'), 'utf8'))).toMatchObject({ totals: { vms: 2, ok: 2 } });
    expect(readFileSync(metrics, 'utf8')).toContain('qga_play_last_success_timestamp_seconds');
  });

  test('--quiet with a problem: only the problem lines and the final line, exit 3', async () => {
    const file = playbook('broken', [agents.sockets[0]!, path.join(home, 'no-such.sock')]);
    const r = await cron(['run', file, '--quiet', '--report-dir', path.join(home, 'var/broken')]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^guest-2\s+ping\s+unreachable\s+.*no-such\.sock/);
    expect(lines[1]).toMatch(/^guest-2\s+=>\s+unreachable/);
    expect(lines[2]).toMatch(/^2 VMs: 1 ok, 1 unreachable in /);
    expect(r.stdout).not.toContain('guest-1');
  });

  test('without --report-dir: root writes under /var/lib/qga-play/<playbook>, anyone else under ./qga-reports', async () => {
    const name = `cron-default-${process.pid}`;
    const file = playbook(name, agents.sockets.slice(0, 1));
    const expected = process.getuid?.() === 0 ? path.join('/var/lib/qga-play', name) : path.join(home, 'qga-reports', name);
    try {
      const r = await cron(['run', file, '--quiet']);
      expect(r.exitCode).toBe(0);
      expect(existsSync(path.join(expected, 'summary.json'))).toBe(true);
      if (process.getuid?.() === 0) expect(existsSync(path.join(home, 'qga-reports'))).toBe(false);
    } finally {
      if (expected.startsWith('/var/lib/qga-play/')) rmSync(expected, { recursive: true, force: true });
    }
  });
});
