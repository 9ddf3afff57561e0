import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UsageError } from '../../src/errors.js';
import { loadPlaybook, parsePlaybook, PlaybookError } from '../../src/playbook/index.js';

const INVALID = 'fixtures/playbooks/invalid';

async function problems(file: string): Promise<string[]> {
  try {
    await loadPlaybook(file, { env: {} });
  } catch (err) {
    if (!(err instanceof PlaybookError)) throw err;
    expect(err.message).toBe(err.problems.map((p) => (p.line ? `${p.file}:${p.line}:${p.column}: ${p.message}` : `${p.file}: ${p.message}`)).join('\n'));
    return err.problems.map((p) => `${p.line}:${p.column} ${p.message}`);
  }
  throw new Error(`${file} loaded without error`);
}

function parseProblems(text: string): string[] {
  try {
    parsePlaybook(text, 'p.yaml', { env: {} });
  } catch (err) {
    if (err instanceof PlaybookError) return err.problems.map((p) => `${p.line}:${p.column} ${p.message}`);
    throw err;
  }
  throw new Error('parsed without error');
}

/** Each expected entry is `line:col message-prefix`; all problems must be listed, in order. */
function expectProblems(actual: string[], expected: string[]): void {
  expect(actual).toHaveLength(expected.length);
  expected.forEach((prefix, i) => expect(actual[i]!.startsWith(prefix) ? prefix : actual[i]).toBe(prefix));
}

const KINDS = 'ping, wait-agent, info, exec, file-read, file-write, time-get, time-sync, network, osinfo, hostname, users, timezone, fsinfo, disks, load, fsfreeze, fsthaw, fstrim, shutdown, reboot, set-password, agent';

describe('files that are not playbooks', () => {
  test('missing file', async () => {
    expectProblems(await problems(`${INVALID}/nope.yaml`), ['0:0 no such file']);
  });

  test('a directory names the playbooks inside', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'qga-play-'));
    for (const f of ['site.yaml', 'notes.txt', 'ci.yml']) writeFileSync(path.join(dir, f), '');
    const [problem] = await problems(dir);
    expect(problem).toMatch(/^0:0 is a directory, not a playbook file \(it holds (site.yaml, ci.yml|ci.yml, site.yaml)\)$/);
    expectProblems(await problems(mkdtempSync(path.join(tmpdir(), 'qga-play-'))), ['0:0 is a directory, not a playbook file']);
  });

  test('empty file and a file of comments', async () => {
    expectProblems(await problems(`${INVALID}/empty.yaml`), ['0:0 empty file: a playbook is a map with at least `targets:` and `steps:`']);
    expectProblems(await problems(`${INVALID}/comments-only.yaml`), ['0:0 empty file: it holds only comments; a playbook is a map with at least `targets:` and `steps:`']);
  });

  test('YAML syntax error with its line', async () => {
    expectProblems(await problems(`${INVALID}/syntax-error.yaml`), ['4:1 YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]']);
    expectProblems(parseProblems('targets:\n  - vm: a\n\tsteps: x\n'), ['3:1 YAML syntax error: ']);
  });

  test('duplicate key', async () => {
    expectProblems(await problems(`${INVALID}/duplicate-key.yaml`), ['5:1 duplicate key `targets`: a key may appear once in a map']);
  });

  test('YAML that is not a mapping', async () => {
    expectProblems(await problems(`${INVALID}/not-a-map.yaml`), ['1:1 a playbook is a map of keys (name:, targets:, steps:, ...), not a list']);
    expectProblems(parseProblems('# comment\njust text\n'), ['2:1 a playbook is a map of keys (name:, targets:, steps:, ...), not the string "just text"']);
  });

  test('the error is a UsageError with code PLAYBOOK_INVALID and keeps the cause', async () => {
    const err = await loadPlaybook(`${INVALID}/nope.yaml`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as PlaybookError).code).toBe('PLAYBOOK_INVALID');
    expect(((err as PlaybookError).cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect((err as PlaybookError).problems[0]).toEqual({ file: `${INVALID}/nope.yaml`, line: 0, column: 0, path: '', message: 'no such file' });
  });
});

describe('playbook problems, each located', () => {
  test('no targets, no steps', async () => {
    expectProblems(await problems(`${INVALID}/no-targets.yaml`), ['1:1 no targets: add `targets:` with at least one entry such as `- vm: web-*`']);
    expectProblems(await problems(`${INVALID}/empty-steps.yaml`), ['3:8 no steps: the `steps` list is empty; add at least one step such as `- ping`']);
    expectProblems(parseProblems('targets:\nsteps:\n'), [
      '1:1 no targets: the `targets` list is empty; add at least one entry such as `- vm: web-*`',
      '2:1 no steps: the `steps` list is empty; add at least one step such as `- ping`',
    ]);
  });

  test('unknown keys, with did you mean and what is allowed', async () => {
    expectProblems(await problems(`${INVALID}/unknown-keys.yaml`), [
      '2:1 unknown key `concurency`; did you mean `concurrency`? (allowed: name, connect, concurrency, virsh, timeout, report, every, watch, targets, steps)',
      '5:5 unknown key `chanel` in `targets[0]`; did you mean `channel`? (allowed: vm, connect, channel, socket, ssh, exclude)',
      '8:13 unknown key `pth` in `steps[1].exec`; did you mean `path`? (allowed: path, args, env, stdin, capture)',
      '9:5 unknown key `retry_delay` in step `steps[1]`; did you mean `retry-delay`? (a step has one kind key and may have: name, timeout, retries, retry-delay, continue-on-error, expect)',
    ]);
  });

  test('a misspelt required key is reported once, as unknown', () => {
    expectProblems(parseProblems('tagrets:\n  - vm: a\nsteps: [ping]\n'), ['1:1 unknown key `tagrets`; did you mean `targets`?']);
  });

  test('unknown step kinds, in both forms', async () => {
    expectProblems(await problems(`${INVALID}/unknown-kinds.yaml`), [
      `4:5 unknown step kind \`pnig\`; did you mean \`ping\`? (kinds: ${KINDS})`,
      `5:5 unknown step kind \`exce\`; did you mean \`exec\`? (kinds: ${KINDS})`,
      `6:5 unknown step kind \`frobnicate\` (kinds: ${KINDS})`,
    ]);
  });

  test('a step with no kind, and one with two', async () => {
    expectProblems(await problems(`${INVALID}/two-kinds.yaml`), ['5:5 a step does one thing, but this one has 2 kind keys: `ping`, `info`; split it into separate steps']);
    expectProblems(parseProblems('targets: [{vm: a}]\nsteps:\n  - name: nothing\n    timeout: 5s\n'), [`3:5 \`steps[0]\` has no step kind; add one of: ${KINDS}`]);
  });

  test('a no-parameter kind given parameters', () => {
    expectProblems(parseProblems('targets: [{vm: a}]\nsteps:\n  - ping: { count: 3 }\n'), ['3:13 the `ping` step takes no parameters; remove `count`']);
  });

  test('duplicate targets, on the same connection or socket', async () => {
    expectProblems(await problems(`${INVALID}/duplicate-target.yaml`), [
      '5:9 duplicate target: `web1` on qemu:///system is already listed at line 3',
      '11:9 duplicate target: socket /run/a.sock is already listed at line 9',
    ]);
  });

  test('duplicate targets use the inherited connection', () => {
    const text = 'targets:\n  - vm: a\n  - vm: a\n    connect: qemu:///session\nsteps: [ping]\n';
    expect(() => parsePlaybook(text, 'p.yaml', { env: {} })).not.toThrow();
    expect(() => parsePlaybook(text, 'p.yaml', { env: { LIBVIRT_DEFAULT_URI: 'qemu:///session' } })).toThrow('p.yaml:3:9: duplicate target: `a` on qemu:///session is already listed at line 2');
  });

  test('malformed durations', async () => {
    expectProblems(await problems(`${INVALID}/bad-duration.yaml`), [
      '1:10 `timeout: 5 sec` is not a duration; use 500ms, 30s, 2m, 1h',
      '7:14 `steps[1].timeout: 0` must be more than 0',
      '8:29 `steps[2].time-sync.threshold: fast` is not a duration; use 500ms, 30s, 2m, 1h',
    ]);
    expectProblems(parseProblems('timeout: 1000h\ntargets: [{vm: a}]\nsteps: [ping]\n'), ['1:10 `timeout: 1000h` is too long (at most 596h31m23.647s)']);
    expectProblems(parseProblems('timeout: -3\ntargets: [{vm: a}]\nsteps: [ping]\n'), ['1:10 `timeout: -3` is not a duration; use 500ms, 30s, 2m, 1h']);
  });

  test('bad types', async () => {
    expectProblems(await problems(`${INVALID}/bad-types.yaml`), [
      '1:7 `name` must be a string, not the number 42',
      '2:14 `concurrency` must be a whole number, not the string "many"',
      '3:17 `report.keep` must be at least 0, not -1',
      '6:14 `targets[0].exclude` must be a list, not the string "build-*"',
      '9:5 `steps[1]` is not a step: write a kind name (`- ping`) or a map with one kind key (`- exec: { path: /bin/true }`), not the number 7',
      '10:11 `steps[2].exec` must be a map, not the string "/bin/true"',
      '11:39 `steps[3].exec.capture: merge` must be one of true, false, merged; did you mean `merged`?',
      '12:14 `steps[3].retries` must be a whole number, not the number 1.5',
      '13:24 `steps[3].continue-on-error` must be true or false, not the string "yes"',
      '14:24 `steps[4].fstrim.minimum` must be a whole number, not the string "lots"',
    ]);
  });

  test('secrets, sizes and ranges', () => {
    const text = [
      'targets: [{vm: a}]',
      'steps:',
      '  - exec: { path: /x, stdin: 5, env: { A: { value: x } } }',
      '  - file-read: { path: /x, max-size: 10 megs }',
      '  - time-get: { samples: 99 }',
      '  - set-password: { user: root, password: { value: x, secret: false } }',
    ].join('\n');
    expectProblems(parseProblems(text), [
      '3:30 `steps[0].exec.stdin` must be a string or `{ value: ..., secret: true }`, not the number 5',
      '3:43 missing required key `secret` in `steps[0].exec.env.A`',
      '4:38 `steps[1].file-read.max-size: 10 megs` is not a size; use a number of bytes or 512KiB, 10MiB, 1GB',
      '5:26 `steps[2].time-get.samples` must be at most 50, not 99',
      '6:63 `steps[3].set-password.password.secret` must be true',
    ]);
  });

  test('target endpoints: channel with socket, ssh without socket, socket with a glob', async () => {
    expectProblems(await problems(`${INVALID}/endpoints.yaml`), [
      '3:5 a target has `channel` (found through libvirt) or `socket` (used directly), not both',
      '6:5 `ssh` needs `socket` (the agent socket on that host); for a remote libvirt use `connect: qemu+ssh://HOST/system`',
      '7:9 a `socket` target is one VM: `vm` names it and can\'t be a glob (`app-*`)',
    ]);
  });

  test('file-write needs exactly one of from and content', async () => {
    expectProblems(await problems(`${INVALID}/file-write.yaml`), [
      '4:17 file-write needs `from` (a local file) or `content` (text)',
      '8:7 file-write takes `from` (a local file) or `content` (text), not both',
    ]);
  });

  test('expect operators, regular expressions and agent requests', async () => {
    expectProblems(await problems(`${INVALID}/expect.yaml`), [
      '6:20 unknown operator `equals` in `steps[0].expect.exit-code` (operators: eq, ne, lt, le, gt, ge, matches, contains)',
      '7:26 `steps[0].expect.stdout.matches: (unclosed` is not a regular expression: missing closing ): `(unclosed`',
      '8:15 `steps[0].expect.stderr` has no operator; use one of eq, ne, lt, le, gt, ge, matches, contains',
      '9:7 `a..b` in `steps[0].expect` is not a dot path into the result (like `exitCode` or `return.version`)',
      '10:39 unknown key `id` in `steps[1].agent` (allowed: execute, arguments)',
      '11:12 missing required key `execute` in `steps[2].agent`',
      '11:25 `steps[2].agent.arguments` must be a map, not a list',
    ]);
  });

  test('every problem is reported at once, in file order', () => {
    const text = ['timeout: 5 sec', 'concurency: 3', 'targets:', '  - vm: a', '  - vm: a', 'steps:', '  - pnig', '  - exec: {}', '    ping:'].join('\n');
    expectProblems(parseProblems(text), [
      '1:10 `timeout: 5 sec` is not a duration',
      '2:1 unknown key `concurency`',
      '5:9 duplicate target: `a` on qemu:///system',
      '7:5 unknown step kind `pnig`',
      '8:11 missing required key `path` in `steps[1].exec`',
      '9:5 a step does one thing, but this one has 2 kind keys: `exec`, `ping`',
    ]);
  });

  test('unreadable file', async () => {
    if (process.getuid?.() === 0) return; // root reads anything
    const dir = mkdtempSync(path.join(tmpdir(), 'qga-play-'));
    const file = path.join(dir, 'p.yaml');
    writeFileSync(file, 'x: 1\n', { mode: 0o000 });
    expectProblems(await problems(file), ['0:0 cannot be read: permission denied']);
  });
});

describe('a playbook with thousands of problems', () => {
  const body = (n: number) => `name: x\ntargets:\n  - vm: a\n    socket: /tmp/x.sock\nsteps:\n  - ping\n${Array.from({ length: n }, (_, i) => `unknown${i}: ${i}`).join('\n')}\n`;

  test('20,000 unknown keys: every one is found, the message lists the first 20 and counts the rest', () => {
    let caught: unknown;
    try {
      parsePlaybook(body(20_000), '/tmp/many.yaml', { env: {} });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(PlaybookError);
    const err = caught as PlaybookError;
    expect(err.problems).toHaveLength(20_000);
    const lines = err.message.split('\n');
    expect(lines).toHaveLength(21);
    expect(lines[0]).toBe('/tmp/many.yaml:7:1: unknown key `unknown0` (allowed: name, connect, concurrency, virsh, timeout, report, every, watch, targets, steps)');
    expect(lines[20]).toBe('/tmp/many.yaml: ... and 19,980 more problems (20,000 in all; fix these first)');
  });

  test('duplicate keys are still found among thousands, each at its own line, nested ones too', () => {
    const text = `${body(3000)}unknown5: again\nsteps2:\n  - a: 1\n    a: 2\n`;
    let caught: unknown;
    try {
      parsePlaybook(text, '/tmp/dup.yaml', { env: {} });
    } catch (err) {
      caught = err;
    }
    expect((caught as PlaybookError).problems.map((p) => `${p.line}:${p.column} ${p.message}`)).toEqual([
      '3007:1 duplicate key `unknown5`: a key may appear once in a map',
      '3010:5 duplicate key `a`: a key may appear once in a map',
    ]);
  });
});
