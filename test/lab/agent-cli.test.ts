/**
 * `qga-play agent` (the built CLI, as a process) against lab guests: by domain name through
 * virsh, with `--channel org.qemu.guest_agent.1` (socket found through dumpxml), with
 * `--socket`; agent errors (exit 1, the reply on stdout), unreachable targets (exit 3, nothing
 * on stdout, the domain or socket named on stderr) and bad usage (exit 2).
 * Needs `npm run build` first (npm test does it).
 */
import { describe, expect, test } from '@jest/globals';
import { runCli } from '../helpers/cli.js';
import { AGENT_CHANNEL_1, channelSocket, LAB_GUESTS, LAB_MISSING_GUEST, LAB_URI, LAB_VARIANTS, labDescribe, qgaSocketRequest } from '../helpers/lab.js';

const GUEST = LAB_GUESTS[0]!;
const PING = '{"execute":"guest-ping"}';

/** The guest clock read by the lab's raw client on .1 (closed again before the CLI runs). */
async function guestNs(guest: string): Promise<number> {
  const r = await qgaSocketRequest(channelSocket(guest, 1), 'guest-get-time');
  if (!('return' in r) || typeof r.return !== 'number') throw new Error(`guest-get-time on ${guest}: ${JSON.stringify(r)}`);
  return r.return;
}

/** stdout must be exactly one JSON line: returns it parsed. */
function oneJsonLine(stdout: string): unknown {
  expect(stdout.endsWith('\n')).toBe(true);
  const lines = stdout.split('\n');
  expect(lines).toHaveLength(2);
  expect(lines[1]).toBe('');
  return JSON.parse(lines[0]!) as unknown;
}

labDescribe(describe)('qga-play agent on lab guests', () => {
  test('by domain name (virsh): guest-ping prints {"return":{}} as one line, exit 0, nothing on stderr', async () => {
    const r = await runCli(['agent', GUEST, PING]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(oneJsonLine(r.stdout)).toEqual({ return: {} });
  });

  test('guest-info is the same agent version by domain name (virsh .0) and with --channel .1 (socket from dumpxml)', async () => {
    const viaVirsh = await runCli(['agent', '-c', LAB_URI, GUEST, '{"execute":"guest-info"}']);
    expect(viaVirsh.exitCode).toBe(0);
    const a = oneJsonLine(viaVirsh.stdout) as { return: { version: string; supported_commands: unknown[] } };
    expect(a.return.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(a.return.supported_commands.length).toBeGreaterThan(20);

    const viaSocket = await runCli(['agent', '--channel', AGENT_CHANNEL_1, GUEST, '{"execute":"guest-info"}']);
    expect(viaSocket.stderr).toBe('');
    expect(viaSocket.exitCode).toBe(0);
    const b = oneJsonLine(viaSocket.stdout) as { return: { version: string } };
    expect(b.return.version).toBe(a.return.version);
  });

  test('--channel .1: guest-get-time is printed exactly as the agent sent it, and is the current guest time', async () => {
    // Bracketed by readings of the guest clock itself (other lab suites set guest clocks).
    const before = await guestNs(GUEST);
    const r = await runCli(['agent', '--channel', AGENT_CHANNEL_1, '--timeout', '5', GUEST, '{"execute":"guest-get-time"}']);
    const after = await guestNs(GUEST);
    expect(r.exitCode).toBe(0);
    // qemu-ga writes `{"return": N}` (with a space): not re-serialised on the way.
    expect(r.stdout).toMatch(/^\{"return": \d{19}\}\n$/);
    const ns = (oneJsonLine(r.stdout) as { return: number }).return;
    expect(ns).toBeGreaterThan(before);
    expect(ns).toBeLessThan(after);
  });

  test('--socket PATH talks to the socket directly', async () => {
    const r = await runCli(['agent', '--socket', channelSocket(GUEST, 1), PING]);
    expect(r.exitCode).toBe(0);
    expect(oneJsonLine(r.stdout)).toEqual({ return: {} });
  });

  test.each([
    ['virsh (.0)', [] as string[]],
    ['--channel .1', ['--channel', AGENT_CHANNEL_1]],
  ])('an unknown command through %s: exit 1, CommandNotFound reply on stdout, the domain on stderr', async (_route, extra) => {
    const r = await runCli(['agent', ...extra, GUEST, '{"execute":"guest-no-such-command"}']);
    expect(r.exitCode).toBe(1);
    expect(oneJsonLine(r.stdout)).toEqual({ error: { class: 'CommandNotFound', desc: 'The command guest-no-such-command has not been found' } });
    expect(r.stderr).toContain(`${GUEST} on ${LAB_URI}`);
    expect(r.stderr).toContain('CommandNotFound');
  });

  test('an agent error with arguments through virsh: exit 1, GenericError with the agent\'s description', async () => {
    const r = await runCli(['agent', GUEST, '{"execute":"guest-file-open","arguments":{"path":"/nonexistent/qga-play","mode":"r"}}']);
    expect(r.exitCode).toBe(1);
    const reply = oneJsonLine(r.stdout) as { error: { class: string; desc: string } };
    expect(reply.error.class).toBe('GenericError');
    expect(reply.error.desc).toContain('/nonexistent/qga-play');
    expect(reply.error.desc).toContain('No such file or directory');
  });

  test.each([
    ['agent stopped in the guest', LAB_VARIANTS.noAgent, [] as string[], [`${LAB_VARIANTS.noAgent} on ${LAB_URI}`, 'not connected']],
    ['domain shut off', LAB_VARIANTS.off, [], [`${LAB_VARIANTS.off} on ${LAB_URI}`, 'not running']],
    ['no such domain', LAB_MISSING_GUEST, [], [`${LAB_MISSING_GUEST} on ${LAB_URI}`, 'no such domain']],
    ['no agent channel', LAB_VARIANTS.noChannel, [], [`${LAB_VARIANTS.noChannel} on ${LAB_URI}`, 'not configured']],
    ['no agent channel, --channel .1', LAB_VARIANTS.noChannel, ['--channel', AGENT_CHANNEL_1], [`${LAB_VARIANTS.noChannel} on ${LAB_URI}`, 'has no guest agent channel']],
    ['domain shut off, --channel .1', LAB_VARIANTS.off, ['--channel', AGENT_CHANNEL_1], [`${LAB_VARIANTS.off} on ${LAB_URI}`, 'the domain is not running']],
    ['no such domain, --channel .1', LAB_MISSING_GUEST, ['--channel', AGENT_CHANNEL_1], [`${LAB_MISSING_GUEST} on ${LAB_URI}`, 'no such domain']],
  ])('%s (%s): exit 3, nothing on stdout, the target named on stderr', async (_what, domain, extra, mentions) => {
    const r = await runCli(['agent', ...extra, domain, PING]);
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toBe('');
    for (const m of mentions) expect(r.stderr).toContain(m);
  });

  test('a request that is not JSON: exit 2, the argument named, nothing sent', async () => {
    const r = await runCli(['agent', GUEST, 'guest-ping']);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('"guest-ping"');
    expect(r.stderr).toContain('not JSON');
  });
});
