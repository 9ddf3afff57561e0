import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT } from '../helpers/cli.js';

// Debian 12's own nodejs is 18: the bin must say what is wrong before loading code an old Node
// may not even parse. The old Node is simulated by a preload that rewrites process.versions.
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'qga-node-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function runAs(version: string, args: string[]) {
  const preload = path.join(dir, `node-${version}.cjs`);
  writeFileSync(preload, `Object.defineProperty(process.versions, 'node', { value: ${JSON.stringify(version)} });\n`);
  return execa(process.execPath, ['-r', preload, path.join(ROOT, 'bin/qga-play.js'), ...args], { reject: false });
}

test.each(['18.19.0', '16.20.2', '8.17.0'])('Node %s: a clear message naming both versions and how to get 20, exit 1, nothing run', async (version) => {
  const reports = path.join(dir, 'reports');
  const r = await runAs(version, ['run', 'playbooks/reachability.yaml', '--report-dir', reports]);
  expect(r.exitCode).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toContain(`qga-play: needs Node.js 20 or later; this is Node.js ${version}`);
  expect(r.stderr).toContain('NodeSource');
  expect(r.stderr.split('\n').length).toBeLessThan(6);
});

test('Node 20 runs', async () => {
  const r = await runAs('20.0.0', ['--version']);
  expect(r.exitCode).toBe(0);
  expect(r.stdout).toMatch(/^\d+\.\d+\.\d+$/);
});

test('the bin itself parses with syntax any Node since 0.12 reads: no import statement, no await at top level', () => {
  const text = readFileSync(path.join(ROOT, 'bin/qga-play.js'), 'utf8');
  const code = text.split('\n').filter((l) => !l.trim().startsWith('//')).join('\n');
  expect(code).not.toMatch(/^\s*import\s/m);
  expect(code).not.toMatch(/^\s*(const|let)\s|=>|await /m);
});
