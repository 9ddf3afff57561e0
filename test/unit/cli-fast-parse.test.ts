import { describe, expect, test } from '@jest/globals';
import { buildParser } from '../../src/cli.js';
import { parseFast } from '../../src/cli-fast-parse.js';
import { COMMANDS } from '../../src/command-table.js';

/** What yargs makes of `args`: the chosen command and the argv keys the command table names. */
async function viaYargs(args: string[]): Promise<{ command: string; argv: Record<string, unknown> } | 'error'> {
  let chosen: { command: string; argv: Record<string, unknown> } | undefined;
  let failed = false;
  const parser = (await buildParser(args, 100, (c) => (chosen = c))).fail(() => (failed = true));
  await parser.parse(args);
  if (failed || !chosen) return 'error';
  const spec = COMMANDS.find((c) => c.name === chosen!.command)!;
  const keys = [...Object.keys(spec.options), ...spec.positionals.map((p) => p.name)];
  return { command: chosen.command, argv: Object.fromEntries(keys.filter((k) => chosen!.argv[k] !== undefined).map((k) => [k, chosen!.argv[k]])) };
}

// The fast path must give exactly what yargs gives, or step aside.
describe('parseFast agrees with yargs', () => {
  test.each([
    ['run', 'p.yaml'],
    ['run', 'p.yaml', '--limit', 'web-*,!web-2', '--concurrency', '4', '-c', 'qemu:///x', '--dry-run'],
    ['run', '--report-dir=/tmp/r', 'p.yaml', '--keep', '3', '--format', 'json', '-q', '-v', '--metrics', 'm.prom', '--lock-wait', '5m'],
    ['check', 'p.yaml', '--connect', 'qemu+ssh://h/system'],
    ['list'],
    ['list', '--format', 'json', '--timeout', '2.5'],
    ['agent', 'web-1', '{"execute":"guest-ping"}'],
    ['agent', '--socket', '/s', '{"execute":"guest-ping"}', '--max-reply', '1000', '--timeout', '3'],
    ['agent', 'web-*', '{}', '--concurrency', '2'],
  ])('%j', async (...args) => {
    const fast = parseFast(args);
    expect(fast).toBeDefined();
    expect(fast).toEqual(await viaYargs(args));
  });

  test.each([
    ['run', 'p.yaml', '--dryrun'],
    ['run', 'p.yaml', '--format', 'yaml'],
    ['run', 'p.yaml', '--limit'],
    ['run', 'p.yaml', '--limit', '--dry-run'],
    ['run', 'p.yaml', 'extra'],
    ['run'],
    ['run', 'p.yaml', '--no-color'],
    ['run', 'p.yaml', '--help'],
    ['run', 'p.yaml', '--limit', 'a', '--limit', 'b'],
    ['run', 'p.yaml', '--concurrency', 'abc'],
    ['list', 'x'],
    ['agent', '--chanel', 'x', 'web-1', '{}'],
    ['rn', 'p.yaml'],
    ['--version'],
    ['completion'],
  ])('steps aside for %j', (...args) => {
    expect(parseFast(args)).toBeUndefined();
  });
});
