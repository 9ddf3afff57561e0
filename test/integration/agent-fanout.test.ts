import { describe, expect, test } from '@jest/globals';
import { runCli } from '../helpers/cli.js';

// `qga-play agent PATTERN JSON` against the fake virsh on PATH, whose running domains are set here.
const DOMAINS = 'web-1:running web-2:running web-3:running db-1:running not-connected:running not-found:running old:shut_off';
const agent = (pattern: string, extra: string[] = []) =>
  runCli(['agent', ...extra, pattern, '{"execute":"guest-ping"}'], { fakeVirsh: true, env: { FAKE_VIRSH_DOMAINS: DOMAINS } });
const lines = (stdout: string) => stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { vm: string; reply?: unknown; error?: { code: string; message: string } });

describe('agent fans out over a pattern', () => {
  test("a glob: one JSON line per running VM, each with the VM's name; exit 0", async () => {
    const r = await agent('web-*');
    expect(r.exitCode).toBe(0);
    expect(lines(r.stdout).sort((a, b) => a.vm.localeCompare(b.vm))).toEqual([
      { vm: 'web-1', reply: { return: { fake: true } } },
      { vm: 'web-2', reply: { return: { fake: true } } },
      { vm: 'web-3', reply: { return: { fake: true } } },
    ]);
    expect(r.stderr).toBe('');
  });

  test('a comma list with an exclusion, like --limit', async () => {
    const r = await agent('web-*,db-1,!web-2', ['--concurrency', '2']);
    expect(r.exitCode).toBe(0);
    expect(lines(r.stdout).map((l) => l.vm).sort()).toEqual(['db-1', 'web-1', 'web-3']);
  });

  test('an unreachable agent: its line carries the error, the others their replies; exit 3 as run', async () => {
    const r = await agent('web-1,not-connected');
    expect(r.exitCode).toBe(3);
    const byVm = Object.fromEntries(lines(r.stdout).map((l) => [l.vm, l]));
    expect(byVm['web-1']).toEqual({ vm: 'web-1', reply: { return: { fake: true } } });
    expect(byVm['not-connected']!.error).toMatchObject({ code: 'AGENT_NOT_CONNECTED', message: expect.stringContaining('not connected') });
    expect(r.stderr).toContain('qga-play: not-connected: ');
  });

  test('an agent error beats unreachable: exit 1 as run', async () => {
    const r = await agent('not-*');
    expect(r.exitCode).toBe(1);
    expect(lines(r.stdout).map((l) => l.vm).sort()).toEqual(['not-connected', 'not-found']);
  });

  test('a pattern that matches no running domain is bad usage: exit 2, nothing printed on stdout', async () => {
    const r = await agent('old*');
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('"old*" matches no running domain on qemu:///system');
  });

  test('a single plain domain keeps the old output: the reply alone', async () => {
    const r = await agent('web-1');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('{"return":{"fake":true}}\n');
  });
});
