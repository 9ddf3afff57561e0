import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startHostAgents, type HostAgents } from '../helpers/host-agents.js';
import { runCli } from '../helpers/cli.js';
import { acquireLock, type JsonSummary } from '../../src/report/index.js';

// Real playbooks through the real CLI against real qemu-ga host agents (host-changing
// commands blocked). guest-exec runs on this host: echo only; files stay in a temp dir.
let agents: HostAgents;
let dir: string;
const N = 40;

beforeAll(async () => {
  agents = await startHostAgents(N);
  dir = mkdtempSync(path.join(os.tmpdir(), 'qga-run-'));
}, 120_000);

afterAll(async () => {
  await agents?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function writePlaybook(name: string, body: string): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, body);
  return file;
}

const socketTargets = (sockets: string[]) => sockets.map((s, i) => `  - vm: agent-${i}\n    socket: ${s}\n`).join('');

describe('qga-play run against host agents', () => {
  test('a fleet of agents plus one that is down: reports, JSON, exit 3', async () => {
    const file = writePlaybook(
      'fleet',
      `name: fleet\nconcurrency: 16\ntimeout: 10s\ntargets:\n${socketTargets(agents.sockets)}  - vm: dead\n    socket: ${dir}/nothing-here.sock\nsteps:\n  - ping\n  - info\n  - exec: { path: /bin/echo, args: [hello, fleet] }\n    expect: { exit-code: 0, stdout: "hello fleet\\n" }\n  - time-get\n`,
    );
    const reports = path.join(dir, 'fleet-reports');
    const r = await runCli(['run', file, '--report-dir', reports, '--format', 'json']);
    expect(r.exitCode).toBe(3);
    const summary = JSON.parse(r.stdout) as JsonSummary;
    expect(summary.totals).toEqual({ vms: N + 1, ok: N, failed: 0, unreachable: 1, canceled: 0 });
    const dead = summary.vms.find((v) => v.vm === 'dead')!;
    expect(dead.steps.map((s) => s.status)).toEqual(['unreachable', 'skipped', 'skipped', 'skipped']);
    expect(dead.steps[0]!.error).toMatchObject({ code: 'SOCKET_MISSING', message: expect.stringContaining('nothing-here.sock') });
    const one = summary.vms.find((v) => v.vm === 'agent-0')!;
    expect(one.transport).toBe('socket');
    expect(one.steps[2]!.result).toMatchObject({ exitCode: 0, stdout: 'hello fleet\n' });
    const offset = (one.steps[3]!.result as { offsetMs: number; errorBoundMs: number });
    // A host agent reads this host's clock: the offset is within the error bound of zero.
    expect(Math.abs(offset.offsetMs)).toBeLessThanOrEqual(offset.errorBoundMs + 1);
    for (const f of ['summary.json', 'junit.xml', 'agent-0.json', 'dead.json']) expect(existsSync(path.join(reports, f))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(reports, 'agent-7.json'), 'utf8'))).toMatchObject({ vm: 'agent-7', status: 'ok' });
  }, 60_000);

  test('file round trip: 3 MiB written from a local file and read back, in chunks', async () => {
    const local = path.join(dir, 'payload.bin');
    const data = randomBytes(3 * 1024 * 1024 + 123);
    writeFileSync(local, data);
    const file = writePlaybook(
      'files',
      `name: files\ntargets:\n  - vm: a\n    socket: ${agents.sockets[0]}\nsteps:\n  - file-write: { path: ${dir}/guest-copy.bin, from: ${local} }\n  - file-read: { path: ${dir}/guest-copy.bin, to: ${dir}/back.bin, max-size: 8MiB }\n  - file-read: { path: /etc/hostname }\n`,
    );
    const r = await runCli(['run', file, '--report-dir', path.join(dir, 'files-reports'), '--format', 'json']);
    expect(r.exitCode).toBe(0);
    expect(readFileSync(path.join(dir, 'back.bin')).equals(data)).toBe(true);
    const steps = (JSON.parse(r.stdout) as JsonSummary).vms[0]!.steps;
    expect(steps[0]!.result).toMatchObject({ bytes: data.length, calls: 4 });
    expect(steps[2]!.result).toMatchObject({ content: readFileSync('/etc/hostname', 'utf8') });
  }, 60_000);

  test('time-sync against a host agent fails clearly: guest-set-time is blocked, the host clock untouched', async () => {
    const file = writePlaybook(
      'timesync',
      `name: ts\ntargets:\n  - vm: host-agent\n    socket: ${agents.sockets[1]}\nsteps:\n  - time-sync: { threshold: 0ms, tolerance: 0ms, samples: 1 }\n`,
    );
    // Host agents read this machine's clock: a zero threshold forces an attempt to set it. The
    // agent blocks guest-set-time, so nothing is changed.
    const r = await runCli(['run', file, '--report-dir', path.join(dir, 'ts-reports'), '--format', 'json']);
    const step = (JSON.parse(r.stdout) as JsonSummary).vms[0]!.steps[0]!;
    expect(r.exitCode).toBe(1);
    expect(step.status).toBe('failed');
    expect(step.error).toMatchObject({ code: 'COMMAND_DISABLED', message: expect.stringContaining('guest-set-time is disabled') });
    expect(step.error!.message).toContain('clock not changed');
  }, 30_000);

  test('a playbook error: exit 2, file:line:column, nothing run', async () => {
    const file = writePlaybook('bad', `name: bad\ntargets:\n  - vm: a\n    socket: ${agents.sockets[0]}\nsteps:\n  - pingg\n`);
    const r = await runCli(['run', file, '--report-dir', path.join(dir, 'bad-reports')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${file}:6:5: unknown step kind \`pingg\`; did you mean \`ping\`?`);
    expect(existsSync(path.join(dir, 'bad-reports', 'summary.json'))).toBe(false);
  });

  test('a report directory locked by another run: exit 75 naming the holder', async () => {
    const reports = path.join(dir, 'locked-reports');
    const lock = await acquireLock(reports, { waitMs: 0 });
    try {
      const file = writePlaybook('locked', `name: locked\ntargets:\n  - vm: a\n    socket: ${agents.sockets[0]}\nsteps:\n  - ping\n`);
      const r = await runCli(['run', file, '--report-dir', reports, '--lock-wait', '200ms']);
      expect(r.exitCode).toBe(75);
      expect(r.stderr).toContain(lock.file);
      expect(r.stderr).toContain(String(process.pid));
    } finally {
      await lock.release();
    }
  });

  test('a secret never appears in reports, JUnit, metrics, JSON or the log, even when the guest echoes it', async () => {
    const secret = 'hunter2-s3cr3t-value';
    const stdinSecret = 'stdin-only-s3cr3t';
    const file = writePlaybook(
      'secret',
      `name: secret\ntargets:\n  - vm: a\n    socket: ${agents.sockets[0]}\nsteps:\n  - exec:\n      path: /bin/sh\n      args: [-c, 'echo "token=$TOKEN"; read line; echo "stdin=$line"; echo "$TOKEN" >&2; exit 4']\n      env: { TOKEN: { value: ${secret}, secret: true } }\n      stdin: { value: ${stdinSecret}, secret: true }\n`,
    );
    const reports = path.join(dir, 'secret-reports');
    const metrics = path.join(dir, 'secret.prom');
    const json = await runCli(['run', file, '--report-dir', reports, '--metrics', metrics, '--format', 'json']);
    const human = await runCli(['run', file, '--report-dir', reports, '--verbose']);
    expect(json.exitCode).toBe(1);
    const step = (JSON.parse(json.stdout) as JsonSummary).vms[0]!.steps[0]!;
    // The guest really received the secret (it echoed it back), and every output masks it.
    expect(step.result).toMatchObject({ exitCode: 4, stdout: 'token=***\nstdin=***\n', stderr: '***\n' });
    const outputs = [json.stdout, json.stderr, human.stdout, human.stderr, readFileSync(metrics, 'utf8')];
    for (const f of ['summary.json', 'junit.xml', 'a.json']) outputs.push(readFileSync(path.join(reports, f), 'utf8'));
    for (const text of outputs) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(stdinSecret);
    }
  }, 30_000);

  test('a secret quoted in a failed expectation is masked whole: quotes, backslashes, newlines, non-ASCII, longer than the cut', async () => {
    // Each secret is echoed by the guest into stdout, which a failing `matches` quotes (escaped, and cut at 80 characters).
    const secrets = {
      QUOTE: 'Pw"quote\\back-xyz7',
      NEWLINE: 'line-one\nline-two-Kq9',
      UNICODE: 'päss-wörd-ü-Ωmega-7',
      LONG: `012345Zq7-TOKEN-${'x7Y'.repeat(30)}-end`,
    };
    const yamlValue = (v: string) => JSON.stringify(v);
    const env = Object.entries(secrets).map(([k, v]) => `        ${k}: { value: ${yamlValue(v)}, secret: true }`).join('\n');
    // One step per secret, so that each is the start of the text the message quotes and cuts.
    const steps = Object.keys(secrets)
      .map((k) => `  - exec:\n      path: /bin/sh\n      args: [-c, 'printf "%s and more text after it to pass the cut" "$${k}"']\n      env:\n${env}\n    expect: { stdout: { matches: "^nope" } }\n    continue-on-error: true\n`)
      .join('');
    const file = writePlaybook('secret-cut', `name: secret-cut\ntargets:\n  - vm: a\n    socket: ${agents.sockets[1]}\nsteps:\n${steps}`);
    const reports = path.join(dir, 'secret-cut-reports');
    const metrics = path.join(dir, 'secret-cut.prom');
    const json = await runCli(['run', file, '--report-dir', reports, '--metrics', metrics, '--format', 'json']);
    const human = await runCli(['run', file, '--report-dir', reports, '--verbose', '--no-color']);
    const summary = JSON.parse(json.stdout) as JsonSummary;
    // The expectations really failed on what the guest echoed (so the messages quote it).
    expect(summary.vms[0]!.steps.map((s) => [s.status, s.error?.code])).toEqual(Object.keys(secrets).map(() => ['failed', 'EXPECTATION_FAILED']));
    expect(summary.vms[0]!.steps[0]!.error!.message).toMatch(/^stdout: expected to match \/\^nope\/, got "\*\*\* and more/);
    const outputs: Record<string, string> = {
      'json stdout': json.stdout,
      'json stderr': json.stderr,
      'human stdout': human.stdout,
      'human stderr': human.stderr,
      metrics: readFileSync(metrics, 'utf8'),
    };
    for (const f of ['summary.json', 'junit.xml', 'a.json']) outputs[f] = readFileSync(path.join(reports, f), 'utf8');
    for (const [where, text] of Object.entries(outputs)) {
      for (const secret of Object.values(secrets)) {
        // Any 8 characters of the secret, as written or escaped as JSON, is a leak.
        for (const form of [secret, JSON.stringify(secret).slice(1, -1)]) {
          for (let i = 0; i + 8 <= form.length; i++) {
            if (text.includes(form.slice(i, i + 8))) throw new Error(`${where} shows ${JSON.stringify(form.slice(i, i + 8))} of a secret:\n${text.slice(0, 3000)}`);
          }
        }
      }
    }
  }, 30_000);
});
