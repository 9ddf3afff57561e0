import { TimeoutError, UnreachableError } from '../errors.js';
import type { ArgsOf, GuestInfo, QgaCommandName, ReturnOf } from '../qga/agent-commands.js';
import type { QgaRequest, RawReply } from '../qga/protocol.js';
import { call, type Transport } from '../transport/transport.js';
import { sleep } from '../util/sleep.js';
import type { LibvirtCallOptions } from '../inventory/channels.js';
import { domainState } from '../inventory/libvirt.js';
import { explainAgentError } from './agent-error.js';

export { disabledMessage, explainAgentError } from './agent-error.js';

/** The libvirt domain behind a VM, when there is one (for state checks). */
export interface DomainRef {
  uri: string;
  name: string;
  virsh?: string;
  /** Runs virsh the run's way (its shared sessions). */
  run?: LibvirtCallOptions['run'];
}

/** What earlier steps learned about a VM's agent. */
export interface VmFacts {
  info?: GuestInfo;
  /** A freeze was sent and no thaw has succeeded since: the run thaws before it leaves. */
  frozen?: boolean;
}

/** What a step runs with: its VM's transport, its deadline and the run's cancel signal. */
export class StepContext {
  readonly vm: string;
  readonly transport: Transport;
  /** Aborts on cancel or at the step's deadline. */
  readonly signal: AbortSignal;
  /** Epoch ms at which the attempt times out. */
  readonly deadline: number;
  readonly domain?: DomainRef;
  readonly facts: VmFacts;

  constructor(init: { vm: string; transport: Transport; signal: AbortSignal; deadline: number; domain?: DomainRef; facts: VmFacts }) {
    this.vm = init.vm;
    this.transport = init.transport;
    this.signal = init.signal;
    this.deadline = init.deadline;
    this.domain = init.domain;
    this.facts = init.facts;
  }

  remaining(): number {
    return this.deadline - Date.now();
  }

  /** Sends a typed command with the time left; a disabled command becomes a clear failure. */
  async call<C extends QgaCommandName>(command: C, args: ArgsOf<C>, options: { timeoutMs?: number; sensitive?: boolean } = {}): Promise<ReturnOf<C>> {
    const timeoutMs = options.timeoutMs ?? this.remaining();
    if (timeoutMs <= 0) throw new TimeoutError(`no time left for ${command}`, 0);
    try {
      return await call(this.transport, command, args, { timeoutMs, signal: this.signal, sensitive: options.sensitive });
    } catch (err) {
      throw explainAgentError(err);
    }
  }

  /**
   * Sends a raw request with the time left; error replies are returned, not thrown. `atSend`
   * builds it again when it is written (see RequestOptions.atSend).
   */
  async request(request: QgaRequest, atSend?: () => QgaRequest): Promise<RawReply | null> {
    const timeoutMs = this.remaining();
    if (timeoutMs <= 0) throw new TimeoutError(`no time left for ${request.execute}`, 0);
    return this.transport.request(request, { timeoutMs, signal: this.signal, ...(atSend ? { atSend } : {}) });
  }

  /** The libvirt state of the VM's domain (`running`, `shut off`, ...); only with a domain. */
  async domainState(): Promise<string> {
    const d = this.domain!;
    try {
      return await domainState(d.uri, d.name, { timeoutMs: Math.max(1000, Math.min(this.remaining(), 10_000)), signal: this.signal, virsh: d.virsh, run: d.run });
    } catch (err) {
      // A transient domain is gone once it has shut off.
      if (err instanceof UnreachableError && err.code === 'NO_SUCH_DOMAIN') return 'shut off';
      throw err;
    }
  }

  /** Waits, unless the run is canceled or the deadline comes first. */
  sleep(ms: number): Promise<void> {
    return sleep(Math.min(ms, this.remaining()), this.signal);
  }
}
