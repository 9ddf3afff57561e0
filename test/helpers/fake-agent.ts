import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';

/** What the fake agent received: a parsed request, or the 0xFF flush byte. */
export type Incoming = { type: 'request'; execute: string; arguments?: Record<string, unknown>; raw: string } | { type: 'flush' };

/** Decides what the fake agent does with one incoming message on one connection. */
export type Behaviour = (incoming: Incoming, conn: FakeConnection) => void;

export interface FakeConnection {
  socket: net.Socket;
  /** Index of this connection since the agent started. */
  index: number;
  write(data: string | Buffer): void;
  reply(value: unknown): void;
}

/** The well-behaved default: answers sync-delimited like qemu-ga, guest-ping with {}. */
export const wellBehaved: Behaviour = (incoming, conn) => {
  if (incoming.type === 'flush') {
    conn.write('{"error": {"class": "GenericError", "desc": "JSON parse error, stray \'\\ufffd\'"}}\n');
    return;
  }
  if (incoming.execute === 'guest-sync-delimited') {
    conn.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(JSON.stringify({ return: incoming.arguments?.id }) + '\n')]));
  } else if (incoming.execute === 'guest-ping') {
    conn.reply({});
  } else {
    conn.write(JSON.stringify({ error: { class: 'CommandNotFound', desc: `The command ${incoming.execute} has not been found` } }) + '\n');
  }
};

export interface FakeAgent {
  path: string;
  connections: number;
  /** Requests seen, in order (flushes excluded). */
  requests: string[];
  stop(): Promise<void>;
}

/**
 * A unix-socket peer that speaks just enough QGA for fault injection: the behaviour decides,
 * per message, what (if anything) to write back.
 */
export async function startFakeAgent(behaviour: Behaviour, onConnect?: (conn: FakeConnection) => void): Promise<FakeAgent> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qga-fake-'));
  const socketPath = path.join(dir, 'agent.sock');
  const sockets = new Set<net.Socket>();
  const agent: FakeAgent = {
    path: socketPath,
    connections: 0,
    requests: [],
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const conn: FakeConnection = {
      socket,
      index: agent.connections++,
      write: (data) => {
        if (!socket.destroyed) socket.write(data);
      },
      reply: (value) => conn.write(JSON.stringify({ return: value }) + '\n'),
    };
    onConnect?.(conn);
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      for (const byte of chunk) {
        if (byte === 0xff) {
          buffered = '';
          behaviour({ type: 'flush' }, conn);
          continue;
        }
        buffered += String.fromCharCode(byte);
        if (byte !== 0x0a) continue;
        const raw = buffered.trim();
        buffered = '';
        if (!raw) continue;
        const parsed = JSON.parse(raw) as { execute: string; arguments?: Record<string, unknown> };
        if (parsed.execute !== 'guest-sync-delimited') agent.requests.push(parsed.execute);
        behaviour({ type: 'request', execute: parsed.execute, arguments: parsed.arguments, raw }, conn);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return agent;
}
