import { describe, expect, test } from '@jest/globals';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { isSecret, loadPlaybook, parsePlaybook, PlaybookError, type StepSpec, type StepSpecOf } from '../../src/playbook/index.js';

const VALID = path.resolve('fixtures/playbooks/valid');

function parse(text: string, env: NodeJS.ProcessEnv = {}, file = '/pb/site.yaml') {
  return parsePlaybook(text, file, { env });
}

function step<K extends StepSpec['kind']>(steps: StepSpec[], i: number, kind: K): StepSpecOf<K> {
  const s = steps[i]!;
  expect(s.kind).toBe(kind);
  return s as StepSpecOf<K>;
}

describe('shipped and fixture playbooks validate', () => {
  const files = [
    ...(existsSync('playbooks') ? readdirSync('playbooks') : []).filter((f) => /\.ya?ml$/.test(f)).map((f) => path.join('playbooks', f)),
    ...readdirSync(VALID).filter((f) => /\.ya?ml$/.test(f)).map((f) => path.join(VALID, f)),
  ];
  test.each(files)('%s', async (file) => {
    const { playbook } = await loadPlaybook(file, { env: {} });
    expect(playbook.file).toBe(path.resolve(file));
    expect(playbook.targets.length).toBeGreaterThan(0);
    expect(playbook.steps.length).toBeGreaterThan(0);
  });
});

describe('normalisation', () => {
  test('defaults', () => {
    const { playbook, warnings } = parse('targets:\n  - vm: web1\nsteps:\n  - ping\n');
    expect(warnings).toEqual([]);
    expect(playbook).toEqual({
      file: '/pb/site.yaml',
      name: 'site',
      connect: 'qemu:///system',
      concurrency: 8,
      virsh: { mode: 'session' },
      timeoutMs: 30_000,
      report: {},
      targets: [{ vm: 'web1', connect: 'qemu:///system', exclude: [], isGlob: false, line: 2 }],
      steps: [{ name: 'ping', kind: 'ping', params: {}, timeoutMs: 30_000, retries: 0, retryDelayMs: 1000, continueOnError: false, expect: [], line: 4 }],
    });
  });

  test('connect: the playbook, else LIBVIRT_DEFAULT_URI, else qemu:///system; targets inherit it', () => {
    const text = 'targets:\n  - vm: a\n  - vm: b\n    connect: qemu+ssh://root@hv2/system\nsteps: [ping]\n';
    expect(parse(text).playbook.connect).toBe('qemu:///system');
    expect(parse(text, { LIBVIRT_DEFAULT_URI: '' }).playbook.connect).toBe('qemu:///system');
    const fromEnv = parse(text, { LIBVIRT_DEFAULT_URI: 'qemu:///session' }).playbook;
    expect(fromEnv.connect).toBe('qemu:///session');
    expect(fromEnv.targets.map((t) => t.connect)).toEqual(['qemu:///session', 'qemu+ssh://root@hv2/system']);
    const own = parse(`connect: test:///default\n${text}`, { LIBVIRT_DEFAULT_URI: 'qemu:///session' }).playbook;
    expect(own.targets.map((t) => t.connect)).toEqual(['test:///default', 'qemu+ssh://root@hv2/system']);
  });

  test('the issue 4 example', async () => {
    const { playbook, warnings } = await loadPlaybook(path.join(VALID, 'full.yaml'), { env: {} });
    expect(warnings).toEqual([]);
    expect(playbook).toMatchObject({ name: 'fleet time sync', concurrency: 16, timeoutMs: 30_000, report: { dir: path.join(VALID, 'reports'), keep: 5 } });
    expect(playbook.targets).toEqual([
      { vm: 'web-*', connect: 'qemu:///system', exclude: [], isGlob: true, line: 8 },
      { vm: 'legacy-db', connect: 'qemu:///system', channel: 'org.qemu.guest_agent.1', exclude: [], isGlob: false, line: 9 },
      { vm: 'appliance', connect: 'qemu:///system', socket: '/run/qga/appliance.sock', exclude: [], isGlob: false, line: 11 },
      { vm: '*', connect: 'qemu+ssh://root@hv2/system', exclude: ['build-*'], isGlob: true, line: 13 },
      { vm: 'remote-appliance', connect: 'qemu:///system', socket: '/run/qga/x.sock', ssh: 'root@hv3', exclude: [], isGlob: false, line: 16 },
    ]);
    expect(playbook.steps.map((s) => [s.name, s.kind, s.timeoutMs, s.line])).toEqual([
      ['ping', 'ping', 30_000, 20],
      ['info', 'info', 30_000, 21],
      ['hostname', 'agent', 5000, 22],
      ['exec /bin/uname -r', 'exec', 30_000, 25],
    ]);
    expect(step(playbook.steps, 2, 'agent').params).toEqual({ execute: 'guest-get-host-name' });
    const exec = step(playbook.steps, 3, 'exec');
    expect(exec.params).toEqual({ path: '/bin/uname', args: ['-r'], capture: true });
    expect(exec.expect).toEqual([{ path: ['exitCode'], op: 'eq', value: 0, text: 'exitCode == 0' }]);
  });

  test('every kind with every parameter', async () => {
    const { playbook, warnings } = await loadPlaybook(path.join(VALID, 'all-kinds.yaml'), { env: {} });
    expect(warnings).toEqual([]);
    const s = playbook.steps;
    expect(playbook.timeoutMs).toBe(90_000);
    expect(playbook.targets[0]).toMatchObject({ vm: 'lab-*', isGlob: true, exclude: ['lab-build', 'lab-tmp-*'] });
    expect(step(s, 0, 'wait-agent')).toMatchObject({ params: { intervalMs: 500 }, timeoutMs: 120_000 });
    expect(step(s, 2, 'info').params).toEqual({});

    const exec = step(s, 3, 'exec');
    expect(exec).toMatchObject({ retries: 2, retryDelayMs: 2000, continueOnError: true, timeoutMs: 90_000 });
    expect(exec.params.path).toBe('/bin/sh');
    expect(exec.params.args).toEqual(['-c', 'echo $GREETING; cat', '42', 'true']);
    expect(exec.params.capture).toBe('merged');
    const env = exec.params.env!;
    expect([env.GREETING, env.PORT]).toEqual(['hello', '8080']);
    expect(isSecret(env.TOKEN) && env.TOKEN.value).toBe('s3cr3t');
    expect(isSecret(exec.params.stdin) && exec.params.stdin.value).toBe('stdin-secret');
    expect(exec.expect.map((e) => e.text)).toEqual(['exitCode == 0', 'stdout matches "^hello"', 'stdout contains "hello"', 'truncated == false']);

    expect(step(s, 4, 'file-read')).toMatchObject({ name: 'read os-release', params: { path: '/etc/os-release', to: path.join(VALID, 'out/{vm}/os-release'), maxBytes: 64 * 1024 } });
    expect(step(s, 5, 'file-read').params).toEqual({ path: '/etc/hostname', maxBytes: 10 * 1024 * 1024 });
    expect(step(s, 6, 'file-write').params).toEqual({ path: '/tmp/motd', from: path.join(VALID, 'files/motd'), mode: 'append' });
    expect(step(s, 7, 'file-write').params).toEqual({ path: '/tmp/hello', content: 'hello\n', mode: 'overwrite' });
    expect(step(s, 8, 'time-get').params).toEqual({ samples: 3 });
    expect(step(s, 8, 'time-get').expect.map((e) => [e.op, e.value])).toEqual([['gt', -1000], ['lt', 1000]]);
    expect(step(s, 9, 'time-sync').params).toEqual({ thresholdMs: 200, source: 'rtc', toleranceMs: 20, measureOnly: true, samples: 7 });
    expect(step(s, 10, 'time-sync').params).toEqual({ thresholdMs: 100, source: 'host', toleranceMs: 50, measureOnly: false, samples: 5 });
    expect(s.slice(11, 18).map((x) => [x.kind, x.params])).toEqual(['network', 'osinfo', 'hostname', 'users', 'timezone', 'fsinfo', 'disks'].map((k) => [k, {}]));
    expect(step(s, 18, 'fsfreeze').params).toEqual({ mountpoints: ['/', '/var'] });
    expect(step(s, 19, 'fsthaw').params).toEqual({});
    expect(step(s, 20, 'fstrim').params).toEqual({ minimum: 4096 });
    const root = step(s, 21, 'set-password').params;
    expect([root.user, root.crypted, isSecret(root.password) && root.password.value]).toEqual(['root', false, 'hunter2']);
    const alice = step(s, 22, 'set-password').params;
    expect([alice.crypted, isSecret(alice.password) && alice.password.value]).toEqual([true, '$6$saltsalt$hash']);
    expect(step(s, 23, 'agent')).toMatchObject({ name: 'guest-get-time', params: { execute: 'guest-get-time' } });
    expect(step(s, 24, 'agent').params).toEqual({ execute: 'guest-exec-status', arguments: { pid: 1 } });
    expect(step(s, 25, 'shutdown').params).toEqual({ mode: 'halt' });
    expect(parse('targets: [{vm: a}]\nsteps: [shutdown]\n').playbook.steps[0]!.params).toEqual({ mode: 'powerdown' });
  });

  test('durations in every form, plain numbers are seconds', () => {
    const text = 'timeout: 2.5\ntargets: [{vm: a}]\nsteps:\n  - ping:\n    timeout: 1m30s\n    retry-delay: 250ms\n  - ping:\n    timeout: "45"\n  - ping:\n    timeout: 1h\n';
    const { playbook } = parse(text);
    expect(playbook.timeoutMs).toBe(2500);
    expect(playbook.steps.map((s) => [s.timeoutMs, s.retryDelayMs])).toEqual([[90_000, 250], [45_000, 1000], [3_600_000, 1000]]);
  });

  test('secrets never print', () => {
    const { playbook } = parse('targets: [{vm: a}]\nsteps:\n  - exec: { path: /x, env: { K: { value: topsecret, secret: true } }, stdin: { value: topsecret, secret: true } }\n  - set-password: { user: u, password: topsecret }\n');
    const shown = [JSON.stringify(playbook), inspect(playbook, { depth: 10 }), String(playbook.steps.map((s) => Object.values(s.params).map(String)))];
    for (const text of shown) expect(text).not.toContain('topsecret');
    expect(JSON.stringify(playbook.steps[1]!.params)).toBe('{"user":"u","password":"***","crypted":false}');
  });

  test('relative local paths resolve against the playbook directory', () => {
    const text = 'report: { dir: ../reports }\ntargets: [{vm: a}]\nsteps:\n  - file-read: { path: /etc/issue, to: issue.txt }\n  - file-write: { path: /tmp/x, from: /abs/x }\n';
    const { playbook } = parse(text, {}, 'pb/site.yaml');
    expect(playbook.file).toBe(path.resolve('pb/site.yaml'));
    expect(playbook.report.dir).toBe(path.resolve('reports'));
    expect(step(playbook.steps, 0, 'file-read').params.to).toBe(path.resolve('pb/issue.txt'));
    expect(step(playbook.steps, 1, 'file-write').params.from).toBe('/abs/x');
  });

  test('x- keys hold anchors; merge keys work', () => {
    const text = ['x-slow: &slow { timeout: 2m, retries: 3 }', 'targets: [{vm: a}]', 'steps:', '  - <<: *slow', '    ping:', '  - info'].join('\n');
    const { playbook } = parse(text);
    expect(playbook.steps.map((s) => [s.kind, s.timeoutMs, s.retries, s.line])).toEqual([['ping', 120_000, 3, 4], ['info', 30_000, 0, 6]]);
  });
});

describe('warnings', () => {
  test('allowed but probably not meant', () => {
    const text = [
      'targets:',
      '  - vm: db1',
      '    exclude: [db2]',
      'steps:',
      '  - reboot',
      '  - ping',
      '  - agent: { execute: guest-get-hostname }',
      '  - shutdown',
      '  - ping',
    ].join('\n');
    expect(parse(text).warnings).toEqual([
      '/pb/site.yaml:3:5: `exclude` only applies to a glob `vm`; `db1` is a plain name',
      '/pb/site.yaml:7:23: `guest-get-hostname` is not a QGA command known to qga-play; did you mean `guest-get-host-name`?',
      '/pb/site.yaml:9:5: steps after `shutdown` (line 8) will find the VM off',
    ]);
  });
});

describe('YAML the parser lets through, and where a syntax error began', () => {
  const problemsOf = (text: string): string[] => {
    try {
      parsePlaybook(text, 'p.yaml', { env: {} });
    } catch (err) {
      if (!(err instanceof PlaybookError)) throw err;
      return err.problems.map((p) => `${p.line}:${p.column} ${p.message}`);
    }
    return [];
  };

  test('a file holding only an alias to no anchor is a playbook error, not a crash', () => {
    expect(problemsOf('*a')).toEqual([expect.stringMatching(/^1:1 YAML: Unresolved alias/)]);
    expect(problemsOf('targets: *nope\nsteps: [ping]\n')[0]).toMatch(/^\d+:\d+ /);
  });

  test("an unclosed '[' is named where it was opened, besides where the parser gave up", () => {
    const [first] = problemsOf('targets: [ {vm: x}\nsteps:\n  - ping\n  - info\n');
    expect(first).toMatch(/YAML syntax error: .*\(unclosed '\[' opened at line 1 column 10\)/);
  });

  test('an unclosed quote is named where it was opened', () => {
    expect(problemsOf('name: "abc\ntargets: [{vm: x}]\nsteps: [ping]\n').join('\n')).toMatch(/unclosed quote " opened at line 1 column 7/);
  });
});
