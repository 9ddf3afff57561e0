import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SocketTransport } from '../../src/transport/socket.js';
import { sshConnector, quoteForRemoteShell } from '../../src/transport/ssh.js';
import { call } from '../../src/transport/transport.js';
import { UnreachableError } from '../../src/errors.js';
import { writeFileSync } from 'node:fs';
import { FAKE_BIN, runCli } from '../helpers/cli.js';
import type { JsonSummary } from '../../src/report/index.js';
import { startHostAgents, type HostAgents } from '../helpers/host-agents.js';

// The remote-socket route: `ssh HOST socat - UNIX-CONNECT:PATH`. A fake ssh on PATH hands the
// remote command to a local shell (as sshd would), so the quoting, socat and the resync all run
// for real against a real host qemu-ga.
let agents: HostAgents;
let dir: string;
const savedPath = process.env.PATH;

beforeAll(async () => {
  agents = await startHostAgents(1);
  dir = mkdtempSync(path.join(os.tmpdir(), 'qga ssh $dir '));
  process.env.PATH = `${FAKE_BIN}:${savedPath ?? ''}`;
}, 60_000);
afterAll(async () => {
  process.env.PATH = savedPath;
  await agents?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('socket through ssh + socat', () => {
  test('requests go through, on one ssh session, to a socket path that needs quoting', async () => {
    // A path with spaces and a dollar sign must reach socat intact through the remote shell.
    const odd = path.join(dir, 'agent $HOME 1.sock');
    symlinkSync(agents.sockets[0]!, odd);
    const log = path.join(dir, 'ssh.log');
    process.env.FAKE_SSH_LOG = log;
    const t = new SocketTransport({ path: `hv9:${odd}`, kind: 'ssh-socket', connector: sshConnector('root@hv9', odd) });
    try {
      expect(await call(t, 'guest-ping', undefined, { timeoutMs: 5000 })).toEqual({});
      const info = await call(t, 'guest-info', undefined, { timeoutMs: 5000 });
      expect(info.version).toMatch(/^\d/);
      expect(typeof (await call(t, 'guest-get-time', undefined, { timeoutMs: 5000 }))).toBe('number');
    } finally {
      await t.close();
      delete process.env.FAKE_SSH_LOG;
    }
    const sessions = readFileSync(log, 'utf8').trim().split('\n');
    expect(sessions).toHaveLength(1);
    // ConnectTimeout: a host that never answers costs the step's deadline, not ssh's own minutes.
    expect(sessions[0]).toMatch(/-o BatchMode=yes -o ConnectTimeout=\d+ -- root@hv9 socat - /);
  });

  test('an ssh that cannot connect is unreachable, with ssh\'s own words', async () => {
    const t = new SocketTransport({ path: 'down:/x.sock', kind: 'ssh-socket', connector: sshConnector('root@unreachable-host', '/x.sock') });
    const err = await call(t, 'guest-ping', undefined, { timeoutMs: 5000 }).catch((e: unknown) => e);
    await t.close();
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as Error).message).toMatch(/Connection refused/);
  });

  test('a missing remote socket is unreachable with socat\'s reason', async () => {
    const t = new SocketTransport({ path: 'hv9:/nope.sock', kind: 'ssh-socket', connector: sshConnector('hv9', path.join(dir, 'nope.sock')) });
    const err = await call(t, 'guest-ping', undefined, { timeoutMs: 5000 }).catch((e: unknown) => e);
    await t.close();
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as Error).message).toMatch(/nope\.sock.*No such file|No such file.*nope\.sock/);
  });

  test('quoting for the remote shell', () => {
    expect(quoteForRemoteShell('UNIX-CONNECT:/run/qga/a.sock')).toBe('UNIX-CONNECT:/run/qga/a.sock');
    expect(quoteForRemoteShell("a b'c")).toBe(`'a b'\\''c'`);
  });

  test('playbook targets: socket + ssh, and a qemu+ssh:// domain with a non-standard channel', async () => {
    const log = path.join(dir, 'ssh-cli.log');
    const file = path.join(dir, 'remote.yaml');
    writeFileSync(
      file,
      `name: remote\ntargets:\n  - vm: appliance\n    socket: ${agents.sockets[0]}\n    ssh: root@hv3\n  - vm: two-channels\n    connect: qemu+ssh://root@hv2/system\n    channel: org.qemu.guest_agent.1\nsteps:\n  - ping\n  - info\n`,
    );
    const r = await runCli(['run', file, '--format', 'json', '--report-dir', path.join(dir, 'reports')], {
      fakeVirsh: true,
      env: { FAKE_VIRSH_SOCKET: agents.sockets[0]!, FAKE_SSH_LOG: log },
    });
    const summary = JSON.parse(r.stdout) as JsonSummary;
    expect(summary.vms.map((v) => [v.vm, v.transport, v.status])).toEqual([
      ['appliance', 'ssh-socket', 'ok'],
      ['two-channels', 'ssh-socket', 'ok'],
    ]);
    expect(r.exitCode).toBe(0);
    const hosts = readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' -- ')[1]!.split(' ')[0]);
    expect(hosts.sort()).toEqual(['root@hv2', 'root@hv3']);
  });
});
