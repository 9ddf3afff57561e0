import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, runCli } from '../helpers/cli.js';
import { startFakeAgent, wellBehaved, type FakeAgent } from '../helpers/fake-agent.js';

// Bad usage runs nothing: a mistyped option is refused before any agent is asked anything and
// before any report is written, with exit 2 and a did-you-mean.
let dir: string;
let agent: FakeAgent;
let file: string;
beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'qga-usage-'));
  agent = await startFakeAgent(wellBehaved);
  file = path.join(dir, 'p.yaml');
  writeFileSync(file, `name: p\ntargets:\n  - vm: a\n    socket: ${agent.path}\nsteps:\n  - ping\n`);
});
afterAll(async () => {
  await agent.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('mistyped options are refused before anything runs', () => {
  test.each([
    [['--dryrun'], /Unknown argument: dryrun\n--dryrun: did you mean --dry-run\?/],
    [['--limt', 'a'], /Unknown argument: limt\n--limt: did you mean --limit\?/],
    [['--format', 'yaml'], /Invalid values:[\s\S]*Given: "yaml", Choices: "human", "json"/],
    [['--report-dir'], /Not enough arguments following: report-dir/],
  ])('run %j', async (extra, message) => {
    const reports = path.join(dir, `r-${extra[0]}`);
    const r = await runCli(['run', file, ...(extra[0] === '--report-dir' ? [] : ['--report-dir', reports]), ...extra]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/internal error|Please report/);
    expect(r.stdout).toBe('');
    expect(existsSync(reports)).toBe(false);
    expect(agent.requests).toEqual([]);
  });

  test('agent --chanel: refused, nothing sent, nothing printed on stdout', async () => {
    const r = await runCli(['agent', '--socket', agent.path, '--chanel', 'x', '{"execute":"guest-ping"}']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--chanel: did you mean --channel\?/);
    expect(r.stdout).toBe('');
    expect(agent.requests).toEqual([]);
  });

  test('a misspelt command is named with the closest one', async () => {
    const r = await runCli(['rn', file]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('rn: no such command; did you mean run?');
  });

  test('the same options run when spelt right', async () => {
    const r = await runCli(['run', file, '--dry-run']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('Dry run: no agent command was sent.');
  });
});

describe('--version and shell completion', () => {
  test('--version prints the package version', async () => {
    const r = await runCli(['--version']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(`${(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`);
  });

  test('qga-play completion prints a bash script that calls back for candidates', async () => {
    const r = await runCli(['completion']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('complete -o bashdefault -o default -F _qga-play_yargs_completions qga-play');
    expect(r.stdout).toContain('qga-play --get-yargs-completions');
  });

  test('the callback completes commands, options and choices', async () => {
    expect((await runCli(['--get-yargs-completions', 'qga-play', 'r'])).stdout.split('\n')).toEqual(expect.arrayContaining(['run', 'check', 'list', 'agent']));
    const opts = (await runCli(['--get-yargs-completions', 'qga-play', 'run', 'x.yaml', '--li'])).stdout.split('\n');
    expect(opts).toEqual(expect.arrayContaining(['--limit', '--dry-run', '--report-dir']));
    expect(opts).not.toContain('--channel');
    expect((await runCli(['--get-yargs-completions', 'qga-play', 'run', 'x.yaml', '--format', ''])).stdout).toBe('human\njson\n');
  });

  test('bash really completes with it', async () => {
    const script = (await runCli(['completion'])).stdout;
    const bin = path.join(dir, 'bin');
    const { mkdirSync, symlinkSync } = await import('node:fs');
    mkdirSync(bin, { recursive: true });
    symlinkSync(path.join(ROOT, 'bin/qga-play.js'), path.join(bin, 'qga-play'));
    const { execa } = await import('execa');
    const r = await execa(
      'bash',
      ['-c', `${script}\nCOMP_WORDS=(qga-play run x.yaml --dry); COMP_CWORD=3; _qga-play_yargs_completions; printf '%s\\n' "\${COMPREPLY[@]}"`],
      { env: { PATH: `${bin}:${process.env.PATH ?? ''}` } },
    );
    expect(r.stdout.trim()).toBe('--dry-run');
  });
});
