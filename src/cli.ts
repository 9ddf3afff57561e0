import yargs, { type Argv } from 'yargs';
import { CanceledError, errorMessage, QgaPlayError, UsageError } from './errors.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { parseUserRequest } from './qga/protocol.js';
import { openTransport } from './inventory/resolve.js';
import { SocketTransport } from './transport/socket.js';
import type { Transport } from './transport/transport.js';

const EXIT_HELP = `Exit codes:
  0    success
  1    the agent answered with an error, or a step failed
  2    bad usage or a bad playbook (nothing was run)
  3    a target was unreachable or timed out
  75   another run holds the report directory's lock
  130  interrupted (SIGINT/SIGTERM)`;

/** Where the CLI writes; tests may replace it. */
export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const defaultIo: Io = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};

export function defaultUri(env: NodeJS.ProcessEnv = process.env): string {
  return env.LIBVIRT_DEFAULT_URI || 'qemu:///system';
}

function parseSeconds(value: unknown, option: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`Expected --${option} to be a positive number of seconds, got ${JSON.stringify(value)}`);
  return n * 1000;
}

/** One AbortSignal for the whole process: SIGINT and SIGTERM abort it. */
function interruptSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = (name: string) => () => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    controller.abort(new CanceledError(`interrupted by ${name}`));
  };
  const int = onSignal('SIGINT');
  const term = onSignal('SIGTERM');
  process.on('SIGINT', int);
  process.on('SIGTERM', term);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', int);
      process.off('SIGTERM', term);
    },
  };
}

interface AgentArgs {
  connect?: string;
  channel?: string;
  socket?: string;
  timeout: number;
  'max-reply'?: number;
  args: string[];
}

async function agentCommand(argv: AgentArgs, io: Io, signal: AbortSignal): Promise<number> {
  const timeoutMs = parseSeconds(argv.timeout, 'timeout');
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
    transport = new SocketTransport({ path: argv.socket, maxReplyBytes: argv['max-reply'] });
  } else {
    const domain = positional[0]!;
    const uri = argv.connect ?? defaultUri();
    where = `${domain} on ${uri}`;
    transport = await openTransport({ uri, domain, channel: argv.channel, maxReplyBytes: argv['max-reply'] }, { timeoutMs, signal });
  }
  try {
    const raw = await transport.request(request, { timeoutMs, signal });
    if (raw === null) {
      io.stderr(`qga-play: ${request.execute} sent no reply (expected: the guest is going away)\n`);
      return EXIT.ok;
    }
    io.stdout(raw.text + '\n');
    if ('error' in raw.reply) {
      io.stderr(`qga-play: ${where}: agent error ${raw.reply.error.class}: ${raw.reply.error.desc}\n`);
      return EXIT.failed;
    }
    return EXIT.ok;
  } finally {
    await transport.close();
  }
}

function buildParser(args: string[], io: Io, signal: AbortSignal, setResult: (p: Promise<number>) => void): Argv {
  return yargs(args)
    .scriptName('qga-play')
    .usage('$0 <command> [options]\n\nDrive the QEMU Guest Agent across libvirt VMs.')
    .command(
      'agent [args..]',
      'Send one QGA command to one agent and print its reply',
      (y) =>
        y
          .usage(
            '$0 agent [-c URI] [--channel NAME] [--timeout SECONDS] DOMAIN JSON\n$0 agent --socket PATH [--timeout SECONDS] JSON\n\n' +
              'Prints the reply as one JSON line on stdout, exactly as the agent sent it; problems go to stderr.',
          )
          .positional('args', { describe: 'DOMAIN and JSON, or JSON alone with --socket', type: 'string', array: true, default: [] })
          .option('connect', { alias: 'c', type: 'string', describe: 'libvirt URI (default: $LIBVIRT_DEFAULT_URI, else qemu:///system)' })
          .option('channel', { type: 'string', describe: 'agent channel of the domain; a non-standard one is reached through its socket (from dumpxml)' })
          .option('socket', { type: 'string', describe: "talk to the agent socket at PATH directly (no libvirt)" })
          .option('timeout', { type: 'number', default: 10, describe: 'seconds to wait for the reply' })
          .option('max-reply', { type: 'number', describe: 'largest reply accepted on a socket, in bytes (default 16 MiB)' })
          .example("$0 agent web-1 '{\"execute\":\"guest-ping\"}'", 'ping the agent of domain web-1 through virsh')
          .example("$0 agent -c qemu+ssh://root@hv2/system db-1 '{\"execute\":\"guest-get-osinfo\"}'", 'a guest on another hypervisor')
          .example("$0 agent --channel org.qemu.guest_agent.1 web-1 '{\"execute\":\"guest-get-time\"}'", 'a second agent channel, through its socket')
          .example("$0 agent --socket /run/qga/app.sock '{\"execute\":\"guest-info\"}'", 'a socket given directly')
          .epilog(EXIT_HELP),
      (argv) => setResult(agentCommand(argv as unknown as AgentArgs, io, signal)),
    )
    .demandCommand(1, 'Give a command: agent')
    .strict()
    .help()
    .alias('h', 'help')
    .version()
    .epilog(EXIT_HELP)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false);
}

/** Runs the CLI and returns the exit code. */
export async function main(args: string[], io: Io = defaultIo): Promise<number> {
  const { signal, dispose } = interruptSignal();
  let result: Promise<number> | undefined;
  let usageError: string | undefined;
  try {
    const parser = buildParser(args, io, signal, (p) => (result = p)).fail((msg, err) => {
      if (err) throw err;
      usageError = msg;
    });
    const output = await new Promise<string>((resolve, reject) => {
      void Promise.resolve(parser.parse(args, {}, (err, _argv, out) => (err && !usageError ? reject(err) : resolve(out)))).catch(reject);
    });
    if (usageError) {
      io.stderr(`qga-play: ${usageError}\nRun qga-play --help for usage.\n`);
      return EXIT.usage;
    }
    if (output) io.stdout(output + '\n');
    return result ? await result : EXIT.ok;
  } catch (err) {
    if (err instanceof QgaPlayError) io.stderr(`qga-play: ${err.message}\n`);
    else io.stderr(`qga-play: internal error: ${errorMessage(err)}\n${(err as Error).stack ?? ''}\nPlease report this.\n`);
    return exitCodeFor(err);
  } finally {
    dispose();
  }
}
