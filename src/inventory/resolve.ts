import { SocketTransport } from '../transport/socket.js';
import { VirshTransport } from '../transport/virsh.js';
import { sshConnector } from '../transport/ssh.js';
import type { Transport } from '../transport/transport.js';
import { channelSocketOf, STANDARD_CHANNEL, type LibvirtCallOptions } from './channels.js';

/** Where one agent is: a libvirt domain (and channel), or a socket given directly. */
export interface AgentAddress {
  uri: string;
  domain: string;
  /** A channel name; the standard one goes through virsh, any other through its socket. */
  channel?: string;
  /** A socket path given directly: no libvirt lookup. */
  socket?: string;
  /** Host to reach `socket` on through ssh. */
  ssh?: string;
  maxReplyBytes?: number;
}

/** The host of a remote libvirt URI (`qemu+ssh://root@hv2/system` gives `root@hv2`). */
export function sshHostOf(uri: string): string | undefined {
  const m = /^[a-z0-9]+\+ssh:\/\/([^/?]+)/i.exec(uri);
  if (!m) return undefined;
  return decodeURIComponent(m[1]!);
}

/** Which transport an address will use, without touching it. */
export function transportKindOf(address: Pick<AgentAddress, 'uri' | 'channel' | 'socket' | 'ssh'>): Transport['kind'] {
  if (address.socket) return address.ssh ? 'ssh-socket' : 'socket';
  if ((address.channel ?? STANDARD_CHANNEL) === STANDARD_CHANNEL) return 'virsh';
  return sshHostOf(address.uri) ? 'ssh-socket' : 'socket';
}

/** How an address will be reached, without touching it (for plans and dry runs). */
export function describeRoute(address: AgentAddress): string {
  if (address.socket) return address.ssh ? `socket ${address.socket} on ${address.ssh} via ssh` : `socket ${address.socket}`;
  const channel = address.channel ?? STANDARD_CHANNEL;
  if (channel === STANDARD_CHANNEL) return `virsh qemu-agent-command (${channel})`;
  const host = sshHostOf(address.uri);
  return `socket of channel ${channel} (from dumpxml)${host ? ` on ${host} via ssh` : ''}`;
}

/**
 * Chooses and builds the transport for an address. A non-standard channel costs one dumpxml
 * call to find its socket; the others cost nothing until the first request.
 */
export async function openTransport(address: AgentAddress, options: LibvirtCallOptions): Promise<Transport> {
  const channel = address.channel ?? STANDARD_CHANNEL;
  if (!address.socket && channel === STANDARD_CHANNEL) {
    return new VirshTransport({ uri: address.uri, domain: address.domain, virsh: options.virsh });
  }
  let path = address.socket;
  let ssh = address.ssh;
  if (!path) {
    path = (await channelSocketOf(address.uri, address.domain, channel, options)).path;
    ssh ??= sshHostOf(address.uri);
  }
  if (ssh) {
    return new SocketTransport({ path: `${ssh}:${path}`, kind: 'ssh-socket', connector: sshConnector(ssh, path), maxReplyBytes: address.maxReplyBytes });
  }
  return new SocketTransport({ path, maxReplyBytes: address.maxReplyBytes });
}

/**
 * A transport opened on its first request, so that a lookup failure (dumpxml, a missing
 * channel) is the outcome of the step that needed it, with that step's retries.
 */
export class LazyTransport implements Transport {
  readonly kind: Transport['kind'];
  readonly describe: string;
  private opened: Promise<Transport> | undefined;

  constructor(
    private readonly address: AgentAddress,
    private readonly options: Omit<LibvirtCallOptions, 'timeoutMs'>,
  ) {
    this.kind = transportKindOf(address);
    this.describe = address.socket ?? `${address.domain} on ${address.uri}`;
  }

  async request(request: Parameters<Transport['request']>[0], options: Parameters<Transport['request']>[1]): ReturnType<Transport['request']> {
    if (!this.opened) {
      const opening = openTransport(this.address, { ...this.options, timeoutMs: options.timeoutMs, signal: options.signal });
      this.opened = opening;
      // A failed lookup is retried by the next request.
      opening.catch(() => {
        if (this.opened === opening) this.opened = undefined;
      });
    }
    return (await this.opened).request(request, options);
  }

  async close(): Promise<void> {
    const opened = this.opened;
    this.opened = undefined;
    if (opened) await (await opened.catch(() => undefined))?.close();
  }
}
