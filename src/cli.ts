import type { Argv } from 'yargs';
import { COMMANDS, completions, EXIT_HELP, optionNames, PROGRAM, PROGRAM_SUMMARY, type CommandSpec } from './command-table.js';
import { errorMessage, QgaPlayError } from './errors.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { defaultIo, interruptSignal, type Io } from './commands/common.js';
import { closest } from './playbook/suggest.js';
import { parseFast } from './cli-fast-parse.js';
import { visible } from './util/visible.js';
import { packageVersion } from './util/package-version.js';

export { defaultUri } from './commands/common.js';
export type { Io } from './commands/common.js';

export { packageVersion } from './util/package-version.js';

interface Chosen {
  command: CommandSpec['name'];
  argv: Record<string, unknown>;
}

/** The parser for `args`: it only parses and validates; the chosen command runs after it. */
export async function buildParser(args: string[], columns: number | undefined, choose: (c: Chosen) => void): Promise<Argv> {
  const { default: yargs } = await import('yargs');
  let parser = yargs(args)
    .scriptName(PROGRAM)
    .usage(`$0 <command> [options]\n\n${PROGRAM_SUMMARY}`);
  for (const spec of COMMANDS) {
    parser = parser.command(
      spec.usage,
      spec.describe,
      (y) => {
        if (spec.synopsis) y.usage(spec.synopsis);
        for (const p of spec.positionals) {
          y.positional(p.name, { type: 'string', describe: p.describe, ...(p.array ? { array: true, default: [] } : {}), ...(p.required ? { demandOption: true } : {}) });
        }
        for (const [name, o] of Object.entries(spec.options)) {
          y.option(name, {
            type: o.type,
            describe: o.describe,
            ...(o.alias ? { alias: o.alias } : {}),
            ...(o.choices ? { choices: [...o.choices] } : {}),
            ...(o.default !== undefined ? { default: o.default } : {}),
            // `--limit` with no value is a mistake, not an empty pattern.
            ...(o.type === 'string' ? { requiresArg: true } : {}),
          });
        }
        for (const [cmd, what] of spec.examples) y.example(cmd, what);
        return y.epilog(spec.notes ? `${spec.notes}\n\n${EXIT_HELP}` : EXIT_HELP);
      },
      (argv) => choose({ command: spec.name, argv: argv as Record<string, unknown> }),
    );
  }
  return parser
    .completion('completion', 'Print a bash/zsh completion script: qga-play completion >> ~/.bashrc')
    .demandCommand(1, `Give a command: ${COMMANDS.map((c) => c.name).join(', ')}`)
    .recommendCommands()
    .strict()
    .help()
    .alias('h', 'help')
    .version(packageVersion())
    .epilog(EXIT_HELP)
    .wrap(Math.min(110, columns || 100))
    .exitProcess(false);
}

/** `Unknown argument: dryrun` gains `; did you mean --dry-run?` for each name close to an option. */
function withSuggestions(message: string, args: string[]): string {
  const m = /^Unknown arguments?: (.*)$/.exec(message);
  if (!m) return message;
  const spec = COMMANDS.find((c) => args.includes(c.name));
  const names = optionNames(spec);
  const commands = COMMANDS.map((c) => c.name);
  const first = args.find((a) => !a.startsWith('-'));
  const hints = m[1]!.split(', ').flatMap((word) => {
    if (!spec && word === first) {
      const best = closest(word, commands);
      return [best ? `${word}: no such command; did you mean ${best}?` : `${word}: no such command (commands: ${commands.join(', ')})`];
    }
    const wasOption = args.some((a) => a === `--${word}` || a.startsWith(`--${word}=`) || a === `-${word}`);
    const best = wasOption ? closest(word, names) : undefined;
    return best ? [`--${word}: did you mean --${best}?`] : [];
  });
  return hints.length > 0 ? `${message}\n${hints.join('\n')}` : message;
}

async function dispatch(chosen: Chosen, io: Io, signal: AbortSignal): Promise<number> {
  switch (chosen.command) {
    case 'run': {
      const { runCommand } = await import('./commands/run.js');
      return runCommand(chosen.argv as never, io, signal);
    }
    case 'watch': {
      const { watchCommand } = await import('./commands/watch.js');
      return watchCommand(chosen.argv as never, io, signal);
    }
    case 'check': {
      const { checkCommand } = await import('./commands/check.js');
      return checkCommand(chosen.argv as never, io);
    }
    case 'list': {
      const { listCommand } = await import('./commands/list.js');
      return listCommand(chosen.argv as never, io, signal);
    }
    case 'agent': {
      const { agentCommand } = await import('./commands/agent.js');
      return agentCommand(chosen.argv as never, io, signal);
    }
  }
}

/** Runs the CLI and returns the exit code. */
export async function main(args: string[], io: Io = defaultIo): Promise<number> {
  // The commonest probe of an install: answered without loading the parser.
  if (args.length === 1 && args[0] === '--version') {
    io.stdout(`${packageVersion()}\n`);
    return EXIT.ok;
  }
  // The completion script calls back on every TAB with the words typed so far.
  if (args[0] === '--get-yargs-completions') {
    io.stdout(completions(args.slice(2)).map((w) => `${w}\n`).join(''));
    return EXIT.ok;
  }
  const { signal, dispose } = interruptSignal();
  try {
    // The plain, valid command lines skip loading yargs; anything else gets yargs' full treatment.
    const fast = parseFast(args);
    if (fast) return await dispatch(fast, io, signal);
    let chosen: Chosen | undefined;
    let usageError: string | undefined;
    const parser = (await buildParser(args, process.stdout.columns, (c) => (chosen = c))).fail((msg, err) => {
      // yargs' own errors (YError: a missing option value, say) are usage errors too.
      if (err && err.name !== 'YError') throw err;
      usageError = msg ?? err?.message;
    });
    const output = await new Promise<string>((resolve, reject) => {
      void Promise.resolve(parser.parse(args, {}, (err, _argv, out) => (err && !usageError ? reject(err) : resolve(out)))).catch(reject);
    });
    // Bad usage runs nothing: every check above is done before a command starts.
    if (usageError) {
      io.stderr(`${PROGRAM}: ${withSuggestions(usageError, args)}\nRun ${PROGRAM} --help for usage.\n`);
      return EXIT.usage;
    }
    if (output) io.stdout(output + '\n');
    return chosen ? await dispatch(chosen, io, signal) : EXIT.ok;
  } catch (err) {
    // Line by line: a message may list several problems, one per line, each escaped where made.
    if (err instanceof QgaPlayError) io.stderr(`${PROGRAM}: ${err.message.split('\n').map(visible).join('\n')}\n`);
    else io.stderr(`${PROGRAM}: internal error: ${visible(errorMessage(err))}\n${(err as Error).stack ?? ''}\nPlease report this.\n`);
    return exitCodeFor(err);
  } finally {
    dispose();
  }
}
