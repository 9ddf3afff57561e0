import pLimit from 'p-limit';
import { errorMessage } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import { discoverDomain, type AgentChannel } from '../inventory/channels.js';
import { listAllDomains } from '../inventory/libvirt.js';
import { TransportProvider } from '../inventory/provider.js';
import type { VirshMode } from '../inventory/route.js';
import type { TransportKind } from '../transport/transport.js';
import { call } from '../transport/transport.js';
import { defaultUri, parseSeconds, type Io } from './common.js';
import { visible } from '../util/visible.js';

export interface ListArgs {
  connect?: string;
  format: 'human' | 'json';
  timeout: number;
  'virsh-mode'?: VirshMode;
}

/** One agent channel of a listed domain, and whether its agent answered. */
interface ListedChannel extends AgentChannel {
  transport: TransportKind;
  answers?: boolean;
  error?: string;
  rttMs?: number;
}

interface ListedDomain {
  name: string;
  state: string;
  channels: ListedChannel[];
  error?: string;
}

function kindOf(provider: TransportProvider, uri: string, domain: string, channel: AgentChannel): TransportKind {
  const route = provider.route({ uri, domain, channel: channel.name, channelPath: channel.path });
  return route.kind === 'none' ? 'socket' : route.kind;
}

async function probe(provider: TransportProvider, uri: string, domain: string, channel: AgentChannel, timeoutMs: number, signal: AbortSignal): Promise<ListedChannel> {
  const listed: ListedChannel = { ...channel, transport: kindOf(provider, uri, domain, channel) };
  const transport = await provider.open({ uri, domain, channel: channel.name, channelPath: channel.path }, { timeoutMs, signal }).catch((err: unknown) => err as Error);
  if (transport instanceof Error) return { ...listed, answers: false, error: transport.message };
  try {
    const started = performance.now();
    await call(transport, 'guest-ping', undefined, { timeoutMs, signal });
    return { ...listed, answers: true, rttMs: Math.round((performance.now() - started) * 10) / 10 };
  } catch (err) {
    return { ...listed, answers: false, error: errorMessage(err) };
  } finally {
    await transport.close();
  }
}

export async function listCommand(argv: ListArgs, io: Io, signal: AbortSignal): Promise<number> {
  const uri = argv.connect ?? defaultUri(io.env);
  const timeoutMs = parseSeconds(argv.timeout, 'timeout');
  const provider = new TransportProvider({ virshMode: argv['virsh-mode'] });
  try {
    return await listWith(provider, uri, timeoutMs, argv, io, signal);
  } finally {
    await provider.close();
  }
}

async function listWith(provider: TransportProvider, uri: string, timeoutMs: number, argv: ListArgs, io: Io, signal: AbortSignal): Promise<number> {
  // --timeout bounds every call, the hypervisor's as well as each agent's.
  const lookup = provider.lookup(timeoutMs, signal);
  const domains = await listAllDomains(uri, lookup);
  const limit = pLimit(8);
  const listed: ListedDomain[] = await Promise.all(
    domains.map((d) =>
      limit(async (): Promise<ListedDomain> => {
        let channels: AgentChannel[];
        try {
          channels = (await discoverDomain(uri, d.name, lookup)).channels;
        } catch (err) {
          return { name: d.name, state: d.state, channels: [], error: errorMessage(err) };
        }
        if (d.state !== 'running') return { name: d.name, state: d.state, channels: channels.map((c) => ({ ...c, transport: kindOf(provider, uri, d.name, c) })) };
        return { name: d.name, state: d.state, channels: await Promise.all(channels.map((c) => probe(provider, uri, d.name, c, timeoutMs, signal))) };
      }),
    ),
  );
  if (argv.format === 'json') {
    io.stdout(JSON.stringify({ connect: uri, domains: listed }, null, 2) + '\n');
    return EXIT.ok;
  }
  const rows: string[][] = [['DOMAIN', 'STATE', 'CHANNEL', 'TRANSPORT', 'AGENT']];
  for (const d of listed) {
    if (d.channels.length === 0) rows.push([d.name, d.state, '-', '-', d.error ?? 'no agent channel']);
    d.channels.forEach((c, i) => {
      const agent = c.answers === undefined ? '-' : c.answers ? `answers (${c.rttMs} ms)` : `no answer: ${c.error ?? ''}`;
      rows.push([i === 0 ? d.name : '', i === 0 ? d.state : '', c.name, c.transport === 'virsh' ? 'virsh' : `${c.transport} ${c.path ?? '?'}`, agent]);
    });
  }
  // Domain names and agent messages come from libvirt and guests: shown, never acted on.
  const shown = rows.map((r) => r.map(visible));
  const widths = shown[0]!.map((_, col) => Math.max(...shown.map((r) => r[col]!.length)));
  io.stdout(shown.map((r) => r.map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col]!))).join('  ')).join('\n') + '\n');
  if (listed.length === 0) io.stderr(`qga-play: no domains on ${uri}\n`);
  return EXIT.ok;
}
