import type { QgaRequest, RawReply } from '../qga/protocol.js';
import { checkedReturn, type ArgsOf, type QgaCommandName, type ReturnOf } from '../qga/agent-commands.js';

/** Which path a transport takes to the agent. */
export type TransportKind = 'virsh' | 'socket' | 'ssh-socket';

/** Per-request options. */
export interface RequestOptions {
  /** Deadline for this request in milliseconds. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** The request carries a secret: keep it out of process arguments (virsh reads it on stdin). */
  sensitive?: boolean;
  /**
   * Builds the request again at the moment it is written, for arguments that depend on when
   * that is (a guest-set-time aimed at the agent's clock): a transport may first wait its turn
   * (a shared virsh session, a reconnect). Same command, same size class as `request`.
   */
  atSend?: () => QgaRequest;
}

/**
 * One way to reach one agent. `request` resolves with the agent's reply, error replies
 * included; it rejects only when the agent could not be asked or did not answer
 * (UnreachableError, TimeoutError, CanceledError, ProtocolError). A command that never replies
 * on success (guest-shutdown, guest-suspend-*) resolves with `null`.
 */
export interface Transport {
  readonly kind: TransportKind;
  /** Where the agent is, for messages: a socket path or `DOMAIN on URI`. */
  readonly describe: string;
  request(request: QgaRequest, options: RequestOptions): Promise<RawReply | null>;
  close(): Promise<void>;
}

/**
 * Sends a typed command and returns its result; an error reply becomes an AgentError, a reply
 * of another shape than the command's a ProtocolError `REPLY_SHAPE` (the agent answered: the
 * step fails, it is not unreachable).
 */
export async function call<C extends QgaCommandName>(
  transport: Transport,
  command: C,
  args: ArgsOf<C>,
  options: RequestOptions,
): Promise<ReturnOf<C>> {
  const request: QgaRequest = args === undefined ? { execute: command } : { execute: command, arguments: args as Record<string, unknown> };
  const raw = await transport.request(request, options);
  if (raw === null) return {} as ReturnOf<C>;
  return checkedReturn(command, raw.reply);
}
