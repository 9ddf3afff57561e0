// How an address will be reached, decided without I/O: cheap enough for `check` to load.
import type { TransportKind } from '../transport/transport.js';

/** The channel libvirt itself connects to. */
export const STANDARD_CHANNEL = 'org.qemu.guest_agent.0';

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
export function transportKindOf(address: Pick<AgentAddress, 'uri' | 'channel' | 'socket' | 'ssh'>): TransportKind {
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

