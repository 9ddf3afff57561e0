import { excerpt } from '../util/excerpt.js';
import { asReply, type QgaRequest, type RawReply } from '../qga/protocol.js';
import { MAX_REPLY_DEPTH, nestingDepth } from '../qga/decoder.js';
import { expectsNoReply, isResendSafe } from '../qga/agent-commands.js';
import { ProtocolError, TimeoutError, UnreachableError } from '../errors.js';
import { classifyVirshError, runVirsh, unreachableFrom, virshQuote, type VirshResult } from '../libvirt/virsh-cli.js';
import { asVirshResult, VirshSessionEndedError, type VirshSessionPool } from './virsh-session.js';
import type { RequestOptions, Transport } from './transport.js';

// Linux caps one argv string at 128 KiB (MAX_ARG_STRLEN); keep clear of it.
const MAX_ARG_BYTES = 120 * 1024;
/**
 * Longest request sent through a session's stdin. An interactive virsh reads a long line
 * slowly (measured on libvirt 9.0: see bench/virsh.js); longer requests go through a process.
 */
const SESSION_MAX_LINE_BYTES = 6 * 1024;
const NO_REPLY_WINDOW_MS = 5000;

/** Options of {@link VirshTransport}. */
export interface VirshTransportOptions {
  uri: string;
  domain: string;
  /** The virsh binary (default: `virsh` on PATH). */
  virsh?: string;
  /** Long-lived sessions of this URI; without them, one virsh process per request. */
  sessions?: VirshSessionPool;
}

/**
 * The standard channel org.qemu.guest_agent.0, which libvirt holds: `virsh qemu-agent-command
 * DOMAIN JSON`, through a shared long-lived virsh session when there is one (a request too long
 * for its stdin, or a domain name virsh's line parser cannot quote, takes a process of its own).
 * libvirt does its own guest-sync, so this transport must not. The window of a reply is a
 * host-side bracket around the command: the guest acted somewhere inside it.
 */
export class VirshTransport implements Transport {
  readonly kind = 'virsh' as const;
  readonly describe: string;
  private readonly options: VirshTransportOptions;

  constructor(options: VirshTransportOptions) {
    this.options = options;
    this.describe = `${options.domain} on ${options.uri}`;
  }

  async request(request: QgaRequest, options: RequestOptions): Promise<RawReply | null> {
    const json = JSON.stringify(request);
    // guest-shutdown and guest-suspend-* never reply: wait a short while for an error, no more.
    const noReply = expectsNoReply(request.execute);
    const timeoutMs = noReply ? Math.min(options.timeoutMs, NO_REPLY_WINDOW_MS) : options.timeoutMs;
    // --timeout covers the command but not libvirt's own sync; the caller's deadline covers both.
    const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    let result: VirshResult;
    try {
      const line = this.commandLine(json, seconds);
      const pool = this.options.sessions;
      if (pool && line !== undefined && Buffer.byteLength(line) <= SESSION_MAX_LINE_BYTES) {
        const atSend = options.atSend;
        const build = atSend ? () => this.commandLine(JSON.stringify(atSend()), seconds) ?? line : line;
        result = await this.viaSession(pool, build, request, timeoutMs, options.signal);
      } else {
        const sent = options.atSend ? JSON.stringify(options.atSend()) : json;
        result = await this.viaProcess(sent, sent === json ? line : this.commandLine(sent, seconds), seconds, timeoutMs, options);
      }
    } catch (err) {
      if (noReply && err instanceof TimeoutError) return null;
      throw err;
    }
    return this.toReply(request, result);
  }

  private async viaSession(pool: VirshSessionPool, line: string | (() => string), request: QgaRequest, timeoutMs: number, signal?: AbortSignal): Promise<VirshResult> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return asVirshResult(await pool.run(line, Math.max(0, deadline - Date.now()), signal, this.describe));
      } catch (err) {
        // A session that died under a command (libvirtd restarted, ssh dropped): only a request
        // that changes nothing may be sent again.
        if (!(err instanceof VirshSessionEndedError) || attempt > 1 || !isResendSafe(request.execute) || Date.now() >= deadline) throw err;
      }
    }
  }

  private async viaProcess(json: string, line: string | undefined, seconds: number, timeoutMs: number, options: RequestOptions): Promise<VirshResult> {
    const secret = options.sensitive === true;
    if (!secret && Buffer.byteLength(json) > MAX_ARG_BYTES) {
      throw new ProtocolError(
        `${this.describe}: request is ${Buffer.byteLength(json)} bytes; through virsh one argument holds at most ${MAX_ARG_BYTES} (use a socket channel, or less data per step)`,
        'REQUEST_TOO_LARGE',
      );
    }
    if (secret && line === undefined) {
      throw new UnreachableError(`${this.describe}: cannot send a secret to a domain whose name has a quote or a line break`, 'UNSUPPORTED_ROUTE');
    }
    return runVirsh(['qemu-agent-command', this.options.domain, json, '--timeout', String(seconds)], {
      uri: this.options.uri,
      timeoutMs,
      signal: options.signal,
      virsh: this.options.virsh,
      what: this.describe,
      // A secret goes on stdin, never in the process table.
      stdinCommand: secret ? line : undefined,
    });
  }

  private toReply(request: QgaRequest, result: VirshResult): RawReply | null {
    if (result.exitCode === 0) {
      const text = result.stdout.trim();
      // Counted before parsing: a hostile guest's nesting must not reach JSON.parse or any walker.
      if (nestingDepth(text) > MAX_REPLY_DEPTH) {
        throw new ProtocolError(`${this.describe}: the reply nests objects and arrays deeper than ${MAX_REPLY_DEPTH} levels; refused`, 'REPLY_TOO_DEEP');
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        throw new ProtocolError(`${this.describe}: virsh printed something that is not JSON: ${JSON.stringify(excerpt(text, 200))}`, 'PROTOCOL', { cause: err });
      }
      const reply = asReply(value);
      if (!reply) throw new ProtocolError(`${this.describe}: not a QGA reply: ${JSON.stringify(excerpt(text, 200))}`);
      return result.commandWindow ? { text, reply, window: result.commandWindow } : { text, reply };
    }
    const failure = classifyVirshError(result.stderr);
    if (failure.kind === 'agent') {
      const reply = { error: { class: failure.errorClass, desc: failure.desc } };
      return { text: JSON.stringify(reply), reply };
    }
    // guest-shutdown and guest-suspend-* never reply: the agent leaving is their success.
    if (expectsNoReply(request.execute) && (failure.code === 'AGENT_DISAPPEARED' || failure.code === 'AGENT_TIMEOUT')) return null;
    throw unreachableFrom(result, this.describe, failure);
  }

  /**
   * The command as virsh's own parser reads it on stdin, or undefined when the domain name
   * cannot be quoted for it. Single quotes keep everything literal; JSON holds `'` only inside
   * strings, where `\u0027` means the same, so no quote can end it.
   */
  private commandLine(json: string, seconds: number): string | undefined {
    const domain = virshQuote(this.options.domain);
    return domain === undefined ? undefined : `qemu-agent-command --timeout ${seconds} -- ${domain} '${json.replace(/'/g, '\\u0027')}'`;
  }

  async close(): Promise<void> {}
}
