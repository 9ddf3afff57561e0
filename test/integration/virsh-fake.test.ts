import { afterAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VirshTransport } from '../../src/transport/virsh.js';
import { classifyVirshError } from '../../src/libvirt/virsh-cli.js';
import { call } from '../../src/transport/transport.js';
import { discoverDomain } from '../../src/inventory/channels.js';
import { uriHost } from '../../src/inventory/route.js';
import { TransportProvider } from '../../src/inventory/provider.js';
import { AgentError, CanceledError, TimeoutError, UnreachableError } from '../../src/errors.js';
import { FAKE_VIRSH, runCli } from '../helpers/cli.js';
import { startFakeAgent, wellBehaved } from '../helpers/fake-agent.js';

const URI = 'qemu:///system';
const transport = (domain: string) => new VirshTransport({ uri: URI, domain, virsh: FAKE_VIRSH });
const ping = (domain: string, timeoutMs = 5000) => transport(domain).request({ execute: 'guest-ping' }, { timeoutMs });

describe('virsh transport outcome classification (fake virsh)', () => {
  test('a reply is returned with its text, and a host-side bracket around the command as its window', async () => {
    const before = performance.timeOrigin + performance.now();
    const raw = await ping('ok-1');
    const after = performance.timeOrigin + performance.now();
    expect(raw).toMatchObject({ text: '{"return":{"fake":true}}', reply: { return: { fake: true } } });
    // Not virsh's own -t figure (it can arrive late on a busy host): from start to output, as seen here.
    expect(raw!.window!.startMs).toBeGreaterThanOrEqual(before);
    expect(raw!.window!.endMs).toBeLessThanOrEqual(after);
    expect(raw!.window!.endMs).toBeGreaterThan(raw!.window!.startMs);
  });

  test('the request reaches virsh as one argument, intact', async () => {
    const log = path.join(mkdtempSync(path.join(os.tmpdir(), 'virsh-log-')), 'log');
    process.env.FAKE_VIRSH_LOG = log;
    try {
      const args = { path: "/bin/echo", arg: ["it's", '$(reboot)', 'a "b"', 'x y'] };
      const reply = await transport('echo-1').request({ execute: 'guest-exec', arguments: args }, { timeoutMs: 5000 });
      expect(reply?.reply).toEqual({ return: { execute: 'guest-exec', arguments: args } });
      const argv = readFileSync(log, 'utf8').split('\0');
      expect(argv.slice(0, 5)).toEqual(['-c', URI, 'qemu-agent-command', 'echo-1', JSON.stringify({ execute: 'guest-exec', arguments: args })]);
      expect(argv.slice(5, 7)).toEqual(['--timeout', '5']);
    } finally {
      delete process.env.FAKE_VIRSH_LOG;
    }
  });

  test('a request carrying a secret goes on virsh\'s stdin, never in its arguments', async () => {
    const log = path.join(mkdtempSync(path.join(os.tmpdir(), 'virsh-log-')), 'log');
    process.env.FAKE_VIRSH_LOG = log;
    try {
      const args = { path: '/bin/sh', env: ["TOKEN=it's-s3cr3t"] };
      const raw = await transport('echo-1').request({ execute: 'guest-exec', arguments: args }, { timeoutMs: 5000, sensitive: true });
      expect(raw?.reply).toEqual({ return: { execute: 'guest-exec', arguments: args } });
      expect(raw?.window).toBeDefined();
      const logged = readFileSync(log, 'utf8');
      const argv = logged.split('\n')[0]!;
      expect(argv).not.toContain('s3cr3t');
      expect(logged).toMatch(/^STDIN:qemu-agent-command --timeout 5 -- 'echo-1' '.*it\\u0027s-s3cr3t/m);
      // Errors read the same way in that mode (interactive virsh exits 0 whatever happened).
      await expect(transport('not-running').request({ execute: 'guest-ping' }, { timeoutMs: 5000, sensitive: true })).rejects.toMatchObject({ code: 'DOMAIN_NOT_RUNNING' });
      await expect(transport('disabled').request({ execute: 'guest-exec' }, { timeoutMs: 5000, sensitive: true })).resolves.toMatchObject({
        reply: { error: { class: 'CommandNotFound' } },
      });
    } finally {
      delete process.env.FAKE_VIRSH_LOG;
    }
  });

  const unreachable: [string, string][] = [
    ['not-connected', 'AGENT_NOT_CONNECTED'],
    ['not-available', 'AGENT_TIMEOUT'],
    ['timed-out-new', 'AGENT_TIMEOUT'],
    ['disappeared', 'AGENT_DISAPPEARED'],
    ['eof', 'AGENT_DISAPPEARED'],
    ['not-running', 'DOMAIN_NOT_RUNNING'],
    ['not-configured', 'AGENT_NOT_CONFIGURED'],
    ['no-such-vm', 'NO_SUCH_DOMAIN'],
    ['no-libvirt', 'LIBVIRT_UNAVAILABLE'],
    ['weird', 'VIRSH_FAILED'],
  ];
  for (const [domain, code] of unreachable) {
    test(`${domain} is unreachable with code ${code}, naming the domain`, async () => {
      const err = await ping(domain).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnreachableError);
      expect(err).toMatchObject({ code });
      expect((err as Error).message).toContain(`${domain} on ${URI}`);
    });
  }

  test('agent errors become error replies with the class recovered', async () => {
    await expect(ping('disabled')).resolves.toMatchObject({ reply: { error: { class: 'CommandNotFound', desc: 'Command guest-exec has been disabled' } } });
    await expect(ping('not-found')).resolves.toMatchObject({ reply: { error: { class: 'CommandNotFound' } } });
    await expect(ping('generic')).resolves.toMatchObject({
      reply: { error: { class: 'GenericError', desc: "failed to open file '/nope': No such file or directory" } },
    });
    const err = await call(transport('disabled'), 'guest-ping', undefined, { timeoutMs: 5000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect(err).toMatchObject({ errorClass: 'CommandNotFound', code: 'AGENT_ERROR' });
  });

  test('a hung virsh is killed at the deadline, not after 5 s', async () => {
    const started = Date.now();
    const err = await ping('hang', 400).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toContain('hang on qemu:///system');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  test('an abort kills virsh and cancels', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await expect(transport('hang').request({ execute: 'guest-ping' }, { timeoutMs: 10000, signal: controller.signal })).rejects.toBeInstanceOf(CanceledError);
  });

  test('virsh printing garbage is a protocol error', async () => {
    await expect(ping('garbage')).rejects.toMatchObject({ code: 'PROTOCOL' });
  });

  test('guest-shutdown: the agent disappearing is success', async () => {
    await expect(transport('disappeared').request({ execute: 'guest-shutdown' }, { timeoutMs: 5000 })).resolves.toBeNull();
    // What libvirt says when the guest powered off before the reply: also how shutdown succeeds.
    await expect(transport('eof').request({ execute: 'guest-shutdown' }, { timeoutMs: 5000 })).resolves.toBeNull();
    await expect(transport('not-connected').request({ execute: 'guest-shutdown' }, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'AGENT_NOT_CONNECTED' });
  });

  test('guest-shutdown whose agent stays silent: success after a short window, not a timeout', async () => {
    const started = Date.now();
    await expect(transport('hang').request({ execute: 'guest-shutdown' }, { timeoutMs: 400 })).resolves.toBeNull();
    expect(Date.now() - started).toBeLessThan(3000);
  });

  test('a request too large for one argv string fails clearly before spawning virsh', async () => {
    const big = { execute: 'guest-file-write', arguments: { handle: 1, 'buf-b64': 'A'.repeat(200 * 1024) } };
    await expect(transport('ok-1').request(big, { timeoutMs: 5000 })).rejects.toMatchObject({
      code: 'REQUEST_TOO_LARGE',
      message: expect.stringContaining('use a socket channel'),
    });
  });

  test('a missing virsh binary is VIRSH_MISSING', async () => {
    const t = new VirshTransport({ uri: URI, domain: 'x', virsh: '/nonexistent/virsh' });
    await expect(t.request({ execute: 'guest-ping' }, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'VIRSH_MISSING' });
  });

  test('classifyVirshError reads the multi-line stderr virsh prints', () => {
    expect(classifyVirshError("error: internal error: unable to execute QEMU agent command 'guest-set-time': hwclock failed\n\n")).toEqual({
      kind: 'agent',
      command: 'guest-set-time',
      errorClass: 'GenericError',
      desc: 'hwclock failed',
    });
  });
});

describe('channel discovery (fake virsh dumpxml)', () => {
  const opts = { timeoutMs: 5000 };
  const provider = new TransportProvider({ virsh: FAKE_VIRSH });
  const openTransport = provider.open.bind(provider);
  afterAll(() => provider.close());
  test('lists agent channels with path and state, ignoring other channels', async () => {
    await expect(discoverDomain(URI, 'two-channels', { ...opts, virsh: FAKE_VIRSH })).resolves.toEqual({
      running: true,
      channels: [
        { name: 'org.qemu.guest_agent.0', path: '/run/fake/two-channels.0.sock', state: 'connected' },
        { name: 'org.qemu.guest_agent.1', path: '/run/fake/two-channels.1.sock', state: 'disconnected' },
      ],
    });
  });

  test('the standard channel goes through virsh without a lookup', async () => {
    const t = await openTransport({ uri: URI, domain: 'no-such-but-not-looked-up' }, opts);
    expect(t.kind).toBe('virsh');
  });

  test('another channel goes through its socket', async () => {
    const t = await openTransport({ uri: URI, domain: 'two-channels', channel: 'org.qemu.guest_agent.1' }, opts);
    expect(t.kind).toBe('socket');
    expect(t.describe).toBe('/run/fake/two-channels.1.sock');
  });

  test('a remote URI reaches the socket through ssh on that host', async () => {
    const t = await openTransport({ uri: 'qemu+ssh://root@hv2/system', domain: 'two-channels', channel: 'org.qemu.guest_agent.1' }, opts);
    expect(t.kind).toBe('ssh-socket');
    expect(t.describe).toBe('root@hv2:/run/fake/two-channels.1.sock');
  });

  test('libvirt URIs: ssh user, port and key file; TLS/TCP hosts cannot reach a socket', async () => {
    expect(uriHost('qemu:///system')).toEqual({ kind: 'local' });
    expect(uriHost('qemu+unix:///system')).toEqual({ kind: 'local' });
    expect(uriHost('qemu+ssh://root@hv2:2222/system?keyfile=/etc/qga/id_ed25519')).toEqual({
      kind: 'ssh',
      host: 'root@hv2',
      options: ['-p', '2222', '-i', '/etc/qga/id_ed25519'],
    });
    expect(uriHost('qemu+libssh2://hv3/system')).toEqual({ kind: 'ssh', host: 'hv3', options: [] });
    expect(uriHost('qemu+tcp://hv4/system')).toMatchObject({ kind: 'other' });
    expect(uriHost('qemu://hv5/system')).toMatchObject({ kind: 'other' });
    await expect(openTransport({ uri: 'qemu+tls://hv4/system', domain: 'two-channels', channel: 'org.qemu.guest_agent.1' }, opts)).rejects.toMatchObject({
      code: 'UNSUPPORTED_ROUTE',
      message: expect.stringContaining('qemu+ssh://'),
    });
  });

  test('no agent channel, an unknown channel, an unknown domain: clear errors', async () => {
    await expect(openTransport({ uri: URI, domain: 'no-channel', channel: 'org.qemu.guest_agent.1' }, opts)).rejects.toThrow(
      /no-channel on qemu:\/\/\/system: the domain has no guest agent channel/,
    );
    await expect(openTransport({ uri: URI, domain: 'two-channels', channel: 'org.qemu.guest_agent.7' }, opts)).rejects.toMatchObject({
      code: 'CHANNEL_NOT_FOUND',
      message: expect.stringContaining('has org.qemu.guest_agent.0, org.qemu.guest_agent.1'),
    });
    await expect(openTransport({ uri: URI, domain: 'ghost', channel: 'org.qemu.guest_agent.1' }, opts)).rejects.toMatchObject({ code: 'NO_SUCH_DOMAIN' });
    // dumpxml of a shut-off domain still names the socket; nobody would answer on it.
    await expect(openTransport({ uri: URI, domain: 'old', channel: 'org.qemu.guest_agent.1' }, opts)).rejects.toMatchObject({
      code: 'DOMAIN_NOT_RUNNING',
      message: 'old on qemu:///system: the domain is not running',
    });
  });
});

describe('qga-play agent (fake virsh on PATH)', () => {
  test('prints the reply on stdout and exits 0', async () => {
    const r = await runCli(['agent', 'ok-1', '{"execute":"guest-ping"}'], { fakeVirsh: true });
    expect(r).toMatchObject({ exitCode: 0, stdout: '{"return":{"fake":true}}\n', stderr: '' });
  });

  test('an agent error: the error reply on stdout, a message on stderr, exit 1', async () => {
    const r = await runCli(['agent', '-c', 'qemu:///session', 'disabled', '{"execute":"guest-exec","arguments":{"path":"/bin/true"}}'], { fakeVirsh: true });
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({ error: { class: 'CommandNotFound', desc: 'Command guest-exec has been disabled' } });
    expect(r.stderr).toContain('disabled on qemu:///session');
  });

  test('unreachable: exit 3, the reason on stderr, nothing on stdout', async () => {
    const r = await runCli(['agent', 'not-connected', '{"execute":"guest-ping"}'], { fakeVirsh: true });
    expect(r).toMatchObject({ exitCode: 3, stdout: '' });
    expect(r.stderr).toMatch(/not-connected on qemu:\/\/\/system: guest agent is not connected/);
  });

  test('LIBVIRT_DEFAULT_URI is the default connection', async () => {
    const r = await runCli(['agent', 'not-running', '{"execute":"guest-ping"}'], { fakeVirsh: true, env: { LIBVIRT_DEFAULT_URI: 'qemu:///custom' } });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain('not-running on qemu:///custom');
  });

  test('a hung virsh costs the --timeout, then exit 3', async () => {
    const started = Date.now();
    const r = await runCli(['agent', '--timeout', '0.5', 'hang', '{"execute":"guest-ping"}'], { fakeVirsh: true });
    expect(r.exitCode).toBe(3);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  test.each([
    [['agent', 'ok-1', 'not json'], /"not json" is not JSON/],
    [['agent', 'ok-1', '[1,2]'], /is not a QGA request/],
    [['agent', 'ok-1', '{"exec":"guest-ping"}'], /"execute" must be a command name/],
    [['agent', 'ok-1'], /give a DOMAIN and a JSON request \(got 1/],
    [['agent', '--socket', '/x.sock', 'dom', '{"execute":"guest-ping"}'], /with --socket, give exactly one argument/],
    [['agent', '--timeout', '-1', 'ok-1', '{"execute":"guest-ping"}'], /--timeout to be a positive number/],
    [['frobnicate'], /Unknown argument: frobnicate/],
  ])('bad usage %j exits 2', async (args, message) => {
    const r = await runCli(args, { fakeVirsh: true });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  test('--channel finds the socket through dumpxml and talks to it directly', async () => {
    const agent = await startFakeAgent(wellBehaved);
    try {
      const r = await runCli(['agent', '--channel', 'org.qemu.guest_agent.1', 'two-channels', '{"execute":"guest-ping"}'], {
        fakeVirsh: true,
        env: { FAKE_VIRSH_SOCKET: agent.path },
      });
      expect(r).toMatchObject({ exitCode: 0, stdout: '{"return":{}}\n' });
      expect(agent.requests).toEqual(['guest-ping']);
    } finally {
      await agent.stop();
    }
  });

  test('--help shows examples and exit codes', async () => {
    const r = await runCli(['agent', '--help']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('--socket PATH');
    expect(r.stdout).toContain('Exit codes');
    expect(r.stdout).toContain('guest_agent.1');
  });
});
