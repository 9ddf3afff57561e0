import { UsageError } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import { parseUserRequest, type QgaRequest } from '../qga/protocol.js';
import { TransportProvider } from '../inventory/provider.js';
import type { VirshMode } from '../inventory/route.js';
import type { Transport } from '../transport/transport.js';
import { defaultUri, parseByteCount, parseSeconds, type Io } from './common.js';
import { fanOut, isPattern } from './agent-fanout.js';
import { jsonVisible, visible } from '../util/visible.js';

export interface AgentArgs {
  connect?: string;
  channel?: string;
  socket?: string;
  timeout: number;
  'max-reply'?: number;
  'virsh-mode'?: VirshMode;
  /** VMs at once when a pattern names several. */
  concurrency?: number;
  args: string[];
}

export async function agentCommand(argv: AgentArgs, io: Io, signal: AbortSignal): Promise<number> {
  const timeoutMs = parseSeconds(argv.timeout, 'timeout');
  const maxReplyBytes = argv['max-reply'] === undefined ? undefined : parseByteCount(argv['max-reply'], 'max-reply');
  const positional = argv.args.map(String);
  if (argv.socket && argv.channel) throw new UsageError('--socket and --channel exclude each other: --socket names the socket directly');
  const expected = argv.socket ? 1 : 2;
  if (positional.length !== expected) {
    throw new UsageError(
      argv.socket
        ? `with --socket, give exactly one argument, the JSON request (got ${positional.length})`
        : `give a DOMAIN and a JSON request (got ${positional.length} arguments); see qga-play agent --help`,
    );
  }
  const jsonText = positional[expected - 1]!;
  const request = parseUserRequest(jsonText);
  if (typeof request === 'string') throw new UsageError(`the request argument ${JSON.stringify(jsonText)} is ${request}`);
  // A glob or list of domains fans out: one JSON line per VM (src/commands/agent-fanout.ts).
  if (!argv.socket && isPattern(positional[0]!)) {
    return fanOut(
      { uri: argv.connect ?? defaultUri(io.env), pattern: positional[0]!, request, channel: argv.channel, maxReplyBytes, virshMode: argv['virsh-mode'], timeoutMs, concurrency: argv.concurrency },
      io,
      signal,
    );
  }
  const provider = new TransportProvider({ maxReplyBytes, virshMode: argv['virsh-mode'] });
  try {
    return await send(provider, argv, request, positional, timeoutMs, io, signal);
  } finally {
    await provider.close();
  }
}

async function send(provider: TransportProvider, argv: AgentArgs, request: QgaRequest, positional: string[], timeoutMs: number, io: Io, signal: AbortSignal): Promise<number> {
  const uri = argv.connect ?? defaultUri(io.env);
  const domain = argv.socket ?? positional[0]!;
  const where = argv.socket ?? `${domain} on ${uri}`;
  // The provider closes the transport with everything else it opened.
  const transport: Transport = await provider.open({ uri, domain, channel: argv.channel, socket: argv.socket }, { timeoutMs, signal });
  const raw = await transport.request(request, { timeoutMs, signal });
  if (raw === null) {
    io.stderr(`qga-play: ${visible(request.execute)} sent no reply (expected: the guest is going away)\n`);
    return EXIT.ok;
  }
  io.stdout(jsonVisible(raw.text) + '\n');
  if ('error' in raw.reply) {
    io.stderr(`qga-play: ${visible(where)}: agent error ${visible(raw.reply.error.class)}: ${visible(raw.reply.error.desc)}\n`);
    return EXIT.failed;
  }
  return EXIT.ok;
}

