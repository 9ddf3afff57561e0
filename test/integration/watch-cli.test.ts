import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { FAKE_BIN, ROOT, runCli } from '../helpers/cli.js';

// The real CLI process (built) with the fake virsh on PATH: signals as a service manager sends them.
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'qga-watch-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function setup(name: string, yaml: string) {
  const base = path.join(dir, name);
  mkdirSync(path.join(base, 'events'), { recursive: true });
  writeFileSync(path.join(base, 'events', 'stream'), 'wait never\n');
  const file = path.join(base, 'pb.yaml');
  writeFileSync(file, yaml);
  return { base, file, reports: path.join(base, 'reports'), env: { PATH: `${FAKE_BIN}:${process.env.PATH ?? ''}`, FAKE_VIRSH_EVENTS: path.join(base, 'events'), FAKE_VIRSH_OVERLAP_DIR: '' } };
}

function spawnWatch(args: string[], env: Record<string, string>) {
  const child = execa(process.execPath, [path.join(ROOT, 'bin/qga-play.js'), 'watch', ...args], { env: { ...process.env, ...env }, reject: false, all: false, buffer: true });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return { child, stderr: () => stderr };
}

async function until(what: string, cond: () => boolean, output: () => string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`waited ${ms} ms for: ${what}\n${output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const fetchText = (url: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });

describe('qga-play watch as a process', () => {
  test('SIGTERM: the run in flight finishes, reports and metrics are written, the lock released, exit 0', async () => {
    const s = setup('term', 'name: t\ntargets:\n  - vm: "web-*"\n  - vm: slow-1\nsteps:\n  - ping\n');
    const w = spawnWatch([s.file, '--report-dir', s.reports, '--metrics', path.join(s.base, 'm.prom'), '--listen', '0', '--stop-timeout', '20s'], { ...s.env, FAKE_VIRSH_SLOW: '3' });
    // web-1 and web-2 answer at once; slow-1 takes 3 s.
    await until('the server', () => /serving .* on http:\/\/127\.0\.0\.1:\d+/.test(w.stderr()), w.stderr);
    const url = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(w.stderr())![1]!;
    let metrics = '';
    for (const end = Date.now() + 20_000; !metrics.includes('reason="pass",status="ok"} 2') && Date.now() < end; ) {
      metrics = (await fetchText(`${url}/metrics`)).body;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(metrics).toContain('qga_play_watch_runs_in_flight{playbook="t"} 1');
    expect(existsSync(path.join(s.reports, '.qga-play.lock'))).toBe(true);
    w.child.kill('SIGTERM');
    const r = await w.child;
    expect(r.exitCode).toBe(0);
    expect(w.stderr()).toMatch(/stopping \(interrupted by SIGTERM\)/);
    expect(JSON.parse(readFileSync(path.join(s.reports, 'slow-1.json'), 'utf8'))).toMatchObject({ vm: 'slow-1', status: 'ok' });
    expect(JSON.parse(readFileSync(path.join(s.reports, 'summary.json'), 'utf8'))).toMatchObject({ totals: { vms: 3, ok: 3 } });
    expect(readFileSync(path.join(s.base, 'm.prom'), 'utf8')).toContain('qga_play_vm_status{playbook="t",vm="slow-1",connect="qemu:///system",status="ok"} 1');
    expect(existsSync(path.join(s.reports, '.qga-play.lock'))).toBe(false);
  });

  test('SIGTERM past --stop-timeout: the run in flight is canceled and reported so, still exit 0', async () => {
    const s = setup('term2', 'name: t\ntargets:\n  - vm: slow-1\nsteps:\n  - ping\n');
    const w = spawnWatch([s.file, '--report-dir', s.reports, '--stop-timeout', '300ms'], { ...s.env, FAKE_VIRSH_SLOW: '60' });
    await until('the first pass to start', () => w.stderr().includes('watching with playbook'), w.stderr);
    await new Promise((r) => setTimeout(r, 500));
    w.child.kill('SIGTERM');
    const r = await w.child;
    expect(r.exitCode).toBe(0);
    expect(w.stderr()).toMatch(/canceling them/);
    expect(JSON.parse(readFileSync(path.join(s.reports, 'slow-1.json'), 'utf8'))).toMatchObject({ status: 'canceled' });
  });

  test('SIGHUP re-reads the playbook; an invalid one is logged and the old one kept', async () => {
    const s = setup('hup', 'name: first\ntargets:\n  - vm: "web-*"\nsteps:\n  - ping\n');
    const w = spawnWatch([s.file, '--report-dir', s.reports, '--listen', '0'], s.env);
    await until('started', () => /full pass \(start\)/.test(w.stderr()), w.stderr);
    const url = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(w.stderr())![1]!;
    writeFileSync(s.file, 'name: second\ntargets:\n  - vm: db-1\nsteps:\n  - ping\n');
    w.child.kill('SIGHUP');
    await until('the reload', () => /reload: playbook "second"/.test(w.stderr()), w.stderr);
    expect((await fetchText(`${url}/healthz`)).body).toContain('"playbook":"second"');
    writeFileSync(s.file, 'name: third\ntargets:\n  - vm: db-1\nsteps:\n  - pingg\n');
    w.child.kill('SIGHUP');
    await until('the refused reload', () => /reload: .* is not valid; keeping the playbook in use/.test(w.stderr()), w.stderr);
    expect(w.stderr()).toMatch(/unknown step kind `pingg`/);
    expect((await fetchText(`${url}/healthz`)).body).toContain('"playbook":"second"');
    w.child.kill('SIGTERM');
    expect((await w.child).exitCode).toBe(0);
  });

  test('bad usage runs nothing: exit 2, reports untouched', async () => {
    const s = setup('usage', 'name: u\ntargets:\n  - vm: "web-*"\nsteps:\n  - ping\n');
    const listen = await runCli(['watch', s.file, '--report-dir', s.reports, '--listen', '0.0.0.0:9464'], { env: s.env });
    expect(listen.exitCode).toBe(2);
    expect(listen.stderr).toMatch(/not a loopback address/);
    writeFileSync(s.file, 'name: u\nevery: 0s\nwatch: { on: [resumed, paused] }\ntargets:\n  - vm: "web-*"\nsteps:\n  - ping\n');
    const bad = await runCli(['watch', s.file, '--report-dir', s.reports], { env: s.env });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/`every: 0s` must be more than 0/);
    expect(bad.stderr).toMatch(/watch\.on\[1\]: paused` must be one of resumed, restored, migrated, started, agent-connected/);
    expect(existsSync(s.reports)).toBe(false);
  });
});
