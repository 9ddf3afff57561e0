import { UsageError } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import { parseUserRequest } from '../qga/protocol.js';
import { openTransport } from '../inventory/resolve.js';
import { SocketTransport } from '../transport/socket.js';
import type { Transport } from '../transport/transport.js';
import { defaultUri, parseByteCount, parseSeconds, type Io } from './common.js';
import { jsonVisible, visible } from '../util/visible.js';

export interface AgentArgs {
  connect?: string;
  channel?: string;
  socket?: string;
  timeout: number;
  'max-reply'?: number;
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
  let transport: Transport;
  let where: string;
  if (argv.socket) {
    where = argv.socket;
    transport = new SocketTransport({ path: argv.socket, maxReplyBytes });
  } else {
    const domain = positional[0]!;
    const uri = argv.connect ?? defaultUri(io.env);
    where = `${domain} on ${uri}`;
    transport = await openTransport({ uri, domain, channel: argv.channel, maxReplyBytes }, { timeoutMs, signal });
  }
  try {
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
  } finally {
    await transport.close();
  }
}

