import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { MAX_REPLY_DEPTH, ReplyDecoder, type DecoderEvent } from '../qga/decoder.js';
import { SyncHandshake } from '../qga/sync.js';
import { encodeRequest, type QgaReply, type QgaRequest, type RawReply } from '../qga/protocol.js';
import { expectsNoReply } from '../qga/agent-commands.js';
import { formatElapsed } from '../util/elapsed.js';
import { hostNowMs } from '../util/clock.js';
import {
  abortError,
  ProtocolError,
  TimeoutError,
  UnreachableError,
  type UnreachableCode,
} from '../errors.js';
import type { RequestOptions, Transport, TransportKind } from './transport.js';

/** Opens the byte stream to an agent; rejects with an UnreachableError. */
export type Connector = (deadline: number, signal?: AbortSignal) => Promise<Duplex>;

/** Options of {@link SocketTransport}. */
export interface SocketTransportOptions {
  /** The agent's socket path (also used in every message). */
  path: string;
  /** Opens the stream; defaults to a unix-socket connection to `path`. */
  connector?: Connector;
  kind?: TransportKind;
  /** Largest reply accepted, in bytes (default 16 MiB); a longer one is dropped unread. */
  maxReplyBytes?: number;
  /** Longest wait for one guest-sync-delimited answer before sending a new one (default 3 s). */
  syncAttemptMs?: number;
  /** How long to wait for an error after a command that replies only on failure (default 3 s). */
  noReplyWindowMs?: number;
  /**
   * Most lines that are not the awaited reply (junk, stale or foreign replies) one request may
   * cost before the connection is closed as flooding (default 1,000; a real agent sends two or
   * three: the parse error of the sync's 0xFF, a stale reply or its tail).
   */
  maxForeignLines?: number;
}

// Bytes one request may cost beyond two of its largest replies (one may be the tail of a refused
// one before it) before the connection is closed as flooding.
const FLOOD_SLACK_BYTES = 1024 * 1024;

const PROCESS_TAG = randomBytes(4).toString('hex');
let transportSerial = 0;

interface Waiter {
  onEvent(event: DecoderEvent): void;
  onClose(error: UnreachableError): void;
}

/**
 * A direct connection to an agent's chardev socket. One connection is kept for the transport's
 * life and reopened only after it drops; requests are serialised (one in flight); the stream
 * is resynchronised with guest-sync-delimited after connecting and after any timeout, abort or
 * refused reply, so stale bytes never reach a caller. Every request carries an `id` (the
 * caller's, else a fresh one), which qemu-ga echoes in its reply: a reply with another id (a
 * duplicate, a late answer to an earlier request) is dropped and counted, never taken as the
 * answer to the request in flight. The sync request carries an id too: an agent that does not
 * echo it has its id-less replies taken in order (only resynchronisation protects those).
 */
export class SocketTransport implements Transport {
  readonly kind: TransportKind;
  readonly describe: string;
  readonly path: string;
  private readonly connector: Connector;
  private readonly decoder: ReplyDecoder;
  private readonly syncAttemptMs: number;
  private readonly noReplyWindowMs: number;
  private readonly maxForeignLines: number;
  // What the current request has cost so far: every byte read, and the lines that were not its answer.
  private bytesRead = 0;
  private foreignLines = 0;
  private stream: Duplex | null = null;
  private synced = false;
  private waiter: Waiter | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Bytes of stale replies and noise thrown away by resynchronisation (for diagnostics). */
  discarded = 0;
  /** Replies dropped because their id was not the request's (duplicates, late answers). */
  mismatched = 0;
  // Unique per transport (random per process, then counted): an earlier client's late reply cannot carry one of our ids.
  private readonly idPrefix = `qga-play-${PROCESS_TAG}-${(++transportSerial).toString(36)}-`;
  private lastId = 0;
  /** Learnt at each sync: whether the agent echoes request ids (one that does not has its replies taken in order). */
  echoesIds = true;

  constructor(options: SocketTransportOptions) {
    this.path = options.path;
    this.kind = options.kind ?? 'socket';
    this.describe = options.path;
    this.connector = options.connector ?? unixConnector(options.path);
    this.decoder = new ReplyDecoder({ maxReplyBytes: options.maxReplyBytes });
    this.syncAttemptMs = options.syncAttemptMs ?? 3000;
    this.noReplyWindowMs = options.noReplyWindowMs ?? 3000;
    this.maxForeignLines = options.maxForeignLines ?? 1000;
  }

  request(request: QgaRequest, options: RequestOptions): Promise<RawReply | null> {
    const run = this.tail.then(() => this.exchange(request, options));
    this.tail = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.drop();
  }

  private async exchange(request: QgaRequest, options: RequestOptions): Promise<RawReply | null> {
    const { signal } = options;
    if (signal?.aborted) throw abortError(signal);
    if (this.closed) throw new UnreachableError(`transport to ${this.path} is closed`, 'DISCONNECTED');
    const deadline = Date.now() + options.timeoutMs;
    let stage = 'connecting';
    this.bytesRead = 0;
    this.foreignLines = 0;
    const mismatchedBefore = this.mismatched;
    try {
      const stream = await this.connect(deadline, signal);
      stage = 'guest-sync-delimited';
      if (!this.synced) await this.sync(stream, deadline, signal);
      stage = request.execute;
      const noReply = expectsNoReply(request.execute);
      const sent = options.atSend?.() ?? request;
      const ownId = sent.id === undefined;
      const tagged: QgaRequest = ownId ? { ...sent, id: `${this.idPrefix}${++this.lastId}` } : sent;
      const startMs = hostNowMs();
      stream.write(encodeRequest(tagged));
      if (noReply) {
        const windowEnd = Math.min(deadline, Date.now() + this.noReplyWindowMs);
        try {
          return this.toReply(await this.next(tagged.id, windowEnd, signal), startMs, ownId ? tagged.id : undefined);
        } catch (err) {
          // No reply, or the agent went away with its guest: that is how these commands succeed.
          if (err instanceof TimeoutError || (err instanceof UnreachableError && err.code === 'DISCONNECTED')) return null;
          throw err;
        }
      }
      return this.toReply(await this.next(tagged.id, deadline, signal), startMs, ownId ? tagged.id : undefined);
    } catch (err) {
      // Inner waits time out per attempt; the caller's budget is what the message names.
      if (err instanceof TimeoutError) {
        const what = stage === 'connecting' ? `connecting to ${this.path}` : `no answer to ${stage} from agent at ${this.path}`;
        const n = this.mismatched - mismatchedBefore;
        const note = n > 0 ? ` (dropped ${n} ${n === 1 ? 'reply' : 'replies'} carrying another request's id)` : '';
        throw new TimeoutError(`${what} within ${formatElapsed(options.timeoutMs)}${note}`, options.timeoutMs, { cause: err });
      }
      throw err;
    }
  }

  private toReply(event: DecoderEvent, startMs: number, ownId: unknown): RawReply {
    if (event.type === 'reply') {
      // Our id is transport bookkeeping: callers see the reply as every transport gives it.
      if (ownId === undefined) return { text: event.text, reply: event.reply, window: { startMs, endMs: hostNowMs() } };
      return { text: textWithoutId(event.text, ownId), reply: withoutId(event.reply), window: { startMs, endMs: hostNowMs() } };
    }
    this.synced = false;
    if (event.type === 'oversize') {
      throw new ProtocolError(
        `reply from agent at ${this.path} exceeds ${this.decoder.maxReplyBytes} bytes; refused`,
        'REPLY_TOO_LARGE',
      );
    }
    if (event.type === 'too-deep') {
      throw new ProtocolError(`reply from agent at ${this.path} nests objects and arrays deeper than ${MAX_REPLY_DEPTH} levels; refused`, 'REPLY_TOO_DEEP');
    }
    throw new ProtocolError(`agent at ${this.path} sent something that is not a QGA reply: ${JSON.stringify(event.type === 'garbage' ? event.text : '')}`);
  }

  private async connect(deadline: number, signal?: AbortSignal): Promise<Duplex> {
    if (this.stream) return this.stream;
    const stream = await this.connector(deadline, signal);
    this.decoder.reset();
    this.synced = false;
    // Counted from the start of the request in flight (or the last one): a guest that floods
    // between requests reaches the budget too, and its connection is closed, not read on.
    stream.on('data', (chunk: Buffer) => {
      this.bytesRead += chunk.length;
      if (this.bytesRead > 2 * this.decoder.maxReplyBytes + FLOOD_SLACK_BYTES) return this.flood(stream, `${this.bytesRead} bytes`);
      for (const event of this.decoder.write(chunk)) {
        if (event.type === 'garbage' || event.type === 'reply') {
          // Every line counts; the request's own two (the sync's answer, its reply) are allowed for.
          if (++this.foreignLines > this.maxForeignLines + 2) return this.flood(stream, `${this.foreignLines} lines that were not its answer`);
        }
        if (this.waiter) this.waiter.onEvent(event);
        else this.discarded++;
      }
    });
    let lastError: Error | undefined;
    stream.on('error', (err: Error) => {
      lastError = err;
    });
    stream.on('close', () => {
      if (this.stream !== stream) return;
      this.stream = null;
      this.synced = false;
      this.decoder.reset();
      const detail = lastError ? `: ${lastError.message}` : '';
      this.waiter?.onClose(
        new UnreachableError(`agent at ${this.path} closed the connection${detail}`, 'DISCONNECTED', { cause: lastError }),
      );
    });
    this.stream = stream;
    return stream;
  }

  private async sync(stream: Duplex, deadline: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const handshake = new SyncHandshake();
      const attemptEnd = Math.min(deadline, Date.now() + this.syncAttemptMs);
      stream.write(handshake.bytes);
      try {
        await this.wait(attemptEnd, signal, (event) => handshake.accept(event) === 'done');
        this.discarded += handshake.discarded;
        this.echoesIds = handshake.echoesIds;
        this.synced = true;
        return;
      } catch (err) {
        this.discarded += handshake.discarded;
        if (!(err instanceof TimeoutError) || Date.now() >= deadline) throw err;
      }
    }
  }

  /**
   * The reply carrying `id`, or a refused/garbled line (anything but a bare delimiter or a
   * reply to another request).
   */
  private next(id: unknown, deadline: number, signal: AbortSignal | undefined): Promise<DecoderEvent> {
    let found: DecoderEvent | undefined;
    const wanted = JSON.stringify(id);
    return this.wait(deadline, signal, (event) => {
      if (event.type === 'delimiter') return false;
      if (event.type === 'reply' && JSON.stringify(event.reply.id) !== wanted && (this.echoesIds || event.reply.id !== undefined)) {
        this.mismatched++;
        return false;
      }
      found = event;
      return true;
    }).then(() => found!);
  }

  private wait(deadline: number, signal: AbortSignal | undefined, done: (event: DecoderEvent) => boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiter = null;
        if (err) reject(err);
        else resolve();
      };
      const onAbort = (): void => {
        this.synced = false;
        finish(abortError(signal!));
      };
      const ms = Math.max(0, deadline - Date.now());
      const timer = setTimeout(() => {
        this.synced = false;
        finish(new TimeoutError(`no answer from agent at ${this.path} within ${formatElapsed(ms)}`, ms));
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiter = {
        onEvent: (event) => {
          if (done(event)) finish();
        },
        onClose: (error) => finish(error),
      };
      if (!this.stream) finish(new UnreachableError(`agent at ${this.path} closed the connection`, 'DISCONNECTED'));
    });
  }

  /** Ends a connection whose agent sent more than one request may cost: that VM is unreachable, the others are not slowed. */
  private flood(stream: Duplex, what: string): void {
    if (this.stream !== stream) return;
    this.stream = null;
    this.synced = false;
    this.decoder.reset();
    stream.destroy();
    this.waiter?.onClose(new UnreachableError(`agent at ${this.path} sent ${what} for one request: closed the connection (a flooding guest)`, 'FLOODING'));
  }

  private drop(): void {
    const stream = this.stream;
    this.stream = null;
    this.synced = false;
    this.decoder.reset();
    // destroy(), never end(): QEMU takes a half-close for a disconnect and drops the request.
    stream?.destroy();
    this.waiter?.onClose(new UnreachableError(`transport to ${this.path} is closed`, 'DISCONNECTED'));
  }
}

function withoutId(reply: QgaReply): QgaReply {
  const { id: _id, ...rest } = reply;
  return rest as QgaReply;
}

/**
 * The reply's text without our id member. qemu-ga writes the top-level id first or last, so
 * only those two places are looked at (an id nested deeper, a guest echoing it, stays). No
 * regular expression: a guest's runs of whitespace must not cost more than one pass.
 */
function textWithoutId(text: string, id: unknown): string {
  const value = JSON.stringify(id);
  const blank = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
  const skip = (i: number, step: 1 | -1): number => {
    while (blank(text[i])) i += step;
    return i;
  };
  // Forward: `{ "id" : VALUE ,` at the start.
  let i = skip(1, 1);
  if (text[0] === '{' && text.startsWith('"id"', i)) {
    i = skip(i + 4, 1);
    if (text[i] === ':') {
      i = skip(i + 1, 1);
      if (text.startsWith(value, i)) {
        i = skip(i + value.length, 1);
        if (text[i] === ',') return `{${text.slice(skip(i + 1, 1))}`;
      }
    }
  }
  // Backward: `, "id" : VALUE }` at the end.
  let j = skip(text.length - 2, -1);
  if (text.endsWith('}') && text.endsWith(value, j + 1)) {
    j = skip(j - value.length, -1);
    if (text[j] === ':') {
      j = skip(j - 1, -1);
      if (text.endsWith('"id"', j + 1)) {
        j = skip(j - 4, -1);
        if (text[j] === ',') return `${text.slice(0, skip(j - 1, -1) + 1)}}`;
      }
    }
  }
  return text;
}

const CONNECT_ERRORS: Record<string, [UnreachableCode, string]> = {
  ENOENT: ['SOCKET_MISSING', 'no agent socket at PATH (is the VM running and the channel configured?)'],
  ECONNREFUSED: ['CONNECTION_REFUSED', 'connection refused on PATH (nothing listens there: VM stopped or socket stale)'],
  EACCES: ['PERMISSION_DENIED', 'permission denied on PATH (run as a user that may open the socket)'],
  ENOTSOCK: ['SOCKET_MISSING', 'PATH is not a socket'],
};

/** Connects to a unix socket, mapping failures to UnreachableError with the path. */
export function unixConnector(path: string): Connector {
  return (deadline, signal) =>
    new Promise<Duplex>((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal));
      const socket = net.createConnection({ path });
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.off('connect', onConnect);
        socket.off('error', onError);
        if (err) {
          socket.destroy();
          reject(err);
        } else resolve(socket);
      };
      const onConnect = (): void => finish();
      const onError = (err: NodeJS.ErrnoException): void => {
        const known = err.code ? CONNECT_ERRORS[err.code] : undefined;
        if (known) finish(new UnreachableError(known[1].replace('PATH', path), known[0], { cause: err }));
        else finish(new UnreachableError(`cannot connect to agent socket ${path}: ${err.message}`, 'DISCONNECTED', { cause: err }));
      };
      const onAbort = (): void => finish(abortError(signal!));
      const ms = Math.max(0, deadline - Date.now());
      const timer = setTimeout(() => finish(new TimeoutError(`connecting to ${path} took longer than ${formatElapsed(ms)}`, ms)), ms);
      socket.once('connect', onConnect);
      socket.once('error', onError);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
}
