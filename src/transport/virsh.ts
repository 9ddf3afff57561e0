import { asReply, type QgaRequest, type RawReply } from '../qga/protocol.js';
import { MAX_REPLY_DEPTH, nestingDepth } from '../qga/decoder.js';
import { expectsNoReply } from '../qga/commands.js';
import { ProtocolError, TimeoutError, UnreachableError } from '../errors.js';

// Linux caps one argv string at 128 KiB (MAX_ARG_STRLEN); keep clear of it.
const MAX_ARG_BYTES = 120 * 1024;
const NO_REPLY_WINDOW_MS = 5000;
import { classifyVirshError, runVirsh, unreachableFrom } from './virsh-exec.js';
import type { RequestOptions, Transport } from './transport.js';

/** Options of {@link VirshTransport}. */
export interface VirshTransportOptions {
  uri: string;
  domain: string;
  /** The virsh binary (default: `virsh` on PATH). */
  virsh?: string;
}

/**
 * The standard channel org.qemu.guest_agent.0, which libvirt holds:
 * `virsh -c URI qemu-agent-command DOMAIN JSON`, one process per request. libvirt does its own
 * guest-sync, so this transport must not.
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
    if (Buffer.byteLength(json) > MAX_ARG_BYTES) {
      throw new ProtocolError(
        `${this.describe}: ${request.execute} request is ${Buffer.byteLength(json)} bytes; through virsh one argument holds at most ${MAX_ARG_BYTES} (use a socket channel, or less data per step)`,
        'REQUEST_TOO_LARGE',
      );
    }
    // guest-shutdown and guest-suspend-* never reply: wait a short while for an error, no more.
    const noReply = expectsNoReply(request.execute);
    const timeoutMs = noReply ? Math.min(options.timeoutMs, NO_REPLY_WINDOW_MS) : options.timeoutMs;
    // --timeout covers the command but not libvirt's own sync; the subprocess deadline covers both.
    const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    const args = ['qemu-agent-command', this.options.domain, json, '--timeout', String(seconds)];
    let result;
    try {
      result = await runVirsh(args, {
        uri: this.options.uri,
        timeoutMs,
        signal: options.signal,
        virsh: this.options.virsh,
        what: this.describe,
        timing: true,
        stdinCommand: options.sensitive ? this.commandLine(json, seconds) : undefined,
      });
    } catch (err) {
      if (noReply && err instanceof TimeoutError) return null;
      throw err;
    }
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
        throw new ProtocolError(`${this.describe}: virsh printed something that is not JSON: ${JSON.stringify(text.slice(0, 200))}`, 'PROTOCOL', { cause: err });
      }
      const reply = asReply(value);
      if (!reply) throw new ProtocolError(`${this.describe}: not a QGA reply: ${JSON.stringify(text.slice(0, 200))}`);
      // The agent ran inside the command's own time, not virsh's start-up and connection.
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
   * The command as virsh's own parser reads it on stdin. Single quotes keep everything literal;
   * JSON holds `'` only inside strings, where `\u0027` means the same, so no quote can end it.
   */
  private commandLine(json: string, seconds: number): string {
    const domain = this.options.domain;
    if (/['\n\r]/.test(domain)) {
      throw new UnreachableError(`${this.describe}: cannot send a secret to a domain whose name has a quote or a line break`, 'UNSUPPORTED_ROUTE');
    }
    return `qemu-agent-command --timeout ${seconds} -- '${domain}' '${json.replace(/'/g, '\\u0027')}'`;
  }

  async close(): Promise<void> {}
}
