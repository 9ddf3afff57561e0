import { AgentError, StepFailedError, TimeoutError } from '../errors.js';
import type { ArgsOf, GuestInfo, QgaCommandName, ReturnOf } from '../qga/commands.js';
import type { QgaRequest, RawReply } from '../qga/protocol.js';
import { call, type Transport } from '../transport/transport.js';
import { sleep } from '../util/sleep.js';
import type { StepKind, StepParams } from '../playbook/types.js';
import type { Expectation, Secret } from '../playbook/types.js';
import type { LibvirtCallOptions } from '../inventory/channels.js';

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

  /** Sends a raw request with the time left; error replies are returned, not thrown. */
  async request(request: QgaRequest): Promise<RawReply | null> {
    const timeoutMs = this.remaining();
    if (timeoutMs <= 0) throw new TimeoutError(`no time left for ${request.execute}`, 0);
    return this.transport.request(request, { timeoutMs, signal: this.signal });
  }

  /** Waits, unless the run is canceled or the deadline comes first. */
  sleep(ms: number): Promise<void> {
    return sleep(Math.min(ms, this.remaining()), this.signal);
  }
}

/** Why commands cannot be used: the guest agent's policy, or frozen filesystems. */
export function disabledMessage(commands: string[]): string {
  const verb = commands.length > 1 ? 'are' : 'is';
  return `${commands.join(', ')} ${verb} disabled in this guest's agent (its --allow-rpcs/--block-rpcs policy, or frozen filesystems)`;
}

/** Names the agent policy when a command is disabled or unknown. */
export function explainAgentError(err: unknown): unknown {
  if (!(err instanceof AgentError) || err.errorClass !== 'CommandNotFound') return err;
  if (/has been disabled/.test(err.desc)) return new StepFailedError(disabledMessage([err.command]), 'COMMAND_DISABLED', { cause: err });
  return new StepFailedError(`the guest's agent does not know ${err.command} (too old, or not for this OS)`, 'COMMAND_NOT_FOUND', { cause: err });
}

/** One step kind: the agent commands it needs and how it runs. */
export interface StepDefinition<K extends StepKind> {
  kind: K;
  /** Agent commands the step sends; checked against guest-info when an earlier step read it. */
  commands: (params: StepParams[K]) => string[];
  /** Checks applied when the step has no `expect` of its own. */
  defaultExpect?: Expectation[];
  run(params: StepParams[K], ctx: StepContext): Promise<unknown>;
}

/** Builds a definition with its parameter type checked against the kind. */
export function defineStep<K extends StepKind>(definition: StepDefinition<K>): StepDefinition<K> {
  return definition;
}

/** The text of a value that may be a Secret (only for sending it to the agent). */
export function reveal(value: string | Secret): string {
  return typeof value === 'string' ? value : value.value;
}
