/**
 * The one in-memory transport of the unit tests: each request is answered by a function, with
 * no socket or process. For faults a real agent cannot produce on demand and for step logic;
 * real agents (host-agents.ts) and the fake socket agent (fake-agent.ts) test the wire.
 */
import { abortError } from '../../src/errors.js';
import type { QgaRequest, RawReply } from '../../src/qga/protocol.js';
import type { RequestOptions, Transport, TransportKind } from '../../src/transport/transport.js';
import { parsePlaybook } from '../../src/playbook/load.js';
import { runPlaybook } from '../../src/runner/run.js';
import type { RunEvent, RunResult } from '../../src/runner/types.js';

/** What a handler returns for a command that sends no reply (guest-shutdown). */
export const NO_REPLY = Symbol('no reply');

/** Answers one request: a reply body (`ok(v)`, `agentError(...)`), NO_REPLY, or a throw. */
export type Handler = (vm: string, req: QgaRequest, options: RequestOptions) => unknown | Promise<unknown>;

export const ok = (value: unknown = {}) => ({ return: value });
export const agentError = (cls: string, desc: string) => ({ error: { class: cls, desc } });

/** A transport whose answers come from a function; every request is logged as `VM command`. */
export class MemoryTransport implements Transport {
  closed = false;
  constructor(
    readonly describe: string,
    private readonly handler: Handler,
    readonly log: string[] = [],
    readonly kind: TransportKind = 'socket',
  ) {}
  async request(req: QgaRequest, options: RequestOptions): Promise<RawReply | null> {
    if (options.signal?.aborted) throw abortError(options.signal);
    this.log.push(`${this.describe} ${req.execute}`);
    const reply = await new Promise((resolve, reject) => {
      options.signal?.addEventListener('abort', () => reject(abortError(options.signal!)), { once: true });
      Promise.resolve()
        .then(() => this.handler(this.describe, req, options))
        .then(resolve, reject);
    });
    if (reply === NO_REPLY) return null;
    return { text: JSON.stringify(reply), reply: reply as RawReply['reply'] };
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

/** A playbook of `yamlSteps` (the lines under `steps:`) on socket targets named `targets`. */
export function playbook(yamlSteps: string, targets = ['a', 'b'], extra = ''): ReturnType<typeof parsePlaybook>['playbook'] {
  const text = `name: t\n${extra}targets:\n${targets.map((t) => `  - vm: ${t}\n    socket: /fake/${t}.sock\n`).join('')}steps:\n${yamlSteps}`;
  return parsePlaybook(text, '/tmp/t.yaml').playbook;
}

/** Runs a playbook with one MemoryTransport per VM answering through `handler`. */
export async function runWith(
  pb: ReturnType<typeof playbook>,
  handler: Handler,
  options: { signal?: AbortSignal; concurrency?: number } = {},
): Promise<{ result: RunResult; log: string[]; events: RunEvent[]; transports: MemoryTransport[] }> {
  const log: string[] = [];
  const events: RunEvent[] = [];
  const transports: MemoryTransport[] = [];
  const result = await runPlaybook(pb, {
    ...options,
    listener: (e) => events.push(e),
    transportFor: (p) => {
      const t = new MemoryTransport(p.vm, handler, log);
      transports.push(t);
      return t;
    },
  });
  return { result, log, events, transports };
}
