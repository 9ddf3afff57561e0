import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SocketTransport } from '../../src/transport/socket.js';
import { call } from '../../src/transport/transport.js';
import { AgentError } from '../../src/errors.js';
import { startHostAgents, HOST_AGENT_BLOCKED, type HostAgents } from '../helpers/host-agents.js';

// Real qemu-ga processes on this host (unix-listen mode), with every host-changing command
// blocked. guest-exec and file writes below stay harmless: echo, and a temp dir.
let agents: HostAgents;
let scratch: string;
const opts = { timeoutMs: 5000 };

beforeAll(async () => {
  agents = await startHostAgents(4);
  scratch = mkdtempSync(path.join(os.tmpdir(), 'qga-scratch-'));
}, 60_000);

afterAll(async () => {
  await agents?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

async function until<T>(fn: () => Promise<T>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('SocketTransport against real qemu-ga', () => {
  test('ping, info, time', async () => {
    const t = new SocketTransport({ path: agents.sockets[0]! });
    try {
      expect(await call(t, 'guest-ping', undefined, opts)).toEqual({});
      const info = await call(t, 'guest-info', undefined, opts);
      expect(info.version).toMatch(/^\d+\.\d+/);
      expect(info.supported_commands.find((c) => c.name === 'guest-set-time')?.enabled).toBe(false);
      expect(info.supported_commands.find((c) => c.name === 'guest-exec')?.enabled).toBe(true);
      const before = Date.now();
      const ns = await call(t, 'guest-get-time', undefined, opts);
      expect(ns / 1e6).toBeGreaterThanOrEqual(before - 1000);
      expect(ns / 1e6).toBeLessThanOrEqual(Date.now() + 1000);
    } finally {
      await t.close();
    }
  });

  test('a request built at send time is the one written, after the connection and its sync', async () => {
    const t = new SocketTransport({ path: agents.sockets[1]! });
    try {
      let built = 0;
      // Given as a ping, built as a time request: the reply shows which one the agent got.
      const raw = await t.request({ execute: 'guest-ping' }, { ...opts, atSend: () => (built++, { execute: 'guest-get-time' }) });
      expect(built).toBe(1);
      expect(typeof (raw!.reply as { return: unknown }).return).toBe('number');
    } finally {
      await t.close();
    }
  });

  test('blocked commands answer CommandNotFound "has been disabled" (the host clock is safe)', async () => {
    const t = new SocketTransport({ path: agents.sockets[0]! });
    try {
      for (const command of ['guest-set-time', 'guest-shutdown', 'guest-fsfreeze-freeze']) {
        expect(HOST_AGENT_BLOCKED).toContain(command);
        const err = await t.request({ execute: command, arguments: command === 'guest-set-time' ? { time: 0 } : undefined }, opts);
        expect(err?.reply).toEqual({ error: { class: 'CommandNotFound', desc: `Command ${command} has been disabled` } });
      }
      await expect(call(t, 'guest-set-time', { time: 1 }, opts)).rejects.toBeInstanceOf(AgentError);
      const raw = await t.request({ execute: 'guest-no-such-thing' }, opts);
      expect(raw?.reply).toMatchObject({ error: { class: 'CommandNotFound' } });
      expect(raw?.text).toContain('guest-no-such-thing');
    } finally {
      await t.close();
    }
  });

  test('qemu-ga echoes the request id: the transport tags requests and keeps its own id out of the reply', async () => {
    const t = new SocketTransport({ path: agents.sockets[2]! });
    try {
      const own = await t.request({ execute: 'guest-ping' }, opts);
      // qemu-ga wrote `{"return": {}, "id": "qga-play-..."}`: the transport's id is left out.
      expect(own!.text).toBe('{"return": {}}');
      expect(own!.reply).toEqual({ return: {} });
      expect(t.echoesIds).toBe(true);
      // An error reply has the id first: `{"id": "qga-play-...", "error": ...}`.
      const failed = await t.request({ execute: 'guest-no-such-thing' }, opts);
      expect(failed!.text).toMatch(/^\{"error": \{"class": "CommandNotFound", "desc": "[^"]*"\}\}$/);
      const mine = await t.request({ execute: 'guest-no-such-thing', id: { caller: 42 } }, opts);
      expect(mine!.reply).toMatchObject({ id: { caller: 42 }, error: { class: 'CommandNotFound' } });
      expect(mine!.text).toMatch(/^\{"id": \{"caller": 42\}, "error": /);
      expect(t.mismatched).toBe(0);
    } finally {
      await t.close();
    }
  });

  test('guest-exec with captured output', async () => {
    const t = new SocketTransport({ path: agents.sockets[1]! });
    try {
      const { pid } = await call(t, 'guest-exec', { path: '/bin/echo', arg: ['hello', 'qga'], 'capture-output': true }, opts);
      const status = await until(async () => {
        const s = await call(t, 'guest-exec-status', { pid }, opts);
        if (!s.exited) throw new Error('not yet');
        return s;
      }, 5000);
      expect(status.exitcode).toBe(0);
      expect(Buffer.from(status['out-data'] ?? '', 'base64').toString()).toBe('hello qga\n');
    } finally {
      await t.close();
    }
  });

  test('file open, write, read, close in a temp dir', async () => {
    const t = new SocketTransport({ path: agents.sockets[1]! });
    const file = path.join(scratch, 'roundtrip.bin');
    const data = Buffer.from(Array.from({ length: 70000 }, (_, i) => i % 251));
    try {
      const w = await call(t, 'guest-file-open', { path: file, mode: 'w' }, opts);
      const written = await call(t, 'guest-file-write', { handle: w, 'buf-b64': data.toString('base64') }, opts);
      expect(written.count).toBe(data.length);
      await call(t, 'guest-file-close', { handle: w }, opts);
      expect(readFileSync(file)).toEqual(data);
      const r = await call(t, 'guest-file-open', { path: file, mode: 'r' }, opts);
      const read = await call(t, 'guest-file-read', { handle: r, count: 100000 }, opts);
      await call(t, 'guest-file-close', { handle: r }, opts);
      expect(read.eof).toBe(true);
      expect(Buffer.from(read['buf-b64'], 'base64')).toEqual(data);
    } finally {
      await t.close();
    }
  });

  test('a thousand requests over one connection all get their own answer', async () => {
    const t = new SocketTransport({ path: agents.sockets[2]! });
    try {
      const replies = await Promise.all(Array.from({ length: 1000 }, (_, i) => (i % 2 ? call(t, 'guest-ping', undefined, opts) : call(t, 'guest-get-time', undefined, opts))));
      replies.forEach((r, i) => (i % 2 ? expect(r).toEqual({}) : expect(typeof r).toBe('number')));
    } finally {
      await t.close();
    }
  });

  test('a client that left mid-reply does not confuse the next one', async () => {
    const big = path.join(scratch, 'big.bin');
    writeFileSync(big, Buffer.alloc(3 * 1024 * 1024, 0x61));
    const socketPath = agents.sockets[3]!;
    // A raw client opens the file, asks for all of it, and leaves after the first bytes.
    await new Promise<void>((resolve, reject) => {
      const s = net.createConnection(socketPath);
      let stage = 0;
      s.on('error', reject);
      s.on('data', (chunk) => {
        if (stage === 0) {
          const handle = JSON.parse(chunk.toString()).return as number;
          stage = 1;
          s.write(JSON.stringify({ execute: 'guest-file-read', arguments: { handle, count: 3 * 1024 * 1024 } }) + '\n');
        } else {
          s.destroy();
          resolve();
        }
      });
      s.write(JSON.stringify({ execute: 'guest-file-open', arguments: { path: big } }) + '\n');
    });
    // The host qemu-ga may exit on that (its restart loop brings it back): the next client
    // must get its own, correct answers.
    const t = new SocketTransport({ path: socketPath });
    try {
      const info = await until(() => call(t, 'guest-info', undefined, { timeoutMs: 2000 }), 10_000);
      expect(info.version).toMatch(/^\d/);
      expect(await call(t, 'guest-ping', undefined, opts)).toEqual({});
    } finally {
      await t.close();
    }
  });

  test('a reply over the cap is refused, the connection stays usable', async () => {
    const file = path.join(scratch, 'two-mib.bin');
    writeFileSync(file, Buffer.alloc(2 * 1024 * 1024, 0x62));
    const t = new SocketTransport({ path: agents.sockets[2]!, maxReplyBytes: 1024 * 1024 });
    try {
      const h = await call(t, 'guest-file-open', { path: file }, opts);
      await expect(call(t, 'guest-file-read', { handle: h, count: 2 * 1024 * 1024 }, opts)).rejects.toMatchObject({ code: 'REPLY_TOO_LARGE' });
      await call(t, 'guest-file-close', { handle: h }, opts);
      expect(await call(t, 'guest-ping', undefined, opts)).toEqual({});
    } finally {
      await t.close();
    }
  });
});
