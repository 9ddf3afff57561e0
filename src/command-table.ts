/**
 * The commands and their options as data: one source for the parser (`--help`, strict checks,
 * completion) and the man page. No imports, so reading it costs nothing at startup.
 */

/** One command-line option. */
export interface OptionSpec {
  type: 'string' | 'number' | 'boolean';
  describe: string;
  alias?: string;
  choices?: readonly string[];
  default?: string | number | boolean;
  /** Shown in the man page's synopsis as the value's name. */
  arg?: string;
}

/** One positional argument. */
export interface PositionalSpec {
  name: string;
  describe: string;
  array?: boolean;
  required?: boolean;
}

/** One command: `usage` is yargs' command string (`run <playbook>`). */
export interface CommandSpec {
  name: 'run' | 'watch' | 'check' | 'list' | 'agent';
  usage: string;
  describe: string;
  /** Replaces yargs' generated usage line(s) when set. */
  synopsis?: string;
  positionals: PositionalSpec[];
  options: Record<string, OptionSpec>;
  examples: [string, string][];
  /** Shown before the exit codes in `--help`. */
  notes?: string;
}

export const PROGRAM = 'qga-play';
export const PROGRAM_SUMMARY = 'Drive the QEMU Guest Agent across libvirt VMs: YAML playbooks of agent steps, run on many guests at once.';

export const EXIT_HELP = `Exit codes:
  0    success
  1    a step failed, or the agent answered with an error (unless interrupted)
  2    bad usage or a bad playbook (nothing was run)
  3    nothing failed, but a target was unreachable or timed out
  74   the run finished, but its reports or metrics could not be written
  75   another run holds the report directory's lock
  130  interrupted (SIGINT/SIGTERM)`;

const connect: OptionSpec = { alias: 'c', type: 'string', arg: 'URI', describe: 'libvirt URI (default: $LIBVIRT_DEFAULT_URI, else qemu:///system)' };

// Options several commands share, spelled once.
const virshModeOverride: OptionSpec = {
  type: 'string',
  choices: ['session', 'process'],
  arg: 'MODE',
  describe: "standard channel: shared long-lived virsh sessions (default) or a virsh process per call (overrides the playbook's virsh.mode)",
};
const virshMode: OptionSpec = { type: 'string', choices: ['session', 'process'], arg: 'MODE', default: 'session', describe: 'standard channel: a virsh session, or a virsh process per call' };
const reportDir: OptionSpec = { type: 'string', arg: 'DIR', describe: "report directory (default: the playbook's report.dir, else /var/lib/qga-play/<playbook> as root, else ./qga-reports/<playbook>)" };
const concurrency: OptionSpec = { type: 'number', arg: 'N', describe: "VMs at once (default: the playbook's, else 8)" };
const connectOverride: OptionSpec = { ...connect, describe: "libvirt URI replacing the playbook's default connection" };
const lockWait: OptionSpec = { type: 'string', arg: 'DURATION', default: '0s', describe: 'how long to wait for another run on the same report directory' };

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'run',
    usage: 'run <playbook>',
    describe: 'Run a playbook on its VMs; write reports',
    positionals: [{ name: 'playbook', describe: 'the playbook file (YAML)', required: true }],
    options: {
      limit: { type: 'string', arg: 'PATTERN', describe: "only these VMs: a glob, a comma list, '!name' excludes (like ansible --limit)" },
      concurrency,
      connect: connectOverride,
      'virsh-mode': virshModeOverride,
      'virsh-sessions': { type: 'number', arg: 'N', describe: 'virsh sessions per connection URI (default: the concurrency, at most 8 and, for a local hypervisor, the CPU count)' },
      'dry-run': { type: 'boolean', describe: 'resolve targets and transports, print the plan, send no agent command' },
      'report-dir': reportDir,
      keep: { type: 'number', arg: 'N', describe: "keep the last N runs' reports under DIR/history/" },
      format: { type: 'string', choices: ['human', 'json'], default: 'human', describe: 'json: the summary and every VM report on stdout, progress on stderr' },
      metrics: { type: 'string', arg: 'FILE', describe: "write Prometheus metrics here (node_exporter's textfile collector)" },
      'lock-wait': lockWait,
      quiet: { alias: 'q', type: 'boolean', describe: 'print nothing when all is well; only the problems otherwise (for cron)' },
      color: { type: 'boolean', default: true, describe: 'color on a terminal (--no-color or NO_COLOR turn it off, FORCE_COLOR turns it on)' },
      verbose: { alias: 'v', type: 'boolean', describe: "more detail per step, and every exec's stdout and stderr" },
    },
    examples: [
      ['$0 run playbooks/fleet-timesync.yaml', "sync every running guest's clock on the default connection"],
      ['$0 run reachability.yaml --format json > out.json', 'CI: machine-readable summary; exit 3 if a guest does not answer'],
      ["$0 run inventory.yaml --limit 'web-*,!web-9' --concurrency 32", 'only the web guests but web-9, 32 at a time'],
      ['$0 run fleet-timesync.yaml --dry-run', 'show which VMs and transports would be used'],
    ],
  },
  {
    name: 'watch',
    usage: 'watch <playbook>',
    describe: 'Run as a service: react to libvirt events (resume, restore, migration, start, agent up) by running the playbook on that VM; run it all every `every:`',
    positionals: [{ name: 'playbook', describe: 'the playbook file (YAML); SIGHUP re-reads it', required: true }],
    options: {
      concurrency,
      connect: connectOverride,
      'virsh-mode': virshModeOverride,
      'report-dir': reportDir,
      keep: { type: 'number', arg: 'N', describe: "keep the last N full passes' reports under DIR/history/" },
      metrics: { type: 'string', arg: 'FILE', describe: 'keep Prometheus metrics current in this file (node_exporter textfile collector)' },
      listen: { type: 'string', arg: '[HOST:]PORT', describe: 'serve /metrics and /healthz on [HOST:]PORT (default host 127.0.0.1; loopback only)' },
      'listen-non-loopback': { type: 'boolean', describe: 'allow --listen on a non-loopback address (the endpoints have no authentication)' },
      'stop-timeout': { type: 'string', arg: 'DURATION', default: '10s', describe: 'on SIGTERM, how long runs in flight may finish before they are canceled' },
      'log-format': { type: 'string', choices: ['text', 'json'], default: 'text', describe: 'log lines on stderr: text, or one JSON object per line' },
      'lock-wait': lockWait,
    },
    examples: [['$0 watch playbooks/fleet-timesync.yaml --listen 9464', "fix a guest's clock within a second of resume/restore/migration; metrics on 127.0.0.1:9464"]],
    notes: 'SIGTERM/SIGINT: finish (or after --stop-timeout cancel) runs in flight, write reports, exit 0. SIGHUP: re-read the playbook; an invalid one is logged and the old one kept.',
  },
  {
    name: 'check',
    usage: 'check <playbook>',
    describe: 'Validate a playbook and print its plan (exit 0 valid, 2 not)',
    positionals: [{ name: 'playbook', describe: 'the playbook file (YAML)', required: true }],
    options: {
      connect: connectOverride,
      limit: { type: 'string', arg: 'PATTERN', describe: "as run's --limit, checked against the targets the playbook names plainly (globs need libvirt)" },
    },
    examples: [['$0 check playbooks/inventory.yaml', 'every problem at once, with file:line:column']],
  },
  {
    name: 'list',
    usage: 'list',
    describe: 'List domains, their agent channels, the transport qga-play would use, and whether each agent answers',
    positionals: [],
    options: {
      connect,
      format: { type: 'string', choices: ['human', 'json'], default: 'human', describe: 'json: one JSON document on stdout' },
      timeout: { type: 'number', arg: 'SECONDS', default: 3, describe: 'seconds to wait for the hypervisor and for each agent' },
      'virsh-mode': virshMode,
    },
    examples: [['$0 list -c qemu+ssh://root@hv2/system', 'the guests of another hypervisor']],
  },
  {
    name: 'agent',
    usage: 'agent [args..]',
    describe: 'Send one QGA command to one agent, or to every VM a pattern matches, and print the replies',
    synopsis:
      '$0 agent [-c URI] [--channel NAME] [--timeout SECONDS] DOMAIN JSON\n$0 agent [-c URI] [--concurrency N] PATTERN JSON\n$0 agent --socket PATH [--timeout SECONDS] JSON\n\n' +
      'One domain: prints the reply as one JSON line on stdout, exactly as the agent sent it; problems go to stderr. ' +
      "A PATTERN (a glob such as 'web-*', or a comma list with '!exclusions') fans out over the running domains and prints " +
      'one line per VM, {"vm":NAME,"reply":REPLY} or {"vm":NAME,"error":{"code","message"}}; the exit code follows run\'s rules.',
    positionals: [{ name: 'args', describe: 'DOMAIN (or PATTERN) and JSON, or JSON alone with --socket', array: true }],
    options: {
      connect,
      channel: { type: 'string', arg: 'NAME', describe: 'agent channel of the domain; a non-standard one is reached through its socket (from dumpxml)' },
      socket: { type: 'string', arg: 'PATH', describe: 'talk to the agent socket at PATH directly (no libvirt)' },
      timeout: { type: 'number', arg: 'SECONDS', default: 10, describe: 'seconds to wait for the reply' },
      'max-reply': { type: 'number', arg: 'BYTES', describe: 'largest reply accepted on a socket, in bytes (default 16 MiB)' },
      'virsh-mode': virshMode,
      concurrency: { type: 'number', arg: 'N', default: 8, describe: 'VMs at once when a PATTERN names several' },
    },
    examples: [
      ['$0 agent web-1 \'{"execute":"guest-ping"}\'', 'ping the agent of domain web-1 through virsh'],
      ['$0 agent \'web-*\' \'{"execute":"guest-ping"}\'', 'ping every running web-* domain: one JSON line per VM'],
      ['$0 agent -c qemu+ssh://root@hv2/system db-1 \'{"execute":"guest-get-osinfo"}\'', 'a guest on another hypervisor'],
      ['$0 agent --channel org.qemu.guest_agent.1 web-1 \'{"execute":"guest-get-time"}\'', 'a second agent channel, through its socket'],
      ['$0 agent --socket /run/qga/app.sock \'{"execute":"guest-info"}\'', 'a socket given directly'],
    ],
  },
];

/** Every name an option of `command` answers to (long names and aliases, `no-` forms of booleans). */
export function optionNames(command: CommandSpec | undefined): string[] {
  const names = ['help', 'version'];
  for (const [name, o] of Object.entries(command?.options ?? {})) {
    names.push(name);
    if (o.alias) names.push(o.alias);
    if (o.type === 'boolean') names.push(`no-${name}`);
  }
  return names;
}

/**
 * Candidates for the word being typed (the last of `words`, which follow the program name), as
 * the completion script asks for them: commands, then the command's options, or an option's choices.
 */
export function completions(words: readonly string[]): string[] {
  const current = words[words.length - 1] ?? '';
  const before = words.slice(0, -1);
  const spec = COMMANDS.find((c) => before.includes(c.name));
  if (!spec) return current.startsWith('-') ? ['--help', '--version'] : [...COMMANDS.map((c) => c.name), 'completion'];
  const previous = before[before.length - 1] ?? '';
  const option = Object.entries(spec.options).find(([name, o]) => previous === `--${name}` || (o.alias !== undefined && previous === `-${o.alias}`));
  if (option?.[1].choices) return [...option[1].choices];
  if (option && option[1].type !== 'boolean') return [];
  if (!current.startsWith('-')) return [];
  return [...Object.keys(spec.options).map((n) => `--${n}`), '--help'];
}
