import type { XMLParser } from 'fast-xml-parser';
import { UnreachableError } from '../errors.js';
import { runVirsh, unreachableFrom, type VirshResult, type VirshRunOptions } from '../libvirt/virsh-cli.js';
import { STANDARD_CHANNEL } from './route.js';

export { STANDARD_CHANNEL };

/** An agent channel of a domain, from `virsh dumpxml`. */
export interface AgentChannel {
  /** Target name, e.g. `org.qemu.guest_agent.0`. */
  name: string;
  /** Host socket path (`<source path>`), when the channel is a unix socket. */
  path?: string;
  /** `connected` when the guest has the port open; absent when the domain is not running. */
  state?: 'connected' | 'disconnected';
}

let parser: XMLParser | undefined;

// Loaded on the first dumpxml: most runs (the standard channel, sockets) never read one.
async function domainXmlParser(): Promise<XMLParser> {
  const { XMLParser } = await import('fast-xml-parser');
  parser ??= new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => name === 'channel' });
  return parser;
}

/** What `virsh dumpxml` says about a domain's agents. */
export interface DomainAgents {
  /** Only a running domain's XML has an `id`. */
  running: boolean;
  channels: AgentChannel[];
}

/** The domain's state and its virtio channels whose target name looks like a guest agent's. */
export async function parseDomainAgents(xml: string): Promise<DomainAgents> {
  const doc = (await domainXmlParser()).parse(xml) as { domain?: { id?: string; devices?: { channel?: RawChannel[] } } };
  const channels = doc.domain?.devices?.channel ?? [];
  const result: AgentChannel[] = [];
  for (const ch of channels) {
    const target = ch.target;
    if (!target || target.type !== 'virtio' || typeof target.name !== 'string') continue;
    if (!target.name.startsWith('org.qemu.guest_agent.')) continue;
    const channel: AgentChannel = { name: target.name };
    if (ch.type === 'unix' && typeof ch.source?.path === 'string') channel.path = ch.source.path;
    if (target.state === 'connected' || target.state === 'disconnected') channel.state = target.state;
    result.push(channel);
  }
  return { running: doc.domain?.id !== undefined, channels: result };
}

interface RawChannel {
  type?: string;
  source?: { mode?: string; path?: string };
  target?: { type?: string; name?: string; state?: string };
}

export interface LibvirtCallOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  virsh?: string;
  /** Runs virsh (default: a process per call; a run's provider passes its sessions). */
  run?: (args: string[], options: VirshRunOptions) => Promise<VirshResult>;
}

/** Runs one virsh command the way the options say. */
export function virshCall(args: string[], what: string, uri: string, options: LibvirtCallOptions): Promise<VirshResult> {
  const { run, ...rest } = options;
  return (run ?? runVirsh)(args, { uri, what, ...rest });
}

/** Reads a domain's state and agent channels through `virsh dumpxml`. */
export async function discoverDomain(uri: string, domain: string, options: LibvirtCallOptions): Promise<DomainAgents> {
  const what = `${domain} on ${uri}`;
  const result = await virshCall(['dumpxml', domain], what, uri, options);
  if (result.exitCode !== 0) throw unreachableFrom(result, what);
  return parseDomainAgents(result.stdout);
}

/** The socket of a channel of a running domain, or why there is none to talk to. */
export async function channelSocketOf(uri: string, domain: string, name: string, options: LibvirtCallOptions): Promise<AgentChannel & { path: string }> {
  const what = `${domain} on ${uri}`;
  const found = await discoverDomain(uri, domain, options);
  const channel = pickChannel(found.channels, name, what);
  if (!found.running) throw new UnreachableError(`${what}: the domain is not running`, 'DOMAIN_NOT_RUNNING');
  if (!channel.path) throw new UnreachableError(`${what}: channel ${name} is not a unix socket`, 'CHANNEL_NOT_FOUND');
  return { ...channel, path: channel.path };
}

/** Picks the named channel, or explains what the domain has instead. */
export function pickChannel(channels: AgentChannel[], name: string, what: string): AgentChannel {
  const found = channels.find((c) => c.name === name);
  if (found) return found;
  if (channels.length === 0) {
    throw new UnreachableError(`${what}: the domain has no guest agent channel (add a virtio channel named ${STANDARD_CHANNEL})`, 'AGENT_NOT_CONFIGURED');
  }
  throw new UnreachableError(
    `${what}: no agent channel named ${name}; the domain has ${channels.map((c) => c.name).join(', ')}`,
    'CHANNEL_NOT_FOUND',
  );
}
