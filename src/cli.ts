import yargs, { type Argv } from 'yargs';
import { errorMessage, QgaPlayError } from './errors.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { defaultIo, EXIT_HELP, interruptSignal, type Io } from './commands/common.js';
import { agentCommand, type AgentArgs } from './commands/agent.js';
import { runCommand, type RunArgs } from './commands/run.js';
import { checkCommand, type CheckArgs } from './commands/check.js';
import { listCommand, type ListArgs } from './commands/list.js';
import { watchCommand, type WatchArgs } from './commands/watch.js';

export { defaultUri } from './commands/common.js';
export type { Io } from './commands/common.js';

function buildParser(args: string[], io: Io, signal: AbortSignal, setResult: (p: Promise<number>) => void): Argv {
  return yargs(args)
    .scriptName('qga-play')
    .usage('$0 <command> [options]\n\nDrive the QEMU Guest Agent across libvirt VMs: YAML playbooks of agent steps, run on many guests at once.')
    .command(
      'run <playbook>',
      'Run a playbook on its VMs; write reports',
      (y) =>
        y
          .positional('playbook', { type: 'string', demandOption: true, describe: 'the playbook file (YAML)' })
          .option('limit', { type: 'string', describe: 'only VMs whose name matches this glob' })
          .option('concurrency', { type: 'number', describe: "VMs at once (default: the playbook's, else 8)" })
          .option('connect', { alias: 'c', type: 'string', describe: "libvirt URI replacing the playbook's default connection" })
          .option('dry-run', { type: 'boolean', describe: 'resolve targets and transports, print the plan, send no agent command' })
          .option('report-dir', { type: 'string', describe: "report directory (default: the playbook's report.dir, else ./qga-reports/<playbook file name>)" })
          .option('keep', { type: 'number', describe: "keep the last N runs' reports under DIR/history/" })
          .option('format', { choices: ['human', 'json'] as const, default: 'human' as const, describe: 'json: the summary and every VM report on stdout, progress on stderr' })
          .option('metrics', { type: 'string', describe: 'write Prometheus metrics here (for node_exporter textfile collector)' })
          .option('lock-wait', { type: 'string', default: '0s', describe: 'how long to wait for another run on the same report directory' })
          .option('quiet', { alias: 'q', type: 'boolean', describe: 'only problems and the final line' })
          .option('color', { type: 'boolean', default: true, describe: 'color on a terminal (--no-color, or NO_COLOR, turns it off)' })
          .option('verbose', { alias: 'v', type: 'boolean', describe: 'more detail per step' })
          .example('$0 run playbooks/fleet-timesync.yaml', 'sync every running guest\'s clock on the default connection')
          .example('$0 run reachability.yaml --format json > out.json', 'CI: machine-readable summary; exit 3 if a guest does not answer')
          .example("$0 run inventory.yaml --limit 'web-*' --concurrency 32", 'only the web guests, 32 at a time')
          .example('$0 run fleet-timesync.yaml --dry-run', 'show which VMs and transports would be used')
          .epilog(EXIT_HELP),
      (argv) => setResult(runCommand(argv as unknown as RunArgs, io, signal)),
    )
    .command(
      'watch <playbook>',
      'Run as a service: react to libvirt events (resume, restore, migration, start, agent up) by running the playbook on that VM; run it all every `every:`',
      (y) =>
        y
          .positional('playbook', { type: 'string', demandOption: true, describe: 'the playbook file (YAML); SIGHUP re-reads it' })
          .option('concurrency', { type: 'number', describe: "VMs at once (default: the playbook's, else 8)" })
          .option('connect', { alias: 'c', type: 'string', describe: "libvirt URI replacing the playbook's default connection" })
          .option('report-dir', { type: 'string', describe: "report directory (default: the playbook's report.dir, else ./qga-reports/<playbook file name>)" })
          .option('keep', { type: 'number', describe: "keep the last N full passes' reports under DIR/history/" })
          .option('metrics', { type: 'string', describe: 'keep Prometheus metrics current in this file (node_exporter textfile collector)' })
          .option('listen', { type: 'string', describe: 'serve /metrics and /healthz on [HOST:]PORT (default host 127.0.0.1; loopback only)' })
          .option('listen-non-loopback', { type: 'boolean', describe: 'allow --listen on a non-loopback address (the endpoints have no authentication)' })
          .option('stop-timeout', { type: 'string', default: '10s', describe: 'on SIGTERM, how long runs in flight may finish before they are canceled' })
          .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const, describe: 'log lines on stderr: text, or one JSON object per line' })
          .option('lock-wait', { type: 'string', default: '0s', describe: 'how long to wait for another run on the same report directory' })
          .example('$0 watch playbooks/fleet-timesync.yaml --listen 9464', "fix a guest's clock within a second of resume/restore/migration; metrics on 127.0.0.1:9464")
          .epilog('SIGTERM/SIGINT: finish (or after --stop-timeout cancel) runs in flight, write reports, exit 0. SIGHUP: re-read the playbook; an invalid one is logged and the old one kept.'),
      (argv) => setResult(watchCommand(argv as unknown as WatchArgs, io, signal)),
    )
    .command(
      'check <playbook>',
      'Validate a playbook and print its plan (exit 0 valid, 2 not)',
      (y) =>
        y
          .positional('playbook', { type: 'string', demandOption: true })
          .option('connect', { alias: 'c', type: 'string', describe: "libvirt URI replacing the playbook's default connection" })
          .example('$0 check playbooks/inventory.yaml', 'every problem at once, with file:line:column'),
      (argv) => setResult(checkCommand(argv as unknown as CheckArgs, io)),
    )
    .command(
      'list',
      'List domains, their agent channels, the transport qga-play would use, and whether each agent answers',
      (y) =>
        y
          .option('connect', { alias: 'c', type: 'string', describe: 'libvirt URI (default: $LIBVIRT_DEFAULT_URI, else qemu:///system)' })
          .option('format', { choices: ['human', 'json'] as const, default: 'human' as const })
          .option('timeout', { type: 'number', default: 3, describe: 'seconds to wait for each agent' })
          .example('$0 list -c qemu+ssh://root@hv2/system', 'the guests of another hypervisor'),
      (argv) => setResult(listCommand(argv as unknown as ListArgs, io, signal)),
    )
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
          .option('socket', { type: 'string', describe: 'talk to the agent socket at PATH directly (no libvirt)' })
          .option('timeout', { type: 'number', default: 10, describe: 'seconds to wait for the reply' })
          .option('max-reply', { type: 'number', describe: 'largest reply accepted on a socket, in bytes (default 16 MiB)' })
          .example("$0 agent web-1 '{\"execute\":\"guest-ping\"}'", 'ping the agent of domain web-1 through virsh')
          .example("$0 agent -c qemu+ssh://root@hv2/system db-1 '{\"execute\":\"guest-get-osinfo\"}'", 'a guest on another hypervisor')
          .example("$0 agent --channel org.qemu.guest_agent.1 web-1 '{\"execute\":\"guest-get-time\"}'", 'a second agent channel, through its socket')
          .example("$0 agent --socket /run/qga/app.sock '{\"execute\":\"guest-info\"}'", 'a socket given directly')
          .epilog(EXIT_HELP),
      (argv) => setResult(agentCommand(argv as unknown as AgentArgs, io, signal)),
    )
    .demandCommand(1, 'Give a command: run, watch, check, list or agent')
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
