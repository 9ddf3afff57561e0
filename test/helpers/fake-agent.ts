import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';

/** What the fake agent received: a parsed request, or the 0xFF flush byte. */
export type Incoming = { type: 'request'; execute: string; arguments?: Record<string, unknown>; id?: unknown; raw: string } | { type: 'flush' };

/** Decides what the fake agent does with one incoming message on one connection. */
export type Behaviour = (incoming: Incoming, conn: FakeConnection) => void;

export interface FakeConnection {
  socket: net.Socket;
  /** Index of this connection since the agent started. */
  index: number;
  write(data: string | Buffer): void;
  /** Answers `{"return": value}`, echoing the request's id as qemu-ga does (in a behaviour: the request being handled). */
  reply(value: unknown): void;
  /** Answers `{"error": {class, desc}}`, echoing the request's id. */
  error(errorClass: string, desc: string): void;
}

/** A reply line as qemu-ga writes it: the request's id echoed when it had one. */
export function replyLine(body: Record<string, unknown>, id?: unknown): string {
  return JSON.stringify(id === undefined ? body : { ...body, id }) + '\n';
}

/** The well-behaved default: answers sync-delimited like qemu-ga, guest-ping with {}. */
export const wellBehaved: Behaviour = (incoming, conn) => {
  if (incoming.type === 'flush') {
    conn.write('{"error": {"class": "GenericError", "desc": "JSON parse error, stray \'\\ufffd\'"}}\n');
    return;
  }
  if (incoming.execute === 'guest-sync-delimited') {
    conn.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(replyLine({ return: incoming.arguments?.id }, incoming.id))]));
  } else if (incoming.execute === 'guest-ping') {
    conn.reply({});
  } else if (incoming.execute === 'guest-get-host-name') {
    conn.reply({ 'host-name': 'fake' });
  } else {
    conn.error('CommandNotFound', `The command ${incoming.execute} has not been found`);
  }
};

/** Fault modes: each wraps a behaviour (default: well-behaved) and attacks one way. */
export const modes = {
  /** Answers every guest-ping twice, the second copy `delayMs` later (after the next request went out). */
  duplicateReply(delayMs = 30, inner: Behaviour = wellBehaved): Behaviour {
    return (incoming, conn) => {
      inner(incoming, conn);
      if (incoming.type === 'request' && incoming.execute === 'guest-ping') setTimeout(() => conn.reply({}), delayMs);
    };
  },
  /** Before answering each request, sends the answer to the request before it again (a late reply). */
  lateReply(inner: Behaviour = wellBehaved): Behaviour {
    let previous: unknown;
    return (incoming, conn) => {
      if (incoming.type === 'request' && incoming.execute !== 'guest-sync-delimited') {
        if (previous !== undefined) conn.write(replyLine({ return: {} }, previous));
        previous = incoming.id;
      }
      inner(incoming, conn);
    };
  },
  /** Answers `command` with a return value nested `depth` levels deep. */
  deepReply(command: string, depth: number, inner: Behaviour = wellBehaved): Behaviour {
    return (incoming, conn) => {
      if (incoming.type === 'request' && incoming.execute === command) {
        conn.write(`{"return": ${'['.repeat(depth)}${']'.repeat(depth)}${incoming.id === undefined ? '' : `, "id": ${JSON.stringify(incoming.id)}`}}\n`);
      } else inner(incoming, conn);
    };
  },
  /** Floods `x\n` lines from the moment of connection until the client leaves (use as onConnect). */
  junkFlood(conn: FakeConnection): void {
    const junk = Buffer.from('x\n'.repeat(32768));
    const pump = (): void => {
      while (!conn.socket.destroyed && conn.socket.write(junk));
      if (!conn.socket.destroyed) conn.socket.once('drain', pump);
    };
    pump();
  },
  /** Answers `command` with a string reply of about `bytes` bytes. */
  hugeReply(command: string, bytes: number, inner: Behaviour = wellBehaved): Behaviour {
    return (incoming, conn) => {
      if (incoming.type === 'request' && incoming.execute === command) conn.reply('A'.repeat(bytes));
      else inner(incoming, conn);
    };
  },
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
    const write = (data: string | Buffer): void => {
      if (!socket.destroyed) socket.write(data);
    };
    // Each message gets a connection bound to its id, so a reply sent later still echoes it.
    const bound = (id: unknown): FakeConnection => ({
      socket,
      index,
      write,
      reply: (value) => write(replyLine({ return: value }, id)),
      error: (errorClass, desc) => write(replyLine({ error: { class: errorClass, desc } }, id)),
    });
    const index = agent.connections++;
    const conn = bound(undefined);
    onConnect?.(conn);
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      for (const byte of chunk) {
        if (byte === 0xff) {
          buffered = '';
          behaviour({ type: 'flush' }, bound(undefined));
          continue;
        }
        buffered += String.fromCharCode(byte);
        if (byte !== 0x0a) continue;
        const raw = buffered.trim();
        buffered = '';
        if (!raw) continue;
        const parsed = JSON.parse(raw) as { execute: string; arguments?: Record<string, unknown>; id?: unknown };
        if (parsed.execute !== 'guest-sync-delimited') agent.requests.push(parsed.execute);
        behaviour({ type: 'request', execute: parsed.execute, arguments: parsed.arguments, id: parsed.id, raw }, bound(parsed.id));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return agent;
}
