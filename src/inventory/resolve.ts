import { SocketTransport } from '../transport/socket.js';
import { VirshTransport } from '../transport/virsh.js';
import { sshConnector } from '../transport/ssh.js';
import type { Transport } from '../transport/transport.js';
import { channelSocketOf, STANDARD_CHANNEL, type LibvirtCallOptions } from './channels.js';
import { transportKindOf, uriHost, type AgentAddress } from './route.js';
import { UnreachableError } from '../errors.js';

export { describeRoute, transportKindOf, uriHost, type AgentAddress, type UriHost } from './route.js';

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
