/**
 * Every fault of issue 3 section 2 against real lab guests, through qga-play's own transports
 * (VirshTransport, SocketTransport, openTransport) and, where a hang is involved, the CLI:
 *   agent stopped in the guest, agent hung (SIGSTOP of .0 and of .1: bounded by the engine's
 *   deadline, then recovered), domain shut off, no such domain, no agent channel, a wrong
 *   channel name, and a stale reply left on the .1 channel by a client that left mid-read.
 *
 * Faults are made on qgalab-2 and undone in finally/afterAll (SIGCONT, file removed), since
 * the guests are shared by every lab suite. The in-guest controls are driven through the lab's
 * own clients (test/helpers/lab.ts), not the transports under test.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import nodePath from 'node:path';
import type { Duplex } from 'node:stream';
import { TimeoutError, UnreachableError } from '../../src/errors.js';
import { TransportProvider } from '../../src/inventory/provider.js';
import { SocketTransport, unixConnector, type Connector } from '../../src/transport/socket.js';
import { call } from '../../src/transport/transport.js';
import { VirshTransport } from '../../src/transport/virsh.js';
import { runCli } from '../helpers/cli.js';
import {
  AGENT_CHANNEL_1,
  channelSocket,
  guestExec,
  pollGuestExec,
  LAB_GUESTS,
  LAB_MISSING_GUEST,
  LAB_URI,
  LAB_VARIANTS,
  labDescribe,
  qgaSocketRequest,
  virshAgentCommand,
} from '../helpers/lab.js';

/** The guest whose agents are hung and whose .1 channel gets a stale reply. */
const GUEST = LAB_GUESTS[1]!;
const HANG_MS = 1500;
/** Allowed beyond the deadline: killing virsh, scheduling on a busy 2-core machine. */
const SLACK_MS = 1200;

/**
 * The guest clock through the other channel, to bracket a reading: a guest-get-time answer is
 * the current time only if it lies between readings taken just before and just after it. Host
 * time is no reference here: other lab suites set guest clocks (timesync's measure-only test
 * leaves qgalab-1 5 s ahead).
 */
const nsVia0 = async (guest: string): Promise<number> => (await virshAgentCommand(guest, { execute: 'guest-get-time' })) as number;
async function nsVia1(guest: string): Promise<number> {
  const r = await qgaSocketRequest(channelSocket(guest, 1), 'guest-get-time');
  if (!('return' in r) || typeof r.return !== 'number') throw new Error(`guest-get-time on ${guest} .1: ${JSON.stringify(r)}`);
  return r.return;
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The error a promise rejects with (fails the test when it resolves). */
async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure, got a result');
}

async function expectUnreachable(p: Promise<unknown>, code: string, ...mentions: string[]): Promise<UnreachableError> {
  const err = await failure(p);
  expect(err).toBeInstanceOf(UnreachableError);
  expect(err).toMatchObject({ code });
  for (const m of mentions) expect(err.message).toContain(m);
  return err as UnreachableError;
}

/** A shell script in the guest through the .0 agent, via plain virsh (not the engine). */
async function virshShell(guest: string, script: string): Promise<{ exitcode?: number; stdout: string }> {
  const send = (execute: string, args?: Record<string, unknown>) => virshAgentCommand(guest, { execute, arguments: args });
  return pollGuestExec(send, '/bin/sh', ['-c', script], { timeoutMs: 20_000, pollMs: 25 });
}

/**
 * `kill -SIG` the qemu-ga of channel n, wait (up to 1 s) until the kernel shows the new state,
 * and print it (`State: T (stopped)` after STOP). The signal takes effect asynchronously.
 */
const signalAgent = (n: 0 | 1, sig: 'STOP' | 'CONT'): string =>
  `p=$(cat /run/qga${n}.pid) && kill -${sig} $p && i=0 && ` +
  `while [ $i -lt 40 ] && ${sig === 'STOP' ? '!' : ''} grep -q '^State:.*T' /proc/$p/status; do usleep 25000; i=$((i+1)); done; ` +
  `grep '^State:' /proc/$p/status`;

/** Retries a call until the agent answers (libvirt may need a moment to resync after SIGCONT). */
async function untilAnswered<T>(what: string, attempt: () => Promise<T>, timeoutMs = 20_000): Promise<{ value: T; attempts: number }> {
  const deadline = Date.now() + timeoutMs;
  for (let attempts = 1; ; attempts++) {
    try {
      return { value: await attempt(), attempts };
    } catch (err) {
      if (!(err instanceof UnreachableError) || Date.now() > deadline) throw new Error(`${what}: still failing after ${attempts} attempts: ${(err as Error).message}`, { cause: err });
      await sleep(200);
    }
  }
}

/** A connector that counts connections and bytes received, around the real unix connector. */
function countingConnector(path: string): { connector: Connector; stats: { connections: number; bytes: number } } {
  const stats = { connections: 0, bytes: 0 };
  const base = unixConnector(path);
  const connector: Connector = async (deadline, signal) => {
    const stream: Duplex = await base(deadline, signal);
    stats.connections++;
    stream.on('data', (chunk: Buffer) => {
      stats.bytes += chunk.length;
    });
    return stream;
  };
  return { connector, stats };
}

const labSuite = labDescribe(describe);

labSuite('faults: fault guests, missing domains and channels', () => {
  const opts = { timeoutMs: 10_000 };
  const provider = new TransportProvider();
  const openTransport = provider.open.bind(provider);
  afterAll(() => provider.close());

  test('agent stopped inside the guest (qgalab-noagent) via virsh: AGENT_NOT_CONNECTED naming the domain', async () => {
    const virsh = new VirshTransport({ uri: LAB_URI, domain: LAB_VARIANTS.noAgent });
    const err = await expectUnreachable(call(virsh, 'guest-ping', undefined, opts), 'AGENT_NOT_CONNECTED', `${LAB_VARIANTS.noAgent} on ${LAB_URI}`);
    expect(err.message).toContain('not connected');
    // openTransport picks virsh for the standard channel: same outcome.
    const t = await openTransport({ uri: LAB_URI, domain: LAB_VARIANTS.noAgent }, opts);
    expect(t.kind).toBe('virsh');
    await expectUnreachable(call(t, 'guest-ping', undefined, opts), 'AGENT_NOT_CONNECTED', LAB_VARIANTS.noAgent);
    // Its .1 agent runs: found through dumpxml, answered through the socket.
    const t1 = await openTransport({ uri: LAB_URI, domain: LAB_VARIANTS.noAgent, channel: AGENT_CHANNEL_1 }, opts);
    try {
      expect(t1.kind).toBe('socket');
      expect(t1.describe).toBe(channelSocket(LAB_VARIANTS.noAgent, 1));
      expect(await call(t1, 'guest-ping', undefined, opts)).toEqual({});
    } finally {
      await t1.close();
    }
  });

  test('domain shut off (qgalab-off): DOMAIN_NOT_RUNNING via virsh and via the dumpxml lookup of its .1 channel', async () => {
    const virsh = new VirshTransport({ uri: LAB_URI, domain: LAB_VARIANTS.off });
    const err = await expectUnreachable(call(virsh, 'guest-ping', undefined, opts), 'DOMAIN_NOT_RUNNING', `${LAB_VARIANTS.off} on ${LAB_URI}`);
    expect(err.message).toContain('not running');
    // dumpxml still lists the channel of a shut-off domain; the lookup says the domain is off.
    await expectUnreachable(openTransport({ uri: LAB_URI, domain: LAB_VARIANTS.off, channel: AGENT_CHANNEL_1 }, opts), 'DOMAIN_NOT_RUNNING', `${LAB_VARIANTS.off} on ${LAB_URI}`);
  });

  test('no such domain: NO_SUCH_DOMAIN naming it, through virsh and through the dumpxml lookup of a channel', async () => {
    const virsh = new VirshTransport({ uri: LAB_URI, domain: LAB_MISSING_GUEST });
    await expectUnreachable(call(virsh, 'guest-ping', undefined, opts), 'NO_SUCH_DOMAIN', `${LAB_MISSING_GUEST} on ${LAB_URI}`);
    await expectUnreachable(openTransport({ uri: LAB_URI, domain: LAB_MISSING_GUEST, channel: AGENT_CHANNEL_1 }, opts), 'NO_SUCH_DOMAIN', LAB_MISSING_GUEST);
  });

  test('no agent channel (qgalab-nochannel): AGENT_NOT_CONFIGURED via virsh, "has no guest agent channel" via openTransport', async () => {
    const virsh = new VirshTransport({ uri: LAB_URI, domain: LAB_VARIANTS.noChannel });
    const err = await expectUnreachable(call(virsh, 'guest-ping', undefined, opts), 'AGENT_NOT_CONFIGURED', `${LAB_VARIANTS.noChannel} on ${LAB_URI}`);
    expect(err.message).toContain('not configured');
    await expectUnreachable(
      openTransport({ uri: LAB_URI, domain: LAB_VARIANTS.noChannel, channel: AGENT_CHANNEL_1 }, opts),
      'AGENT_NOT_CONFIGURED',
      `${LAB_VARIANTS.noChannel} on ${LAB_URI}`,
      'has no guest agent channel',
    );
  });

  test('a channel name the domain lacks: CHANNEL_NOT_FOUND listing the channels it has', async () => {
    await expectUnreachable(
      openTransport({ uri: LAB_URI, domain: GUEST, channel: 'org.qemu.guest_agent.7' }, opts),
      'CHANNEL_NOT_FOUND',
      GUEST,
      'org.qemu.guest_agent.7',
      'org.qemu.guest_agent.0, org.qemu.guest_agent.1',
    );
  });
});

labSuite(`faults: .0 agent of ${GUEST} hung (SIGSTOP), reached through virsh`, () => {
  const sock1 = channelSocket(GUEST, 1);
  const virsh = new VirshTransport({ uri: LAB_URI, domain: GUEST });
  const cont = (): ReturnType<typeof guestExec> => guestExec(sock1, '/bin/sh', ['-c', signalAgent(0, 'CONT')]);

  beforeAll(async () => {
    const r = await guestExec(sock1, '/bin/sh', ['-c', signalAgent(0, 'STOP')]);
    expect(r.exitcode).toBe(0);
    expect(r.stdout).toMatch(/^State:\s+T/);
  });
  afterAll(async () => {
    await cont(); // idempotent: the last test already did it unless it failed early
  });

  test(`a request with a ${HANG_MS} ms deadline fails as TimeoutError within the deadline, not libvirt's 5 s, every time`, async () => {
    for (let i = 0; i < 2; i++) {
      const t0 = performance.now();
      const err = await failure(call(virsh, 'guest-ping', undefined, { timeoutMs: HANG_MS }));
      const ms = performance.now() - t0;
      console.log(`[lab] hung .0 of ${GUEST} through VirshTransport, request ${i + 1}: ${err.constructor.name} after ${ms.toFixed(0)} ms (deadline ${HANG_MS} ms)`);
      expect(err).toBeInstanceOf(TimeoutError);
      expect(err).toMatchObject({ code: 'TIMEOUT', timeoutMs: HANG_MS });
      expect(err.message).toContain(`${GUEST} on ${LAB_URI}`);
      expect(ms).toBeGreaterThanOrEqual(HANG_MS - 50);
      expect(ms).toBeLessThan(HANG_MS + SLACK_MS);
    }
  });

  test('qga-play agent --timeout 1.5 exits 3 quickly, naming the domain', async () => {
    const t0 = performance.now();
    const r = await runCli(['agent', '--timeout', '1.5', GUEST, '{"execute":"guest-ping"}'], { timeout: 20_000 });
    const ms = performance.now() - t0;
    console.log(`[lab] hung .0 of ${GUEST}: qga-play agent --timeout 1.5 exited ${r.exitCode} after ${ms.toFixed(0)} ms (process start included)`);
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${GUEST} on ${LAB_URI}`);
    expect(r.stderr).toContain('within 1.5 s');
    expect(ms).toBeGreaterThanOrEqual(HANG_MS);
    // Node start-up (~0.4 s) on top of the deadline; a hung agent through plain virsh costs 5 s.
    expect(ms).toBeLessThan(HANG_MS + SLACK_MS + 1500);
  });

  test('after SIGCONT the agent answers through virsh again', async () => {
    const r = await cont();
    expect(r.exitcode).toBe(0);
    expect(r.stdout).toMatch(/^State:\s+[SR]/);
    const ping = await untilAnswered('guest-ping after SIGCONT', () => call(virsh, 'guest-ping', undefined, { timeoutMs: 5000 }));
    console.log(`[lab] hung .0 of ${GUEST}: answered again after SIGCONT on attempt ${ping.attempts}`);
    expect(ping.value).toEqual({});
    const before = await nsVia1(GUEST);
    const ns = await call(virsh, 'guest-get-time', undefined, { timeoutMs: 5000 });
    const after = await nsVia1(GUEST);
    expect(ns).toBeGreaterThanOrEqual(before);
    expect(ns).toBeLessThanOrEqual(after);
  }, 30_000);
});

labSuite(`faults: .1 agent of ${GUEST} hung (SIGSTOP), reached through one SocketTransport`, () => {
  const path = channelSocket(GUEST, 1);
  const { connector, stats } = countingConnector(path);
  const sock = new SocketTransport({ path, connector });
  const cont = (): ReturnType<typeof virshShell> => virshShell(GUEST, signalAgent(1, 'CONT'));

  afterAll(async () => {
    try {
      await cont();
    } finally {
      await sock.close();
    }
  });

  test('times out within its deadline while hung, then resyncs and answers correctly on the same transport', async () => {
    expect(await call(sock, 'guest-ping', undefined, { timeoutMs: 10_000 })).toEqual({});
    const discardedBefore = sock.discarded;
    try {
      const stop = await virshShell(GUEST, signalAgent(1, 'STOP'));
      expect(stop.stdout).toMatch(/^State:\s+T/);
      // First the request itself goes unanswered, then the resync that the next request starts with.
      for (const command of ['guest-info', 'guest-ping'] as const) {
        const t0 = performance.now();
        const err = await failure(call(sock, command, undefined, { timeoutMs: HANG_MS }));
        const ms = performance.now() - t0;
        console.log(`[lab] hung .1 of ${GUEST} through SocketTransport, ${command}: ${err.constructor.name} after ${ms.toFixed(0)} ms (deadline ${HANG_MS} ms)`);
        expect(err).toBeInstanceOf(TimeoutError);
        // (timeoutMs is not compared here: see the known-bug test at the end of this file.)
        expect(err).toMatchObject({ code: 'TIMEOUT' });
        expect(err.message).toContain(path);
        expect(ms).toBeGreaterThanOrEqual(HANG_MS - 50);
        expect(ms).toBeLessThan(HANG_MS + SLACK_MS);
      }
    } finally {
      const r = await cont();
      expect(r.stdout).toMatch(/^State:\s+[SR]/);
    }
    // The late guest-info reply (an object) must not be taken for guest-get-time's (a number).
    const before = await nsVia0(GUEST);
    const ns = await call(sock, 'guest-get-time', undefined, { timeoutMs: 10_000 });
    const after = await nsVia0(GUEST);
    expect(typeof ns).toBe('number');
    expect(ns).toBeGreaterThanOrEqual(before);
    expect(ns).toBeLessThanOrEqual(after);
    const info = await call(sock, 'guest-info', undefined, { timeoutMs: 10_000 });
    expect(info.version).toMatch(/^\d+\.\d+/);
    expect(await call(sock, 'guest-ping', undefined, { timeoutMs: 10_000 })).toEqual({});
    // The same connection throughout: recovered by guest-sync-delimited, not by reconnecting;
    // the stale guest-info reply was thrown away.
    expect(stats.connections).toBe(1);
    expect(sock.discarded).toBeGreaterThan(discardedBefore);
  }, 30_000);
});

labSuite(`faults: a stale reply left on the .1 channel of ${GUEST} by a client that left mid-read`, () => {
  const path = channelSocket(GUEST, 1);
  const file = '/tmp/qga-play-stale.bin';
  const FILE_BYTES = 1024 * 1024;

  afterAll(async () => {
    await guestExec(path, '/bin/rm', ['-f', file]);
  });

  test('the next SocketTransport discards the stale tail and gets the right answers', async () => {
    const dd = await guestExec(path, '/bin/busybox', ['dd', 'if=/dev/urandom', `of=${file}`, 'bs=1024', `count=${FILE_BYTES / 1024}`]);
    expect(dd.exitcode).toBe(0);

    // A raw client: sync, open the file, ask for all of it, and leave at the first bytes.
    const raw = net.createConnection(path);
    let buf = Buffer.alloc(0);
    let wake: (() => void) | undefined;
    raw.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      wake?.();
    });
    const until = async <T>(take: () => T | undefined, what: string): Promise<T> => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const v = take();
        if (v !== undefined) return v;
        if (Date.now() > deadline) throw new Error(`raw client: no ${what} within 10 s`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 100);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = undefined;
      }
    };
    /** The next reply line (after the last 0xFF on it) that passes `ok`. */
    const reply = (ok: (v: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> =>
      until(() => {
        for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a)) {
          const line = buf.subarray(buf.lastIndexOf(0xff, nl) + 1, nl).toString('utf8');
          buf = buf.subarray(nl + 1);
          try {
            const v = JSON.parse(line) as Record<string, unknown>;
            if (ok(v)) return v;
          } catch {
            // the reply to the 0xFF itself, or noise: keep looking
          }
        }
        return undefined;
      }, what);

    let handle: number | undefined;
    let staleTransport: SocketTransport | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        raw.once('connect', resolve);
        raw.once('error', reject);
      });
      const id = Math.floor(Math.random() * 2 ** 31);
      raw.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(JSON.stringify({ execute: 'guest-sync-delimited', arguments: { id } }) + '\n')]));
      await reply((v) => v.return === id, 'guest-sync-delimited answer');
      raw.write(JSON.stringify({ execute: 'guest-file-open', arguments: { path: file, mode: 'r' } }) + '\n');
      const opened = await reply((v) => 'return' in v || 'error' in v, 'guest-file-open reply');
      expect(typeof opened.return).toBe('number');
      handle = opened.return as number;
      expect(buf.length).toBe(0);
      raw.write(JSON.stringify({ execute: 'guest-file-read', arguments: { handle, count: FILE_BYTES } }) + '\n');
      const firstBytes = await until(() => (buf.length > 0 ? buf.length : undefined), 'bytes of the guest-file-read reply');
      raw.destroy();
      // The reply is ~1.4 MB of base64: almost all of it is still to come.
      expect(firstBytes).toBeLessThan(256 * 1024);

      const { connector, stats } = countingConnector(path);
      staleTransport = new SocketTransport({ path, connector });
      const before = await nsVia0(GUEST);
      const ns = await call(staleTransport, 'guest-get-time', undefined, { timeoutMs: 15_000 });
      const after = await nsVia0(GUEST);
      // The tail of the abandoned reply really was in the channel, ahead of the answers.
      console.log(`[lab] stale reply: raw client left after ${firstBytes} bytes; the next client received ${stats.bytes} bytes before and with its first answer; discarded=${staleTransport.discarded}`);
      expect(stats.bytes).toBeGreaterThan(512 * 1024);
      expect(typeof ns).toBe('number');
      expect(ns).toBeGreaterThanOrEqual(before);
      expect(ns).toBeLessThanOrEqual(after);
      const info = await call(staleTransport, 'guest-info', undefined, { timeoutMs: 10_000 });
      expect(info.version).toMatch(/^\d+\.\d+/);
      // The agent kept the aborted client's handle: close it through the new client.
      expect(await call(staleTransport, 'guest-file-close', { handle }, { timeoutMs: 10_000 })).toEqual({});
      handle = undefined;
      const staleDiscarded = staleTransport.discarded;
      await staleTransport.close();
      staleTransport = undefined;

      // A client on a clean channel discards only the agent's answer to the 0xFF it sent.
      const clean = new SocketTransport({ path });
      try {
        expect(await call(clean, 'guest-ping', undefined, { timeoutMs: 10_000 })).toEqual({});
        expect(staleDiscarded).toBeGreaterThan(clean.discarded);
      } finally {
        await clean.close();
      }
    } finally {
      raw.destroy();
      await staleTransport?.close();
      if (handle !== undefined) await qgaSocketRequest(path, 'guest-file-close', { handle });
    }
  }, 60_000);
});

/**
 * Known engine bug (reported, not fixed here): SocketTransport's TimeoutError carries the time
 * left in its last wait (one guest-sync-delimited attempt, or the reply wait after connect and
 * sync), not the request's deadline. A request with a 1.5 s deadline and 1 s sync attempts
 * waits 1.5 s and then says "within 500ms"; `qga-play agent --socket S --timeout 4` on a hung
 * agent waits 4 s and says "within 992ms". A silent unix socket is enough to show it (no lab).
 */
describe('SocketTransport on a socket that never answers', () => {
  let dir: string;
  let server: net.Server;
  let err: Error | undefined;
  let elapsedMs = 0;

  beforeAll(async () => {
    dir = mkdtempSync(nodePath.join(os.tmpdir(), 'qga-silent-'));
    server = net.createServer((c) => c.on('data', () => undefined));
    await new Promise<void>((resolve) => server.listen(nodePath.join(dir, 'silent.sock'), resolve));
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('fails as TimeoutError at the request deadline, naming the socket', async () => {
    const path = nodePath.join(dir, 'silent.sock');
    const t = new SocketTransport({ path, syncAttemptMs: 1000 });
    try {
      const t0 = performance.now();
      err = await failure(t.request({ execute: 'guest-ping' }, { timeoutMs: HANG_MS }));
      elapsedMs = performance.now() - t0;
    } finally {
      await t.close();
    }
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.message).toContain(path);
    expect(elapsedMs).toBeGreaterThanOrEqual(HANG_MS - 50);
    expect(elapsedMs).toBeLessThan(HANG_MS + SLACK_MS);
  });

  test('the TimeoutError names the request deadline (1.5 s), not the rest of the last sync attempt', () => {
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err!.message).toContain('within 1.5 s');
    expect(err).toMatchObject({ timeoutMs: HANG_MS });
  });
});
