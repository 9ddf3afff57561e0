import { afterAll, afterEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VirshSessionPool } from '../../src/transport/virsh-session.js';
import { VirshTransport } from '../../src/transport/virsh.js';
import { TimeoutError, UnreachableError } from '../../src/errors.js';
import { FAKE_VIRSH } from '../helpers/cli.js';
import { hostNowMs } from '../../src/util/clock.js';

// Sessions against the fake virsh: the faults a real libvirt will not make on demand (a
// connection that drops under a command, a hang, error text that forges markers). The same
// paths on real guests: test/lab/virsh-sessions.test.ts.
const URI = 'qemu:///system';
const dir = mkdtempSync(path.join(os.tmpdir(), 'qga-session-'));
const pools: VirshSessionPool[] = [];
function pool(size = 2): VirshSessionPool {
  const p = new VirshSessionPool({ uri: URI, virsh: FAKE_VIRSH, size });
  pools.push(p);
  return p;
}
const via = (p: VirshSessionPool, domain: string) => new VirshTransport({ uri: URI, domain, virsh: FAKE_VIRSH, sessions: p });
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('virsh session pool (fake virsh)', () => {
  test('interleaved good, failing and unreachable commands on shared sessions: each outcome is its own command\'s', async () => {
    const p = pool(3);
    const kinds = ['echo-a', 'generic', 'not-running', 'disabled', 'ghost', 'forger'] as const;
    const jobs = Array.from({ length: 300 }, (_, i) => {
      const domain = kinds[i % kinds.length]!;
      const tag = `req-${i}`;
      return via(p, domain)
        .request({ execute: 'guest-ping', arguments: { tag } }, { timeoutMs: 20_000 })
        .then(
          (raw) => ({ i, domain, tag, raw, err: undefined as unknown }),
          (err: unknown) => ({ i, domain, tag, raw: undefined, err }),
        );
    });
    const results = await Promise.all(jobs);
    let wrong = 0;
    for (const r of results) {
      const ok =
        r.domain === 'echo-a'
          ? JSON.stringify(r.raw?.reply) === JSON.stringify({ return: { execute: 'guest-ping', arguments: { tag: r.tag } } })
          : r.domain === 'generic'
            ? (r.raw?.reply as { error?: { desc?: string } }).error?.desc?.includes("failed to open file '/nope'") === true
            : r.domain === 'disabled'
              ? (r.raw?.reply as { error?: { class?: string } }).error?.class === 'CommandNotFound'
              : r.domain === 'forger'
                ? (r.raw?.reply as { error?: { desc?: string } }).error?.desc === 'x'
                : r.domain === 'not-running'
                  ? (r.err as UnreachableError)?.code === 'DOMAIN_NOT_RUNNING'
                  : (r.err as UnreachableError)?.code === 'NO_SUCH_DOMAIN';
      if (!ok) wrong++;
    }
    expect(wrong).toBe(0);
    // Shared: 300 commands, 3 sessions.
    expect(p.started).toBe(3);
  });

  test('a command past its deadline kills its session: a timeout for that VM, the pool carries on with a new session', async () => {
    const p = pool(1);
    const hung = via(p, 'hang').request({ execute: 'guest-ping' }, { timeoutMs: 800 });
    await expect(hung).rejects.toBeInstanceOf(TimeoutError);
    await expect(hung).rejects.toThrow(/hang on qemu:\/\/\/system: virsh qemu-agent-command got no answer within/);
    await expect(via(p, 'ok-1').request({ execute: 'guest-ping' }, { timeoutMs: 5000 })).resolves.toMatchObject({ reply: { return: { fake: true } } });
    expect(p.started).toBe(2);
  });

  test('a session that dies under a query is replaced and the query sent again; an exec is not', async () => {
    const p = pool(1);
    const marker = path.join(dir, 'dropped-once');
    process.env.FAKE_VIRSH_DROP_ONCE = marker;
    try {
      const raw = await via(p, 'drop-once').request({ execute: 'guest-get-time' }, { timeoutMs: 5000 });
      expect(raw?.reply).toEqual({ return: { 'after-drop': true } });
      rmSync(marker);
      const exec = via(p, 'drop-once').request({ execute: 'guest-exec', arguments: { path: '/bin/true' } }, { timeoutMs: 5000 });
      await expect(exec).rejects.toMatchObject({ code: 'LIBVIRT_UNAVAILABLE', message: expect.stringContaining('Connection reset by peer') });
    } finally {
      delete process.env.FAKE_VIRSH_DROP_ONCE;
    }
  });

  test('a connection that cannot be made is the hypervisor\'s fault, named as such', async () => {
    const p = new VirshSessionPool({ uri: 'qemu+ssh://root@dead/system', virsh: FAKE_VIRSH, size: 1 });
    pools.push(p);
    const t = new VirshTransport({ uri: 'qemu+ssh://root@dead/system', domain: 'ok-1', virsh: FAKE_VIRSH, sessions: p });
    await expect(t.request({ execute: 'guest-ping' }, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'LIBVIRT_UNAVAILABLE' });
  });

  test('secrets and long requests: a secret never reaches any argv; a request too long for a stdin line takes a process', async () => {
    const log = path.join(dir, 'log');
    process.env.FAKE_VIRSH_LOG = log;
    try {
      const p = pool(1);
      const secret = { execute: 'guest-exec', arguments: { path: '/bin/sh', env: ['TOKEN=s3cr3t'] } };
      await expect(via(p, 'echo-s').request(secret, { timeoutMs: 5000, sensitive: true })).resolves.toMatchObject({ reply: { return: secret } });
      const long = { execute: 'guest-file-write', arguments: { handle: 1, 'buf-b64': 'A'.repeat(20_000) } };
      await expect(via(p, 'echo-l').request(long, { timeoutMs: 5000 })).resolves.toMatchObject({ reply: { return: long } });
      const argvs = readFileSync(log, 'utf8').split('\n').filter((l) => !l.startsWith('STDIN:'));
      expect(argvs.join('\n')).not.toContain('s3cr3t');
      // The long one went as a process (its JSON in argv), the secret through the session's stdin.
      expect(argvs.some((a) => a.includes('AAAAAAAAAA'))).toBe(true);
      expect(readFileSync(log, 'utf8')).toMatch(/^STDIN:qemu-agent-command .*s3cr3t/m);
    } finally {
      delete process.env.FAKE_VIRSH_LOG;
    }
  });

  test('a request built at send time is built once its turn on a shared session has come', async () => {
    const p = pool(1);
    // The one session is busy with a slow command; the echo waits for it, then is built.
    const slow = via(p, 'slow-1').request({ execute: 'guest-ping' }, { timeoutMs: 20_000 });
    let builtAtMs = 0;
    const echo = via(p, 'echo-a').request(
      { execute: 'guest-ping', arguments: { built: 'when asked' } },
      { timeoutMs: 20_000, atSend: () => ((builtAtMs = hostNowMs()), { execute: 'guest-ping', arguments: { built: 'when sent' } }) },
    );
    const [slowReply, echoReply] = await Promise.all([slow, echo]);
    // Built after the slow command's output was complete, and what was built is what went.
    expect(builtAtMs).toBeGreaterThanOrEqual(slowReply!.window!.endMs);
    expect(echoReply!.reply).toEqual({ return: { execute: 'guest-ping', arguments: { built: 'when sent' } } });
    expect(echoReply!.window!.startMs).toBeGreaterThanOrEqual(builtAtMs);
  });

  test('a canceled command ends its session at once', async () => {
    const p = pool(1);
    const controller = new AbortController();
    const hung = via(p, 'hang').request({ execute: 'guest-ping' }, { timeoutMs: 30_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    await expect(hung).rejects.toMatchObject({ code: 'CANCELED' });
  });
});

describe('a virsh session that cannot start', () => {
  // None of these may throw out of the pool or crash the process: each is the command's
  // unreachable outcome, with a code.
  test.each([
    ['a virsh that is not there', { virsh: path.join(dir, 'no-such-virsh') }, 'VIRSH_MISSING', /virsh not found/],
    ['a virsh path through a file', { virsh: '/etc/passwd/virsh' }, 'VIRSH_FAILED', /cannot run virsh/],
    ['a URI node refuses to pass (a NUL byte)', { uri: 'qemu:///sys\0tem' }, 'VIRSH_FAILED', /cannot run virsh/],
  ])('%s', async (_what, options, code, message) => {
    const p = new VirshSessionPool({ uri: URI, virsh: FAKE_VIRSH, size: 2, ...options });
    pools.push(p);
    p.warm(2);
    await expect(p.run('list --name', 5_000)).rejects.toMatchObject({ name: 'UnreachableError', code, message: expect.stringMatching(message) });
    await new Promise((r) => setImmediate(r));
    await expect(p.run('list --name', 5_000)).rejects.toBeInstanceOf(UnreachableError);
  });
});

/**
 * The next virsh the fake starts hangs while connecting, until released (fixtures/bin/virsh:
 * FAKE_VIRSH_SLOW_START). `arm` makes the starts from now on eligible, `disarm` stops that; each
 * test's slow start is disarmed and released after it.
 */
const slowStarts: string[] = [];
function slowStart(name: string) {
  const file = path.join(dir, name);
  slowStarts.push(file);
  return {
    arm: () => void (process.env.FAKE_VIRSH_SLOW_START = file),
    disarm: () => void delete process.env.FAKE_VIRSH_SLOW_START,
    release: () => writeFileSync(`${file}.go`, ''),
  };
}
afterEach(() => {
  delete process.env.FAKE_VIRSH_SLOW_START;
  for (const file of slowStarts.splice(0)) writeFileSync(`${file}.go`, '');
});

describe('warming a pool', () => {
  test('starts sessions up to the pool size, one per turn of the event loop, and they answer', async () => {
    const p = pool(3);
    p.warm(10);
    expect(p.started).toBe(1);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(p.started).toBe(3);
    const outs = await Promise.all([1, 2, 3].map(() => p.run("qemu-agent-command 'echo-a' '{\"execute\":\"guest-ping\"}'", 20_000)));
    for (const o of outs) expect(o.stdout).toContain('guest-ping');
    expect(p.started).toBe(3);
  });

  test('a command takes the session that connected, not one still connecting', async () => {
    // One of the two sessions hangs while connecting; all three commands run on the other.
    slowStart('slow-start').arm();
    const p = pool(2);
    p.warm(2);
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    const outs = await Promise.all([1, 2, 3].map(() => p.run("qemu-agent-command 'echo-a' '{\"execute\":\"guest-ping\"}'", 60_000)));
    for (const o of outs) expect(o.stdout).toContain('guest-ping');
    expect(p.started).toBe(2);
  });

  test('a wait for a session that never connects is the hypervisor connection\'s fault, and that start ends', async () => {
    const slow = slowStart('hung-start');
    slow.arm();
    const p = pool(1);
    p.warm(1);
    await expect(p.run('list --name', 1_000)).rejects.toMatchObject({
      name: 'UnreachableError',
      code: 'LIBVIRT_UNAVAILABLE',
      message: expect.stringMatching(/did not answer within 1\.0 s \(hypervisor connection: libvirt or ssh\)/),
    });
    // The hung start was dropped: the next command gets a new session, which connects.
    slow.disarm();
    expect((await p.run('list --name', 20_000)).stdout).toBeDefined();
    expect(p.started).toBe(2);
  });

  test('when a waiter gives up on a hung start, the next waiter gets a start of its own', async () => {
    const slow = slowStart('hung-start-2');
    slow.arm();
    const p = pool(1);
    const first = p.run('list --name', 1_000);
    const second = p.run("qemu-agent-command 'echo-a' '{\"execute\":\"guest-ping\"}'", 20_000);
    // The hung start claimed the slow path; the one started for the second waiter connects.
    slow.disarm();
    await expect(first).rejects.toMatchObject({ code: 'LIBVIRT_UNAVAILABLE' });
    expect((await second).stdout).toContain('guest-ping');
    expect(p.started).toBe(2);
  });

  test('a start younger than the wait is not blamed for it: the waiter was waiting for a busy session', async () => {
    const slow = slowStart('young-start');
    const p = pool(1);
    await p.run('list --name', 20_000);
    // The one session hangs under a command; a second command waits for it.
    const hung = p.run("qemu-agent-command 'hang' '{\"execute\":\"guest-ping\"}'", 1_000);
    const waiting = p.run('list --name', 1_500);
    // The replacement started when the hung command's deadline ends its session connects slowly.
    slow.arm();
    await expect(hung).rejects.toBeInstanceOf(TimeoutError);
    await expect(waiting).rejects.toMatchObject({ name: 'TimeoutError', message: expect.stringContaining('stayed busy') });
    slow.disarm();
    // That replacement was left to connect: the next command runs on it.
    slow.release();
    expect((await p.run('list --name', 20_000)).stdout).toBeDefined();
    expect(p.started).toBe(2);
  });

  test('closing the pool ends the commands waiting for a session at once', async () => {
    const p = pool(1);
    const outcome = (work: Promise<unknown>) => work.then(() => 'answered', (err: unknown) => err);
    const busy = outcome(p.run("qemu-agent-command 'slow-1' '{\"execute\":\"guest-ping\"}'", 20_000));
    const waiting = outcome(p.run('list --name', 20_000));
    await new Promise((r) => setTimeout(r, 50));
    await p.close();
    expect(await waiting).toMatchObject({ name: 'UnreachableError', message: expect.stringContaining('closed') });
    expect(await busy).toBeInstanceOf(UnreachableError);
  });

  test('stops when told (the run is over)', async () => {
    const p = pool(4);
    p.warm(4);
    p.stopWarming();
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(p.started).toBe(1);
  });
});
