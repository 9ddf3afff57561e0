import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT } from '../helpers/cli.js';
import { startHostAgents, type HostAgents } from '../helpers/host-agents.js';

// A real pseudo-terminal from util-linux `script`, set to 0 columns and rows as some ptys (a
// serial console, a container's) report them.
let agents: HostAgents;
let dir: string;
beforeAll(async () => {
  agents = await startHostAgents(1);
  dir = mkdtempSync(path.join(os.tmpdir(), 'qga-pty-'));
}, 120_000);
afterAll(async () => {
  await agents.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** What the terminal shows, roughly: escape sequences dropped, CR LF as LF. */
function plain(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '').replace(/\r\n/g, '\n');
}

test('a 0-column pty: the table is 80 wide and long errors are printed whole, wrapped', async () => {
  const missing = path.join(dir, 'a-socket-path-long-enough-to-need-more-than-one-line-of-the-table.sock');
  const file = path.join(dir, 'pty.yaml');
  writeFileSync(file, `name: pty\ntargets:\n  - vm: good\n    socket: ${agents.sockets[0]}\n  - vm: gone\n    socket: ${missing}\nsteps:\n  - ping\n`);
  const cmd = [process.execPath, path.join(ROOT, 'bin/qga-play.js'), 'run', file, '--report-dir', path.join(dir, 'r')].map((a) => `'${a}'`).join(' ');
  const r = await execa('script', ['-qec', `stty cols 0 rows 0; ${cmd}`, '/dev/null'], { reject: false, stdin: 'ignore' });
  expect(r.exitCode).toBe(3);
  const shown = plain(r.stdout);
  const table = shown.slice(shown.indexOf('VM    STATUS'));
  expect(table).toMatch(/^VM {4}STATUS {7}STEPS {2}TIME +RESULT\n/);
  expect(table).toMatch(/\ngood {2}ok +1\/1 +\d.* 1 step ok\n/);
  // The whole error, not cut to 20 columns nor ended with an ellipsis.
  const goneRows = table.slice(table.indexOf('\ngone')).split('\n\n')[0]!;
  expect(goneRows.replace(/\n +/g, ' ')).toContain(missing.slice(-40));
  expect(goneRows).not.toContain('…');
  for (const line of table.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
  expect(Math.max(...goneRows.split('\n').map((l) => l.length))).toBeGreaterThan(60);
}, 60_000);
