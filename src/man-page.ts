import { COMMANDS, EXIT_HELP, PROGRAM, PROGRAM_SUMMARY, type CommandSpec, type OptionSpec } from './command-table.js';

/** Text for roff: backslashes and leading dots/quotes escaped, hyphens as minus signs. */
function roff(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/^([.'])/gm, '\\&$1');
}

function optionLine(name: string, o: OptionSpec): string {
  const flags = [`\\fB\\-\\-${roff(name)}\\fR`];
  if (o.alias) flags.unshift(`\\fB\\-${roff(o.alias)}\\fR`);
  const arg = o.choices ? ` \\fI${roff(o.choices.join('|'))}\\fR` : o.arg ? ` \\fI${roff(o.arg)}\\fR` : '';
  return flags.join(', ') + arg;
}

function command(spec: CommandSpec): string[] {
  const lines = ['.SS ' + roff(`${PROGRAM} ${spec.usage.replace(/<(\w+)>/g, (_, n: string) => n.toUpperCase()).replace(/\[args\.\.\]/, 'ARGS...')}`), roff(spec.describe) + '.'];
  if (spec.synopsis) {
    const [usage, ...rest] = spec.synopsis.split('\n\n');
    lines.push('.PP', '.nf', ...usage!.split('\n').map((l) => roff(l.replace('$0', PROGRAM))), '.fi');
    for (const p of rest) lines.push('.PP', roff(p));
  }
  for (const [name, o] of Object.entries(spec.options)) {
    const extra = o.default !== undefined && o.type !== 'boolean' ? ` (default: ${String(o.default)})` : '';
    lines.push('.TP', optionLine(name, o), roff(o.describe + extra));
  }
  if (spec.examples.length > 0) {
    lines.push('.PP', 'Examples:');
    for (const [cmd, what] of spec.examples) lines.push('.TP', `\\f(CR${roff(cmd.replace('$0', PROGRAM))}\\fR`, roff(what));
  }
  return lines;
}

/**
 * The man page, from the same command table as `--help`: `npm run build` writes it to
 * man/qga-play.1 and a test checks that file is current.
 */
export function renderManPage(version: string): string {
  const exits = EXIT_HELP.split('\n').slice(1).map((l) => /^\s*(\d+)\s+(.*)$/.exec(l)!);
  const lines = [
    `.\\" Generated from src/command-table.ts by scripts/build-man.js: do not edit.`,
    `.TH QGA\\-PLAY 1 "" "${PROGRAM} ${version}" "User Commands"`,
    '.SH NAME',
    `${PROGRAM} \\- ${roff(PROGRAM_SUMMARY.replace(/^Drive/, 'drive'))}`,
    '.SH SYNOPSIS',
    '.nf',
    ...COMMANDS.map((c) => `\\fB${PROGRAM} ${c.name}\\fR [\\fIoptions\\fR]${c.positionals.map((p) => ` ${p.required ? '' : '['}\\fI${roff(p.name.toUpperCase())}\\fR${p.array ? '...' : ''}${p.required ? '' : ']'}`).join('')}`),
    `\\fB${PROGRAM} completion\\fR`,
    `\\fB${PROGRAM} \\-\\-help\\fR | \\fB\\-\\-version\\fR`,
    '.fi',
    '.SH COMMANDS',
    ...COMMANDS.flatMap(command),
    '.SS ' + `${PROGRAM} completion`,
    'Prints a bash completion script; add it to ~/.bashrc: \\fBqga\\-play completion >> ~/.bashrc\\fR.',
    '.SH EXIT STATUS',
    ...exits.flatMap((m) => ['.TP', `\\fB${m[1]}\\fR`, roff(m[2]!)]),
    '.SH ENVIRONMENT',
    '.TP',
    '\\fBLIBVIRT_DEFAULT_URI\\fR',
    'The default libvirt connection (else qemu:///system).',
    '.TP',
    '\\fBNO_COLOR\\fR, \\fBFORCE_COLOR\\fR',
    'Turn color off, or on even when not on a terminal.',
    '.SH FILES',
    '.TP',
    '\\fI/var/lib/qga\\-play/\\fRPLAYBOOK',
    "Root's default report directory (others: ./qga\\-reports/PLAYBOOK).",
    '.SH SEE ALSO',
    '\\fBvirsh\\fR(1), \\fBqemu\\-ga\\fR(8)',
    '',
  ];
  return lines.join('\n');
}
