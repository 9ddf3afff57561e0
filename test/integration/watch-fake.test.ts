import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parsePlaybook } from '../../src/playbook/load.js';
import { WatchService, type WatchServiceOptions } from '../../src/watch/service.js';
import { FAKE_VIRSH } from '../helpers/cli.js';

// WatchService against the fake virsh: its `event` verb plays scripts from FAKE_VIRSH_EVENTS
// (one per start: printing events, dying, refusing to connect), and its domains answer
// qemu-agent-command (web-*: at once; slow-*: after FAKE_VIRSH_SLOW seconds, recording overlap).
let dir: string;
let events: string;
let overlap: string;
let logs: string[];
let service: WatchService | undefined;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'qga-watch-'));
  events = path.join(dir, 'events');
  overlap = path.join(dir, 'overlap');
  mkdirSync(events);
  mkdirSync(overlap);
  process.env.FAKE_VIRSH_EVENTS = events;
  process.env.FAKE_VIRSH_OVERLAP_DIR = overlap;
  logs = [];
});

afterEach(async () => {
  await service?.stop();
  service = undefined;
  for (const k of ['FAKE_VIRSH_SLOW', 'FAKE_VIRSH_DOMAINS', 'FAKE_VIRSH_OVERLAP_DIR']) delete process.env[k];
  rmSync(dir, { recursive: true, force: true });
});

const TS = '@NOW@: event ';
const lifecycle = (domain: string, rest: string) => `${TS}'lifecycle' for domain '${domain}': ${rest}`;
const agent = (domain: string, state: string) => `${TS}'agent-lifecycle' for domain '${domain}': state: '${state}' reason: 'channel event'`;
const emit = (l: string) => `emit ${l}`;

function script(name: string, lines: string[]): void {
  writeFileSync(path.join(events, name), `${lines.join('\n')}\n`);
}
const go = (name: string) => writeFileSync(path.join(events, name), '');
const starts = () => (existsSync(path.join(events, 'starts')) ? readFileSync(path.join(events, 'starts'), 'utf8').trim().split('\n').length : 0);

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`waited ${ms} ms for: ${what}\nlog:\n${logs.join('\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function start(yaml: string, extra: Partial<WatchServiceOptions> = {}): WatchService {
  const file = path.join(dir, 'pb.yaml');
  writeFileSync(file, yaml);
  service = new WatchService({
    playbook: parsePlaybook(yaml, file).playbook,
    reportDir: path.join(dir, 'reports'),
    metricsFile: path.join(dir, 'metrics.prom'),
    virsh: FAKE_VIRSH,
    log: (l) => logs.push(l),
    follower: { upAfterMs: 150, backoffMinMs: 50, backoffMaxMs: 200 },
    flushIntervalMs: 50,
    ...extra,
  });
  void service.start();
  return service;
}

const eventRuns = () => logs.filter((l) => /^event \S+ on "/.test(l));
const passes = () => logs.filter((l) => l.startsWith('full pass') && / VM\(s\) in /.test(l));
const report = (name: string) => JSON.parse(readFileSync(path.join(dir, 'reports', name), 'utf8')) as { vm: string; status: string };
const metrics = () => (existsSync(path.join(dir, 'metrics.prom')) ? readFileSync(path.join(dir, 'metrics.prom'), 'utf8') : '');
const overlapSeen = () => ({
  twice: readdirSync(overlap).filter((f) => f.startsWith('TWICE-')),
  maxInFlight: Math.max(0, ...(existsSync(path.join(overlap, 'concurrent')) ? readFileSync(path.join(overlap, 'concurrent'), 'utf8').trim().split('\n').map(Number) : [])),
});

describe('watch with a fake virsh', () => {
  test('a full pass at start, then events for targeted domains run them; other domains and non-triggers are ignored', async () => {
    script('stream-1', ['wait go', ...[lifecycle('web-1', 'Suspended Paused'), lifecycle('web-1', 'Resumed Unpaused'), lifecycle('db-1', 'Resumed Unpaused'), lifecycle('web-2', 'Stopped Destroyed'), agent('web-2', 'connected')].map(emit)]);
    const s = start('name: w\ntargets:\n  - vm: "web-*"\nsteps:\n  - ping\n');
    await until('the first pass', () => passes().length === 1);
    expect(passes()[0]).toMatch(/full pass \(start\): 2 VM\(s\) .*2 ok/);
    await until('the reports of the pass', () => existsSync(path.join(dir, 'reports', 'summary.json')));
    expect(report('web-1.json').status).toBe('ok');
    await until('the stream to count as up', () => s.health().ok);
    go('go');
    await until('two event runs', () => eventRuns().length === 2);
    expect(eventRuns()[0]).toMatch(/^event resumed on "web-1" \(qemu:\/\/\/system\): Resumed Unpaused at .* -> ok/);
    expect(eventRuns()[1]).toMatch(/^event agent-connected on "web-2" \(qemu:\/\/\/system\): connected channel event at .* -> ok/);
    await until('the metrics file', () => metrics().includes('qga_play_watch_runs_total{playbook="w",reason="event",status="ok"} 2'));
    expect(metrics()).toContain('qga_play_watch_events_total{playbook="w",connect="qemu:///system",trigger="resumed"} 1');
    expect(metrics()).toContain('qga_play_watch_events_total{playbook="w",connect="qemu:///system",trigger="ignored"} 2');
    expect(metrics()).toContain('qga_play_agent_up{playbook="w",vm="web-1",connect="qemu:///system"} 1');
    expect(metrics()).toContain('qga_play_watch_stream_up{playbook="w",connect="qemu:///system"} 1');
    expect(logs.join('\n')).not.toContain('db-1');
  });

  test('thousands of events: few runs, a domain never twice at once, the concurrency limit holds, nothing left behind', async () => {
    process.env.FAKE_VIRSH_SLOW = '0.3';
    const names = Array.from({ length: 8 }, (_, i) => `slow-${i + 1}`);
    process.env.FAKE_VIRSH_DOMAINS = names.map((n) => `${n}:running`).join(' ');
    const burst = names.flatMap((n) => [`repeat 250 ${lifecycle(n, 'Resumed Unpaused')}`, `repeat 100 ${agent(n, 'connected')}`]);
    script('stream-1', ['wait go', ...burst, 'sleep 0.5', ...burst]);
    // Sessions enough for the concurrency whatever this machine's CPU count: the limit tested is the watch's.
    const s = start('name: w\nconcurrency: 3\nvirsh: { sessions: 3 }\ntargets:\n  - vm: "slow-*"\nsteps:\n  - ping\n', { follower: { upAfterMs: 100 } });
    await until('the first pass', () => passes().length === 1);
    go('go');
    await until('the events to arrive', () => metrics().includes('trigger="agent-connected"} 800'));
    await until('every run to end', () => s.health().body !== undefined && (s.health().body as { running: number }).running === 0 && eventRuns().length >= 8, 60_000);
    await new Promise((r) => setTimeout(r, 800));
    const runs = eventRuns();
    // 2,800 events, 8 domains: at most a run for each burst plus one for events during it.
    expect(runs.length).toBeGreaterThanOrEqual(8);
    expect(runs.length).toBeLessThanOrEqual(8 * 4);
    expect(overlapSeen()).toEqual({ twice: [], maxInFlight: 3 });
    expect(metrics()).toMatch(/qga_play_watch_coalesced_total\{playbook="w"\} \d{4}/);
  });

  test('the stream dies and the hypervisor refuses for a while: reconnect with backoff, then a full pass, then events again', async () => {
    script('stream-1', ['wait go', emit(lifecycle('web-1', 'Resumed Unpaused')), 'wait die', 'die Disconnected from qemu:///system due to end of file']);
    const s = start('name: w\ntargets:\n  - vm: "web-*"\nsteps:\n  - ping\n');
    await until('up', () => s.health().ok && passes().length === 1);
    go('go');
    await until('an event run', () => eventRuns().length === 1);
    go('die');
    await until('two refused reconnects', () => starts() >= 3);
    expect(s.health().ok).toBe(false);
    expect(logs.join('\n')).toMatch(/event stream of qemu:\/\/\/system ended: error: Disconnected from qemu:\/\/\/system due to end of file \(exit code 1\); reconnecting in/);
    expect(logs.join('\n')).toMatch(/ended: error: failed to connect to the hypervisor error: Failed to connect socket/);
    script('stream', ['wait again', emit(lifecycle('web-2', 'Resumed Unpaused'))]);
    await until('back', () => s.health().ok);
    await until('the pass after the reconnect', () => passes().some((p) => p.startsWith('full pass (reconnect): 2 VM(s)')));
    go('again');
    await until('an event run after the reconnect', () => eventRuns().length === 2);
    expect(eventRuns()[1]).toMatch(/^event resumed on "web-2"/);
    expect(metrics()).toMatch(/qga_play_watch_stream_starts_total\{playbook="w",connect="qemu:\/\/\/system"\} ([3-9]|\d\d)/);
  });

  test('an unreachable hypervisor: its stream keeps retrying, the other connection carries on', async () => {
    script('stream', ['wait go', emit(lifecycle('web-1', 'Resumed Unpaused'))]);
    const s = start('name: w\ntargets:\n  - vm: "web-*"\n  - vm: "*"\n    connect: qemu+ssh://root@dead/system\nsteps:\n  - ping\n');
    await until('the first pass', () => passes().length === 1);
    expect(logs.join('\n')).toMatch(/full pass \(start\): cannot list the domains of qemu\+ssh:\/\/root@dead\/system/);
    expect(passes()[0]).toMatch(/2 VM\(s\) .*2 ok/);
    go('go');
    await until('the event run', () => eventRuns().length === 1);
    await until('retries of the dead one', () => logs.filter((l) => l.startsWith('event stream of qemu+ssh://root@dead/system ended')).length >= 2);
    // The local stream counts as up once it has lived upAfterMs: on a busy host that can come later.
    await until('the local stream up', () => (s.health().body as { streams: { up: boolean }[] }).streams[0]!.up);
    const health = s.health();
    expect(health.ok).toBe(false);
    expect((health.body as { streams: { connect: string; up: boolean }[] }).streams).toEqual([
      { connect: 'qemu:///system', up: true, starts: 1 },
      { connect: 'qemu+ssh://root@dead/system', up: false, starts: expect.any(Number) as unknown as number },
    ]);
  });

  test('stop lets a short run finish, and cancels a long one at the bound; reports say so', async () => {
    process.env.FAKE_VIRSH_SLOW = '30';
    script('stream', []);
    const s = start('name: w\ntargets:\n  - vm: slow-1\n  - vm: web-1\nsteps:\n  - ping\n', { stopTimeoutMs: 500 });
    await until('slow-1 in flight', () => existsSync(path.join(overlap, 'slow-1')));
    const stopped = await s.stop();
    service = undefined;
    expect(stopped).toEqual({ canceled: true });
    expect(report('slow-1.json').status).toBe('canceled');
    expect(report('web-1.json').status).toBe('ok');
    expect(JSON.parse(readFileSync(path.join(dir, 'reports', 'summary.json'), 'utf8'))).toMatchObject({ totals: { vms: 2, ok: 1, canceled: 1 } });
    expect(logs.join('\n')).toMatch(/still going after 0.5 s: canceling them/);
  });

  test('an event run that does not reach the guest is tried again, twice, then left to the next event', async () => {
    script('stream-1', ['wait go', emit(lifecycle('not-connected', 'Resumed Unpaused'))]);
    const s = start('name: w\ntargets:\n  - vm: not-connected\nsteps:\n  - ping\n');
    await until('up', () => s.health().ok && passes().length === 1);
    go('go');
    await until('three attempts', () => eventRuns().length === 3);
    expect(eventRuns().map((l) => /\(attempt (\d)\)/.exec(l)?.[1] ?? '1')).toEqual(['1', '2', '3']);
    expect(eventRuns().every((l) => / -> unreachable: /.test(l))).toBe(true);
    expect(logs.filter((l) => l.startsWith('retrying "not-connected" in 1 s'))).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 1500));
    expect(eventRuns()).toHaveLength(3);
  });

  test('reload: a new playbook changes which domains and connections are watched', async () => {
    script('stream-1', ['wait go', emit(lifecycle('web-1', 'Resumed Unpaused')), emit(lifecycle('db-1', 'Resumed Unpaused'))]);
    script('stream-2', ['wait go2', emit(lifecycle('web-1', 'Resumed Unpaused')), emit(lifecycle('db-1', 'Resumed Unpaused'))]);
    const s = start('name: w\ntargets:\n  - vm: "web-*"\nsteps:\n  - ping\n');
    await until('up', () => s.health().ok && passes().length === 1);
    go('go');
    await until('web-1 ran', () => eventRuns().length === 1);
    const file = path.join(dir, 'pb2.yaml');
    s.reload(parsePlaybook('name: w2\ntargets:\n  - vm: db-1\n    connect: qemu:///other\nsteps:\n  - ping\n', file).playbook);
    await until('the new stream', () => starts() === 2 && s.health().ok);
    expect((s.health().body as { streams: unknown[] }).streams).toEqual([{ connect: 'qemu:///other', up: true, starts: 1 }]);
    go('go2');
    await until('db-1 ran', () => eventRuns().length === 2);
    expect(eventRuns()[1]).toMatch(/^event resumed on "db-1" \(qemu:\/\/\/other\)/);
  });
});
