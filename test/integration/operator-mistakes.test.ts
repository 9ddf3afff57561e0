import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { runCli } from '../helpers/cli.js';
import { modes, startFakeAgent, type FakeAgent } from '../helpers/fake-agent.js';
import type { JsonSummary } from '../../src/report/index.js';
import { checkCommand } from '../../src/commands/check.js';
import { UsageError } from '../../src/errors.js';

// What a careless operator does: a --limit that matches nothing, reports on a full or read-only
// disk, a report directory that cannot be one. Fake virsh on PATH (web-1, web-2, build-1, db-1, ...).
let dir: string;
let agent: FakeAgent;
const mounts: string[] = [];
beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'qga-operator-'));
  agent = await startFakeAgent(modes.hugeReply('guest-get-host-name', 200_000));
});
afterAll(async () => {
  for (const m of mounts) await execa('umount', [m], { reject: false });
  await agent.stop();
  rmSync(dir, { recursive: true, force: true });
});

function playbook(name: string, body: string): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, body);
  return file;
}

const snapshot = (reports: string) => readdirSync(reports).sort().map((f) => [f, readFileSync(path.join(reports, f), 'utf8')]);

describe('--limit', () => {
  const fleet = () => playbook('fleet', 'name: fleet\ntargets:\n  - vm: "web-*"\n  - vm: db-1\nsteps:\n  - ping\n');

  test('matching nothing is a usage error before anything runs; the previous reports stay', async () => {
    const reports = path.join(dir, 'r-limit');
    expect((await runCli(['run', fleet(), '--report-dir', reports], { fakeVirsh: true })).exitCode).toBe(0);
    const before = snapshot(reports);
    const r = await runCli(['run', fleet(), '--report-dir', reports, '--limit', 'nomatch*'], { fakeVirsh: true });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--limit "nomatch\*" matches none of the playbook's VMs \("web-1", "web-2", "db-1"\)/);
    expect(snapshot(reports)).toEqual(before);
    for (const args of [['run', fleet(), '--dry-run', '--limit', 'x'], ['run', fleet(), '--limit', ',']]) {
      expect((await runCli(args, { fakeVirsh: true })).exitCode).toBe(2);
    }
  });

  test('comma lists, !exclusions and &intersections, as Ansible reads them', async () => {
    const vms = async (limit: string) => {
      const r = await runCli(['run', fleet(), '--limit', limit, '--format', 'json', '--report-dir', path.join(dir, 'r-lists')], { fakeVirsh: true });
      expect(r.exitCode).toBe(0);
      return (JSON.parse(r.stdout) as JsonSummary).vms.map((v) => v.vm);
    };
    expect(await vms('web-1,db-1')).toEqual(['web-1', 'db-1']);
    expect(await vms('!web-1')).toEqual(['web-2', 'db-1']);
    expect(await vms('*,!db-*')).toEqual(['web-1', 'web-2']);
    expect(await vms('*-1,&web-*')).toEqual(['web-1']);
    const dry = await runCli(['run', fleet(), '--dry-run', '--limit', '!web-*'], { fakeVirsh: true });
    expect(dry.stdout).toMatch(/VMs \(1\):\n {2}db-1 /);
  });
});

describe('report directory and metrics file problems', () => {
  const one = () => playbook('one', `name: one\ntargets:\n  - vm: a\n    socket: ${agent.path}\nsteps:\n  - ping\n`);

  test('a report directory that cannot be created: exit 2 before anything runs, saying why', async () => {
    const file = path.join(dir, 'plain-file');
    writeFileSync(file, 'x');
    for (const [reports, reason] of [
      [path.join(file, 'sub'), 'a part of the path is not a directory'],
      [file, 'exists and is not a directory'],
    ] as const) {
      const before = agent.requests.length;
      const r = await runCli(['run', one(), '--report-dir', reports]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain(`cannot write reports to ${reports}: ${reason}`);
      expect(r.stderr).not.toMatch(/internal error|Please report|\n\s+at /);
      expect(agent.requests.length).toBe(before);
    }
  });

  test('a metrics path that is a directory or in a missing directory: exit 2 before anything runs', async () => {
    for (const metrics of [dir, path.join(dir, 'missing', 'm.prom')]) {
      const before = agent.requests.length;
      const r = await runCli(['run', one(), '--report-dir', path.join(dir, 'r-m'), '--metrics', metrics]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain(`cannot write the metrics file ${metrics}`);
      expect(r.stderr).not.toMatch(/internal error|Please report/);
      expect(agent.requests.length).toBe(before);
    }
  });

  // Needs root (mount): tiny and read-only file systems are the real thing, not a chmod as root.
  const canMount = process.getuid?.() === 0;
  const tmpfs = async (name: string, options: string): Promise<string> => {
    const mountPoint = path.join(dir, name);
    mkdirSync(mountPoint);
    await execa('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', mountPoint]);
    mounts.push(mountPoint);
    return mountPoint;
  };

  (canMount ? test : test.skip)('a read-only report directory: exit 2, nothing run', async () => {
    const ro = await tmpfs('ro', 'size=64k');
    await execa('mount', ['-o', 'remount,ro', ro]);
    const before = agent.requests.length;
    const r = await runCli(['run', one(), '--report-dir', path.join(ro, 'reports')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('read-only file system');
    expect(agent.requests.length).toBe(before);
  });

  (canMount ? test : test.skip)('a disk that fills up: the summary is still shown, the path and reason named, exit 74', async () => {
    const full = await tmpfs('full', 'size=64k');
    chmodSync(full, 0o755);
    const file = playbook('big', `name: big\ntargets:\n  - vm: a\n    socket: ${agent.path}\nsteps:\n  - ping\n  - agent: { execute: guest-get-host-name }\n`);
    const r = await runCli(['run', file, '--report-dir', full, '--format', 'json']);
    expect(r.exitCode).toBe(74);
    expect((JSON.parse(r.stdout) as JsonSummary).vms[0]!.status).toBe('ok');
    expect(r.stderr).toMatch(new RegExp(`cannot write the reports to ${full}: no space left on device \\(ENOSPC`));
    expect(r.stderr).not.toMatch(/internal error|Please report|\n\s+at /);
    const human = await runCli(['run', file, '--report-dir', full]);
    expect(human.exitCode).toBe(74);
    expect(human.stdout).toMatch(/1 VM: 1 ok/);
  });
});

describe('check --limit (the value cli.ts passes)', () => {
  const io = () => {
    const out: string[] = [];
    return { out, io: { stdout: (t: string) => void out.push(t), stderr: (t: string) => void out.push(t), stderrStream: process.stderr, env: {} } };
  };

  test('plain names are filtered; a limit that leaves none is a usage error', async () => {
    const file = playbook('named', 'name: named\ntargets:\n  - vm: a\n    socket: /a.sock\n  - vm: b\n    socket: /b.sock\nsteps:\n  - ping\n');
    const ok = io();
    expect(await checkCommand({ playbook: file, limit: '!a' }, ok.io)).toBe(0);
    expect(ok.out.join('')).toMatch(/Targets \(1\):\n {2}vm b /);
    await expect(checkCommand({ playbook: file, limit: 'c*' }, io().io)).rejects.toMatchObject({ code: 'LIMIT_MATCHES_NOTHING' });
    await expect(checkCommand({ playbook: file, limit: 'a,,b' }, io().io)).rejects.toBeInstanceOf(UsageError);
  });
});

describe('agent option values', () => {
  test('a timeout past what a timer holds and a reply cap that is not a positive number are usage errors', async () => {
    const before = agent.requests.length;
    for (const [args, message] of [
      [['--timeout', '3000000'], /--timeout to be at most 2147483 seconds/],
      [['--max-reply', 'abc'], /--max-reply to be a positive whole number of bytes/],
      [['--max-reply=-5'], /--max-reply to be a positive whole number of bytes, got -5/],
      [['--max-reply', '0'], /--max-reply/],
    ] as const) {
      const r = await runCli(['agent', ...args, '--socket', agent.path, '{"execute":"guest-ping"}']);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect(agent.requests.length).toBe(before);
  });
});
