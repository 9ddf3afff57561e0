// How an address will be reached, decided without I/O: cheap enough for `check` to load.

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
}

/** How virsh carries agent commands: one long-lived session per connection, or a process per call. */
export type VirshMode = 'session' | 'process';

/** An ssh destination with the options that reach it (`-p`, `-i`, host key checking). */
export interface SshTarget {
  /** `user@host` or `host`. */
  host: string;
  options: string[];
  /** The ssh binary (the URI's `command`, as libvirt uses it); default `ssh`. */
  command?: string;
}

/** The one way a run reaches an agent, decided once per VM. */
export type Route =
  /** libvirt's own channel through virsh qemu-agent-command. */
  | { kind: 'virsh'; uri: string; domain: string; mode: VirshMode }
  /** A unix socket on this host: given, or the `<source path>` of a channel (from dumpxml). */
  | { kind: 'socket'; uri: string; domain: string; path?: string; channel?: string }
  /** A unix socket on a remote host, through `ssh HOST socat - UNIX-CONNECT:PATH`. */
  | { kind: 'ssh-socket'; uri: string; domain: string; ssh: SshTarget; path?: string; channel?: string }
  /** No way there (a non-standard channel behind a TLS/TCP libvirt URI). */
  | { kind: 'none'; uri: string; domain: string; reason: string };

/** Where a libvirt URI's domains live, as far as reaching their sockets goes. */
export type UriHost =
  | { kind: 'local' }
  /** Reached with ssh, with the URI's own ssh parameters. */
  | ({ kind: 'ssh' } & SshTarget)
  /** Remote through libvirt's own TLS or TCP: no way to its sockets. */
  | { kind: 'other'; uri: string };

/**
 * Reads the host part of a libvirt URI (`qemu+ssh://root@hv2:2222/system?keyfile=/k`) and turns
 * libvirt's ssh parameters (keyfile, no_verify, known_hosts) into the same ssh options libvirt
 * would use, so qga-play's own ssh reaches the host the way virsh does.
 */
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
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const host = url.username ? `${decodeURIComponent(url.username)}@${hostname}` : hostname;
  const options: string[] = [];
  if (url.port) options.push('-p', url.port);
  const keyfile = url.searchParams.get('keyfile');
  if (keyfile) options.push('-i', keyfile);
  if (url.searchParams.get('no_verify') === '1') options.push('-o', 'StrictHostKeyChecking=no');
  const knownHosts = url.searchParams.get('known_hosts');
  if (knownHosts) options.push('-o', `UserKnownHostsFile=${knownHosts}`);
  const command = url.searchParams.get('command');
  return { kind: 'ssh', host, options, ...(command ? { command } : {}) };
}

/** Whether a URI points at another host (its connections deserve libvirt keepalive). */
export function isRemoteUri(uri: string): boolean {
  return uriHost(uri).kind !== 'local';
}

/** Turns an address into its route, without touching it. */
export function resolveRoute(address: AgentAddress, virshMode: VirshMode = 'session'): Route {
  const { uri, domain } = address;
  if (address.socket) {
    if (address.ssh) return { kind: 'ssh-socket', uri, domain, ssh: { host: address.ssh, options: [] }, path: address.socket };
    return { kind: 'socket', uri, domain, path: address.socket };
  }
  const channel = address.channel ?? STANDARD_CHANNEL;
  if (channel === STANDARD_CHANNEL) return { kind: 'virsh', uri, domain, mode: virshMode };
  const host = uriHost(uri);
  if (host.kind === 'other') {
    return { kind: 'none', uri, domain, reason: `channel ${channel} is a socket on the remote host; reach it with a qemu+ssh:// URI` };
  }
  const path = address.channelPath;
  if (host.kind === 'ssh') {
    const { kind: _, ...ssh } = host;
    return { kind: 'ssh-socket', uri, domain, ssh, channel, ...(path ? { path } : {}) };
  }
  return { kind: 'socket', uri, domain, channel, ...(path ? { path } : {}) };
}

/** How a route reaches its agent, for a person (plans, dry runs, reports). */
export function describeRoute(route: Route): string {
  switch (route.kind) {
    case 'virsh':
      return `virsh qemu-agent-command (${STANDARD_CHANNEL}), ${route.mode === 'session' ? 'shared virsh session' : 'a virsh process per call'}`;
    case 'socket':
    case 'ssh-socket': {
      const where = route.path ? `socket ${route.path}${route.channel ? ` (channel ${route.channel})` : ''}` : `socket of channel ${route.channel ?? '?'} (from dumpxml)`;
      return route.kind === 'ssh-socket' ? `${where} on ${route.ssh.host} via ssh` : where;
    }
    case 'none':
      return `no route: ${route.reason}`;
  }
}
