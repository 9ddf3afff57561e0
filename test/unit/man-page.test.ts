import { expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { renderManPage } from '../../src/man-page.js';
import { COMMANDS } from '../../src/command-table.js';
import { runCli } from '../helpers/cli.js';

const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

test('man/qga-play.1 is current with the command table (npm run build writes it)', () => {
  expect(readFileSync('man/qga-play.1', 'utf8') === renderManPage(version)).toBe(true);
});

test('every option --help shows is in the man page, and no other', async () => {
  const page = renderManPage(version);
  for (const spec of COMMANDS) {
    const help = (await runCli([spec.name, '--help'])).stdout;
    const options = help.slice(help.indexOf('Options:'), help.indexOf('Examples:') >= 0 ? help.indexOf('Examples:') : undefined);
    // Option lines only: a wrapped description may also start with "--".
    const inHelp = [...options.matchAll(/^ {2}(?:-\w, | {4})--([\w-]+)/gm)].map((m) => m[1]!).filter((o) => o !== 'help' && o !== 'version');
    expect(inHelp.sort()).toEqual(Object.keys(spec.options).sort());
    for (const o of inHelp) expect(page).toContain(`\\fB\\-\\-${o.replace(/-/g, '\\-')}\\fR`);
  }
});
