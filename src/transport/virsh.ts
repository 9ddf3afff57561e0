import { asReply, type QgaRequest, type RawReply } from '../qga/protocol.js';
import { expectsNoReply } from '../qga/commands.js';
import { ProtocolError } from '../errors.js';
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
    // --timeout covers the command but not libvirt's own sync; the subprocess deadline covers both.
    const seconds = Math.max(1, Math.ceil(options.timeoutMs / 1000));
    const result = await runVirsh(
      ['qemu-agent-command', this.options.domain, JSON.stringify(request), '--timeout', String(seconds)],
      { uri: this.options.uri, timeoutMs: options.timeoutMs, signal: options.signal, virsh: this.options.virsh, what: this.describe, timing: true },
    );
    if (result.exitCode === 0) {
      const text = result.stdout.trim();
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

  async close(): Promise<void> {}
}
