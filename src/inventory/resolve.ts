import { SocketTransport } from '../transport/socket.js';
import { VirshTransport } from '../transport/virsh.js';
import { sshConnector } from '../transport/ssh.js';
import type { Transport } from '../transport/transport.js';
import { channelSocketOf, STANDARD_CHANNEL, type LibvirtCallOptions } from './channels.js';
import { UnreachableError } from '../errors.js';

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
  /** The channel's socket path, when the caller has already read the domain's XML. */
  channelPath?: string;
  maxReplyBytes?: number;
}

/** Where a libvirt URI's domains live, as far as reaching their sockets goes. */
export type UriHost =
  | { kind: 'local' }
  /** Reached with ssh: `host` is `user@name`, `options` the port and key file. */
  | { kind: 'ssh'; host: string; options: string[] }
  /** Remote through libvirt's own TLS or TCP: no way to its sockets. */
  | { kind: 'other'; uri: string };

/** Reads the host part of a libvirt URI (`qemu+ssh://root@hv2:2222/system?keyfile=/k`). */
export function uriHost(uri: string): UriHost {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return { kind: 'local' };
  }
  if (!url.hostname || url.hostname === 'localhost') return { kind: 'local' };
  const transport = url.protocol.replace(/:$/, '').split('+')[1] ?? 'tls';
  if (!['ssh', 'libssh', 'libssh2'].includes(transport)) return { kind: 'other', uri };
  const host = url.username ? `${decodeURIComponent(url.username)}@${url.hostname}` : url.hostname;
  const options: string[] = [];
  if (url.port) options.push('-p', url.port);
  const keyfile = url.searchParams.get('keyfile');
  if (keyfile) options.push('-i', keyfile);
  return { kind: 'ssh', host, options };
}

/** Which transport an address will use, without touching it. */
export function transportKindOf(address: Pick<AgentAddress, 'uri' | 'channel' | 'socket' | 'ssh'>): Transport['kind'] {
  if (address.socket) return address.ssh ? 'ssh-socket' : 'socket';
  if ((address.channel ?? STANDARD_CHANNEL) === STANDARD_CHANNEL) return 'virsh';
  return uriHost(address.uri).kind === 'local' ? 'socket' : 'ssh-socket';
}

/** How an address will be reached, without touching it (for plans and dry runs). */
export function describeRoute(address: AgentAddress): string {
  if (address.socket) return address.ssh ? `socket ${address.socket} on ${address.ssh} via ssh` : `socket ${address.socket}`;
  const channel = address.channel ?? STANDARD_CHANNEL;
  if (channel === STANDARD_CHANNEL) return `virsh qemu-agent-command (${channel})`;
  const host = uriHost(address.uri);
  return `socket of channel ${channel} (from dumpxml)${host.kind === 'ssh' ? ` on ${host.host} via ssh` : ''}`;
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
  let ssh = address.ssh ? { host: address.ssh, options: [] as string[] } : undefined;
  if (!path) {
    const host = uriHost(address.uri);
    if (host.kind === 'other') {
      throw new UnreachableError(
        `${address.domain} on ${address.uri}: channel ${channel} is a socket on the remote host; reach it with a qemu+ssh:// URI`,
        'UNSUPPORTED_ROUTE',
      );
    }
    path = address.channelPath ?? (await channelSocketOf(address.uri, address.domain, channel, options)).path;
    if (host.kind === 'ssh') ssh = host;
  }
  if (ssh) {
    return new SocketTransport({ path: `${ssh.host}:${path}`, kind: 'ssh-socket', connector: sshConnector(ssh.host, path, ssh.options), maxReplyBytes: address.maxReplyBytes });
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
