import { afterEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import os from 'node:os';
import path from 'node:path';
import { SocketTransport } from '../../src/transport/socket.js';
import { call } from '../../src/transport/transport.js';
import { CanceledError, ProtocolError, TimeoutError, UnreachableError } from '../../src/errors.js';
import { modes, replyLine, startFakeAgent, wellBehaved, type Behaviour, type FakeAgent } from '../helpers/fake-agent.js';

const FF = Buffer.from([0xff]);
let agent: FakeAgent | undefined;
let transport: SocketTransport | undefined;

afterEach(async () => {
  await transport?.close();
  await agent?.stop();
  agent = undefined;
  transport = undefined;
});

async function setup(behaviour: Behaviour, onConnect?: Parameters<typeof startFakeAgent>[1], options: Partial<ConstructorParameters<typeof SocketTransport>[0]> = {}): Promise<SocketTransport> {
  agent = await startFakeAgent(behaviour, onConnect);
  transport = new SocketTransport({ path: agent.path, ...options });
  return transport;
}

const ping = (t: SocketTransport, timeoutMs = 2000, signal?: AbortSignal) =>
  t.request({ execute: 'guest-ping' }, { timeoutMs, signal });

describe('SocketTransport against a fake agent', () => {
  test('stale replies and a half message before the sync are discarded', async () => {
    const t = await setup(wellBehaved, (conn) => {
      conn.write('{"return": {"stale": true}}\n{"return": 123}\n{"return": {"half": "AAAA');
    });
    const before = performance.timeOrigin + performance.now();
    const raw = await ping(t);
    // The agent echoed the transport's id; callers see the reply without it.
    expect(raw).toMatchObject({ text: '{"return":{}}', reply: { return: {} } });
    // The window runs from writing the request to reading its reply: after the resync.
    expect(raw!.window!.startMs).toBeGreaterThan(before);
    expect(raw!.window!.endMs).toBeGreaterThanOrEqual(raw!.window!.startMs);
    expect(t.discarded).toBeGreaterThanOrEqual(2);
  });

  test('a sync answer with a wrong id is ignored', async () => {
    const t = await setup((incoming, conn) => {
      if (incoming.type === 'request' && incoming.execute === 'guest-sync-delimited') {
        conn.write(Buffer.concat([FF, Buffer.from('{"return": 1}\n')]));
      }
      wellBehaved(incoming, conn);
    });
    await expect(ping(t)).resolves.toMatchObject({ reply: { return: {} } });
  });

  test('garbage after the delimiter: the handshake waits for the next delimiter', async () => {
    let first = true;
    const t = await setup(
      (incoming, conn) => {
        if (incoming.type === 'request' && incoming.execute === 'guest-sync-delimited' && first) {
          first = false;
          // The delimiter is followed by garbage, so the id that comes after cannot be trusted.
          conn.write(Buffer.concat([FF, Buffer.from('#garbage#\n'), Buffer.from(`{"return": ${String(incoming.arguments?.id)}}\n`)]));
          return;
        }
        wellBehaved(incoming, conn);
      },
      undefined,
      { syncAttemptMs: 200 },
    );
    await expect(ping(t)).resolves.toMatchObject({ reply: { return: {} } });
    expect(agent!.requests).toEqual(['guest-ping']);
  });

  test('replies one byte at a time', async () => {
    let clock = 0;
    const t = await setup((incoming, conn) => {
      const out: Buffer[] = [];
      const id = incoming.type === 'request' ? incoming.id : undefined;
      const push = (d: string | Buffer): void => void out.push(Buffer.from(d));
      const capture = { ...conn, write: push, reply: (v: unknown) => push(replyLine({ return: v }, id)), error: (c: string, d: string) => push(replyLine({ error: { class: c, desc: d } }, id)) };
      wellBehaved(incoming, capture);
      const bytes = Buffer.concat(out);
      // One shared clock keeps the bytes of successive replies in order.
      for (let i = 0; i < bytes.length; i++) setTimeout(() => conn.write(bytes.subarray(i, i + 1)), clock++);
    });
    await expect(ping(t, 5000)).resolves.toMatchObject({ reply: { return: {} } });
  });

  test('a hang is a TimeoutError naming the socket, bounded by the deadline', async () => {
    const t = await setup((incoming, conn) => {
      if (incoming.type === 'request' && incoming.execute === 'guest-ping') return; // never answers
      wellBehaved(incoming, conn);
    });
    const started = Date.now();
    const err = await ping(t, 300).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as Error).message).toContain(agent!.path);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test('an agent that never answers the sync is unreachable within the deadline', async () => {
    const t = await setup(() => undefined, undefined, { syncAttemptMs: 100 });
    const err = await ping(t, 350).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    // The message names the request's budget, not the last sync attempt's remainder.
    expect((err as Error).message).toMatch(/no answer to guest-sync-delimited from agent at .*agent\.sock within 350 ms/);
    expect(err).toMatchObject({ timeoutMs: 350 });
  });

  test('after a timeout the next request resyncs and never sees the late reply', async () => {
    let n = 0;
    const t = await setup((incoming, conn) => {
      if (incoming.type === 'request' && incoming.execute === 'guest-get-time') {
        n++;
        if (n === 1) setTimeout(() => conn.reply(111), 300); // late: arrives after the timeout
        else conn.reply(222);
        return;
      }
      wellBehaved(incoming, conn);
    });
    await expect(t.request({ execute: 'guest-get-time' }, { timeoutMs: 100 })).rejects.toBeInstanceOf(TimeoutError);
    await new Promise((r) => setTimeout(r, 350));
    await expect(t.request({ execute: 'guest-get-time' }, { timeoutMs: 1000 })).resolves.toMatchObject({ reply: { return: 222 } });
    expect(agent!.connections).toBe(1);
  });

  test('a disconnect mid-reply is unreachable; the next request reconnects', async () => {
    const t = await setup((incoming, conn) => {
      if (incoming.type === 'request' && incoming.execute === 'guest-info' && conn.index === 0) {
        conn.write('{"return": {"version": "7.');
        setTimeout(() => conn.socket.destroy(), 20);
        return;
      }
      wellBehaved(incoming, conn);
    });
    const err = await t.request({ execute: 'guest-info' }, { timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as UnreachableError).code).toBe('DISCONNECTED');
    expect((err as Error).message).toContain(agent!.path);
    await expect(ping(t)).resolves.toMatchObject({ reply: { return: {} } });
    expect(agent!.connections).toBe(2);
  });

  test('garbage instead of a reply is a ProtocolError, and the stream recovers', async () => {
    let n = 0;
    const t = await setup((incoming, conn) => {
      if (incoming.type === 'request' && incoming.execute === 'guest-ping' && n++ === 0) {
        conn.write('SSH-2.0-OpenSSH_9.2\n');
        return;
      }
      wellBehaved(incoming, conn);
    });
    const err = await ping(t).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toContain('SSH-2.0');
    await expect(ping(t)).resolves.toMatchObject({ reply: { return: {} } });
  });

  test('a reply over the cap is refused without buffering it, then the stream recovers', async () => {
    const t = await setup(
      (incoming, conn) => {
        if (incoming.type === 'request' && incoming.execute === 'guest-file-read') {
          conn.write(`{"return": {"count": 3000000, "buf-b64": "${'A'.repeat(4_000_000)}", "eof": true}}\n`);
          return;
        }
        wellBehaved(incoming, conn);
      },
      undefined,
      { maxReplyBytes: 1024 * 1024 },
    );
    const err = await t.request({ execute: 'guest-file-read', arguments: { handle: 1 } }, { timeoutMs: 5000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe('REPLY_TOO_LARGE');
    await expect(ping(t, 5000)).resolves.toMatchObject({ reply: { return: {} } });
  });

  test('one request in flight: concurrent callers are serialised on one connection', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const t = await setup((incoming, conn) => {
      if (incoming.type === 'request' && incoming.execute === 'guest-ping') {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        setTimeout(() => {
          inFlight--;
          conn.reply({});
        }, 5);
        return;
      }
      wellBehaved(incoming, conn);
    });
    await Promise.all(Array.from({ length: 20 }, () => ping(t)));
    expect(maxInFlight).toBe(1);
    expect(agent!.connections).toBe(1);
    expect(agent!.requests).toHaveLength(20);
  });

  test('an abort cancels the request; an aborted signal rejects at once', async () => {
    const t = await setup((incoming, conn) => {
      if (incoming.type === 'request' && incoming.execute === 'guest-ping') return;
      wellBehaved(incoming, conn);
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await expect(ping(t, 5000, controller.signal)).rejects.toBeInstanceOf(CanceledError);
    await expect(ping(t, 5000, AbortSignal.abort())).rejects.toBeInstanceOf(CanceledError);
  });

  test('guest-shutdown sends no reply: that is success, not a timeout', async () => {
    const t = await setup((incoming, conn) => {
      if (incoming.type === 'request' && incoming.execute === 'guest-shutdown') return;
      wellBehaved(incoming, conn);
    }, undefined, { noReplyWindowMs: 100 });
    await expect(t.request({ execute: 'guest-shutdown' }, { timeoutMs: 5000 })).resolves.toBeNull();
  });

  test('guest-shutdown that fails still reports the agent error', async () => {
    const t = await setup(wellBehaved, undefined, { noReplyWindowMs: 1000 });
    await expect(call(t, 'guest-shutdown', undefined, { timeoutMs: 2000 })).rejects.toMatchObject({ code: 'AGENT_ERROR', errorClass: 'CommandNotFound' });
  });
});

describe('SocketTransport ties replies to requests', () => {
  test('a duplicated reply never becomes the next request\'s answer', async () => {
    const slowHostname: Behaviour = (incoming, conn) => {
      if (incoming.type === 'request' && incoming.execute === 'guest-get-host-name') setTimeout(() => wellBehaved(incoming, conn), 100);
      else wellBehaved(incoming, conn);
    };
    const t = await setup(modes.duplicateReply(30, slowHostname));
    await expect(ping(t)).resolves.toMatchObject({ reply: { return: {} } });
    // The duplicate {} arrives while guest-get-host-name is in flight.
    const raw = await t.request({ execute: 'guest-get-host-name' }, { timeoutMs: 2000 });
    expect(raw!.reply).toEqual({ return: { 'host-name': 'fake' } });
    expect(t.mismatched).toBe(1);
  });

  test('a late reply to the previous request, sent before the right one, is dropped', async () => {
    const t = await setup(modes.lateReply());
    await expect(ping(t)).resolves.toMatchObject({ reply: { return: {} } });
    for (let i = 0; i < 3; i++) {
      await expect(t.request({ execute: 'guest-get-host-name' }, { timeoutMs: 2000 })).resolves.toMatchObject({ reply: { return: { 'host-name': 'fake' } } });
    }
    expect(t.mismatched).toBe(3);
  });

  test('an agent that answers with another id only: the request times out saying so', async () => {
    const t = await setup((incoming, conn) => {
      if (incoming.type === 'request' && incoming.execute === 'guest-ping') conn.write('{"return": {}, "id": "someone-else"}\n');
      else wellBehaved(incoming, conn);
    });
    const err = await ping(t, 300).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/dropped 1 reply carrying another request's id/);
  });

  test('an agent that does not echo ids still gets its replies taken, in order; another id is still dropped', async () => {
    let n = 0;
    const t = await setup((incoming, conn) => {
      if (incoming.type === 'flush') return wellBehaved(incoming, conn);
      if (incoming.execute === 'guest-sync-delimited') return conn.write(Buffer.concat([FF, Buffer.from(replyLine({ return: incoming.arguments?.id }))]));
      if (n++ === 1) conn.write(replyLine({ return: { stale: true } }, 'qga-play-0-0'));
      conn.write(replyLine({ return: { n } }));
    });
    await expect(ping(t)).resolves.toMatchObject({ text: '{"return":{"n":1}}', reply: { return: { n: 1 } } });
    await expect(ping(t)).resolves.toMatchObject({ reply: { return: { n: 2 } } });
    expect(t.mismatched).toBe(1);
  });

  test("a caller's own id is sent as it is and kept in the reply", async () => {
    const t = await setup(wellBehaved);
    const raw = await t.request({ execute: 'guest-ping', id: { mine: 7 } }, { timeoutMs: 2000 });
    expect(raw!.reply).toEqual({ return: {}, id: { mine: 7 } });
  });

  test('a reply nested 3,000 levels deep is a protocol error for that request; the stream recovers', async () => {
    const t = await setup(modes.deepReply('guest-get-osinfo', 3000));
    const err = await t.request({ execute: 'guest-get-osinfo' }, { timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toMatchObject({ code: 'REPLY_TOO_DEEP' });
    await expect(ping(t)).resolves.toMatchObject({ reply: { return: {} } });
  });

  test('a junk flood: the connection is closed as FLOODING at the budget, long before the deadline', async () => {
    const t = await setup(wellBehaved, modes.junkFlood, { syncAttemptMs: 200 });
    const started = Date.now();
    const err = await ping(t, 20_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err).toMatchObject({ code: 'FLOODING', message: expect.stringContaining('a flooding guest') });
    // Not a timing target: it did not wait out the 20 s deadline reading junk.
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  const stale = (count: number): Behaviour => (incoming, conn) => {
    if (incoming.type === 'request' && incoming.execute === 'guest-ping') for (let i = 0; i < count; i++) conn.write(replyLine({ return: {} }, `old-${i}`));
    wellBehaved(incoming, conn);
  };
  test('900 stale replies before the answer: dropped, and the answer still taken', async () => {
    await expect(ping(await setup(stale(900)), 5000)).resolves.toMatchObject({ reply: { return: {} } });
  });
  test('5,000 stale replies before the answer: past the budget, FLOODING', async () => {
    await expect(ping(await setup(stale(5000)), 5000)).rejects.toMatchObject({ code: 'FLOODING' });
  });
});

describe('SocketTransport connection failures', () => {
  test('a missing socket is SOCKET_MISSING with the path', async () => {
    const t = new SocketTransport({ path: '/nonexistent/qga.sock' });
    const err = await ping(t).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err).toMatchObject({ code: 'SOCKET_MISSING' });
    expect((err as Error).message).toContain('/nonexistent/qga.sock');
  });

  test('a socket nobody listens on is CONNECTION_REFUSED', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'qga-refused-'));
    const socketPath = path.join(dir, 'dead.sock');
    // A listener killed with SIGKILL leaves its socket file behind: a real stale socket.
    const child = execa(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`], { buffer: false });
    await new Promise<void>((r) => child.stdout!.once('data', () => r()));
    child.kill('SIGKILL');
    await child.catch(() => undefined);
    try {
      const err = await ping(new SocketTransport({ path: socketPath })).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'CONNECTION_REFUSED' });
      expect((err as Error).message).toContain(socketPath);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a regular file is not a socket', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'qga-file-'));
    const file = path.join(dir, 'plain');
    writeFileSync(file, 'x');
    try {
      const err = await ping(new SocketTransport({ path: file })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnreachableError);
      expect((err as Error).message).toContain(file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
