import { availableParallelism } from 'node:os';
import { UnreachableError } from '../errors.js';
import { SocketTransport } from '../transport/socket.js';
import { VirshTransport } from '../transport/virsh.js';
import { asVirshResult, VirshSessionPool } from '../transport/virsh-session.js';
import { sshConnector } from '../transport/ssh.js';
import { runVirsh, virshQuote, type VirshResult, type VirshRunOptions } from '../libvirt/virsh-cli.js';
import type { RequestOptions, Transport } from '../transport/transport.js';
import { channelSocketOf, type LibvirtCallOptions } from './channels.js';
import { isRemoteUri, resolveRoute, type AgentAddress, type Route, type VirshMode } from './route.js';

/** Settings of a {@link TransportProvider}: how a run reaches its agents. */
export interface ProviderSettings {
  /** The virsh binary (default: `virsh` on PATH). */
  virsh?: string;
  /** Default `session`: long-lived virsh sessions; `process`: a virsh process per call. */
  virshMode?: VirshMode;
  /** virsh sessions per connection URI (default: {@link defaultSessions}). */
  virshSessions?: number;
  /** Largest reply accepted on a socket, in bytes. */
  maxReplyBytes?: number;
}

/** libvirtd serves 20 requests at once by default: leave room for everyone else. */
export const MAX_DEFAULT_SESSIONS = 8;

/**
 * Sessions per URI unless told: the run's concurrency, at most {@link MAX_DEFAULT_SESSIONS}, and
 * for a local hypervisor at most this host's CPUs (each command in flight keeps a virsh,
 * libvirtd and the guest busy here; more at once than there are CPUs only slow each other, and a
 * time-sync's aim with them). A remote one's commands mostly wait on the network.
 */
export function defaultSessions(concurrency: number, remote: boolean, cpus = availableParallelism()): number {
  return Math.max(1, Math.min(concurrency, remote ? MAX_DEFAULT_SESSIONS : cpus, MAX_DEFAULT_SESSIONS));
}

/** libvirt keepalive for remote URIs: a dead hypervisor is noticed within about 6-8 s. */
const REMOTE_KEEPALIVE: [number, number] = [2, 3];

type Factory = (route: Route, provider: TransportProvider) => Transport;

/** One transport factory per route kind: adding a route is one line here. */
const FACTORIES: { [K in Route['kind']]: Factory } = {
  virsh: (route, provider) => {
    const r = route as Extract<Route, { kind: 'virsh' }>;
    return new VirshTransport({ uri: r.uri, domain: r.domain, virsh: provider.settings.virsh, sessions: r.mode === 'session' ? provider.pool(r.uri) : undefined });
  },
  socket: (route, provider) => new LazySocketTransport(route as Extract<Route, { kind: 'socket' }>, provider),
  'ssh-socket': (route, provider) => new LazySocketTransport(route as Extract<Route, { kind: 'ssh-socket' }>, provider),
  none: (route) => new NoRouteTransport(route as Extract<Route, { kind: 'none' }>),
};

/**
 * Everything a run (or one `list`/`agent` command) uses to reach agents: decides each VM's route
 * once, creates its transport from the factory table, owns what VMs share (a virsh session pool
 * per connection URI) and closes all of it when the run ends.
 */
export class TransportProvider {
  readonly settings: ProviderSettings & { virshMode: VirshMode };
  private readonly concurrency: number;
  private readonly pools = new Map<string, VirshSessionPool>();
  private readonly transports = new Set<Transport>();
  private closed = false;

  constructor(settings: ProviderSettings = {}, concurrency = MAX_DEFAULT_SESSIONS) {
    this.settings = { ...settings, virshMode: settings.virshMode ?? 'session' };
    this.concurrency = concurrency;
  }

  /** The route an address takes. */
  route(address: AgentAddress): Route {
    return resolveRoute(address, this.settings.virshMode);
  }

  /** A transport for a route (or address); nothing is contacted until its first request. */
  transport(target: Route | AgentAddress): Transport {
    if (this.closed) throw new UnreachableError('the run is over: its transports are closed', 'DISCONNECTED');
    const route = 'kind' in target ? target : this.route(target);
    const transport = FACTORIES[route.kind](route, this);
    this.transports.add(transport);
    return transport;
  }

  /**
   * A transport whose route is looked up now (a channel's socket from dumpxml), so that a
   * lookup failure rejects here: for one-off commands (`agent`, `list`).
   */
  async open(address: AgentAddress, options: { timeoutMs: number; signal?: AbortSignal }): Promise<Transport> {
    let route = this.route(address);
    if ((route.kind === 'socket' || route.kind === 'ssh-socket') && !route.path) {
      const found = await channelSocketOf(route.uri, route.domain, route.channel!, this.lookup(options.timeoutMs, options.signal));
      route = { ...route, path: found.path };
    }
    if (route.kind === 'none') throw new UnreachableError(`${route.domain} on ${route.uri}: ${route.reason}`, 'UNSUPPORTED_ROUTE');
    return this.transport(route);
  }

  /**
   * Starts, per connection URI, the virsh sessions that many VMs will use (at most each pool's
   * size), so that they start while the run looks up its targets. Nothing in process mode.
   */
  warmSessions(demand: ReadonlyMap<string, number>): void {
    if (this.settings.virshMode !== 'session' || this.closed) return;
    for (const [uri, count] of demand) this.pool(uri).warm(count);
  }

  /** The shared virsh sessions of a connection URI. */
  pool(uri: string): VirshSessionPool {
    let pool = this.pools.get(uri);
    if (!pool) {
      pool = new VirshSessionPool({
        uri,
        virsh: this.settings.virsh,
        size: this.settings.virshSessions ?? defaultSessions(this.concurrency, isRemoteUri(uri)),
        ...(isRemoteUri(uri) ? { keepalive: REMOTE_KEEPALIVE } : {}),
      });
      this.pools.set(uri, pool);
    }
    return pool;
  }

  /**
   * Runs a virsh command for inventory (list, dumpxml, domstate): through the URI's sessions in
   * session mode (one ssh set-up per session instead of one per call), else a process.
   */
  readonly runVirsh = async (args: string[], options: VirshRunOptions): Promise<VirshResult> => {
    const line = this.settings.virshMode === 'session' ? sessionLine(args) : undefined;
    if (line === undefined || options.stdinCommand !== undefined) return runVirsh(args, { ...options, virsh: this.settings.virsh });
    return asVirshResult(await this.pool(options.uri).run(line, options.timeoutMs, options.signal, options.what));
  };

  /** Options for the inventory functions (lookups share the run's sessions). */
  lookup(timeoutMs: number, signal?: AbortSignal): LibvirtCallOptions {
    return { timeoutMs, signal, virsh: this.settings.virsh, run: this.runVirsh };
  }

  /** Closes every transport and session: at the end of the run, also after a cancel. */
  async close(): Promise<void> {
    this.closed = true;
    for (const pool of this.pools.values()) pool.stopWarming();
    const transports = [...this.transports];
    this.transports.clear();
    await Promise.all(transports.map((t) => t.close().catch(() => undefined)));
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }
}

/** A virsh command line for a session, or undefined when an argument cannot be quoted for it. */
function sessionLine(args: string[]): string | undefined {
  const words = args.map(virshQuote);
  return words.every((w) => w !== undefined) ? words.join(' ') : undefined;
}

/**
 * A socket transport whose path may first need a dumpxml lookup, done on the first request so
 * that a lookup failure is the outcome of the step that needed it, with that step's retries.
 */
class LazySocketTransport implements Transport {
  readonly kind: 'socket' | 'ssh-socket';
  readonly describe: string;
  private opened: Promise<SocketTransport> | undefined;

  constructor(
    private readonly route: Extract<Route, { kind: 'socket' | 'ssh-socket' }>,
    private readonly provider: TransportProvider,
  ) {
    this.kind = route.kind;
    this.describe = !route.path ? `${route.domain} on ${route.uri}` : route.kind === 'ssh-socket' ? `${route.ssh.host}:${route.path}` : route.path;
  }

  private async build(options: RequestOptions): Promise<SocketTransport> {
    const r = this.route;
    const path = r.path ?? (await channelSocketOf(r.uri, r.domain, r.channel!, this.provider.lookup(options.timeoutMs, options.signal))).path;
    const maxReplyBytes = this.provider.settings.maxReplyBytes;
    if (r.kind === 'ssh-socket') {
      return new SocketTransport({ path: `${r.ssh.host}:${path}`, kind: 'ssh-socket', connector: sshConnector(r.ssh.host, path, r.ssh.options, r.ssh.command), maxReplyBytes });
    }
    return new SocketTransport({ path, maxReplyBytes });
  }

  async request(request: Parameters<Transport['request']>[0], options: RequestOptions): ReturnType<Transport['request']> {
    if (!this.opened) {
      const opening = this.build(options);
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

/** A route that cannot exist: every request says why. */
class NoRouteTransport implements Transport {
  readonly kind = 'socket' as const;
  readonly describe: string;
  constructor(private readonly route: Extract<Route, { kind: 'none' }>) {
    this.describe = `${route.domain} on ${route.uri}`;
  }
  request(): Promise<never> {
    return Promise.reject(new UnreachableError(`${this.describe}: ${this.route.reason}`, 'UNSUPPORTED_ROUTE'));
  }
  async close(): Promise<void> {}
}
