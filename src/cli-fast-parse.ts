import { COMMANDS, type CommandSpec, type OptionSpec } from './command-table.js';

/** A command line the fast parser understood: the command and its argv, shaped as yargs shapes it. */
export interface FastParse {
  command: CommandSpec['name'];
  argv: Record<string, unknown>;
}

/**
 * Parses the plain, valid command lines (most of them) from the command table without loading
 * yargs, which costs about 100 ms at every start. Anything else (help, completion, `--no-x`,
 * an unknown or repeated option, a missing value, a bad choice, a wrong number of arguments)
 * returns undefined, and yargs parses it: its messages and checks stay the only ones.
 */
export function parseFast(args: readonly string[]): FastParse | undefined {
  const spec = COMMANDS.find((c) => c.name === args[0]);
  if (!spec) return undefined;
  const byName = new Map<string, [string, OptionSpec]>();
  for (const [name, o] of Object.entries(spec.options)) {
    byName.set(`--${name}`, [name, o]);
    if (o.alias) byName.set(`-${o.alias}`, [name, o]);
  }
  const argv: Record<string, unknown> = {};
  const positionals: string[] = [];
  for (let i = 1; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const found = byName.get(flag);
    if (!found || found[0] in argv) return undefined;
    const [name, o] = found;
    if (o.type === 'boolean') {
      if (eq > 0) return undefined;
      argv[name] = true;
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined || (eq < 0 && value.startsWith('-'))) return undefined;
    if (o.choices && !o.choices.includes(value)) return undefined;
    if (o.type === 'number') {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n)) return undefined;
      argv[name] = n;
    } else argv[name] = value;
  }
  const [first] = spec.positionals;
  if (first?.array) argv[first.name] = positionals;
  else if (first) {
    if (positionals.length !== 1) return undefined;
    argv[first.name] = positionals[0];
  } else if (positionals.length > 0) return undefined;
  for (const [name, o] of Object.entries(spec.options)) if (!(name in argv) && o.default !== undefined) argv[name] = o.default;
  return { command: spec.name, argv };
}
