import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { SocketTransport } from '../../src/transport/socket.js';
import { call } from '../../src/transport/transport.js';
import { hostNowMs } from '../../src/util/clock.js';
import { ROOT } from '../helpers/cli.js';
import { channelSocket, labDescribe, LAB_RUN_DIR, LAB_URI } from '../helpers/lab.js';

// Issue 13 on a real guest: `qga-play watch` corrects a guest's clock after resume and restore,
// and after libvirtd restarts. "Corrected" is measured independently through the guest's .1
// socket (the watch uses .0 through virsh). The guest is configurable (CI's lab has qgalab-1..3):
//   QGA_PLAY_WATCH_GUEST      guest to pause, save and restore (default qgalab-3)
//   QGA_PLAY_WATCH_RESUMES    pause/resume rounds for the delay figures (default 20)
//   QGA_PLAY_WATCH_LIBVIRTD=1 also restart libvirtd (stops the daemon for every guest: opt-in)
//   QGA_PLAY_WATCH_SOAK=1     1,000-event soak (minutes); QGA_PLAY_WATCH_SOAK_GUESTS=a,b,...
const GUEST = process.env.QGA_PLAY_WATCH_GUEST ?? 'qgalab-3';
const SOAK = process.env.QGA_PLAY_WATCH_SOAK === '1';
const SOAK_GUESTS = (process.env.QGA_PLAY_WATCH_SOAK_GUESTS ?? GUEST).split(',');
const TARGETS = [...new Set([GUEST, ...(SOAK ? SOAK_GUESTS : [])])];
const RESUMES = Number(process.env.QGA_PLAY_WATCH_RESUMES ?? 20);
// The bar the watched playbook sets (threshold = tolerance = 4 ms), and how many runs an event gets (retries: 4).
const TOLERANCE_MS = 4;
const RUNS_PER_EVENT = 5;
// For the figures only (printed, not asserted): "corrected" when our own reading proves the clock within this.
const CORRECTED_MS = 5;
// What the guest clock may drift between the watch's last reading and ours, a few hundred milliseconds later.
const DRIFT_MS = 1;
const PAUSE_MS = 5000;

let dir: string;
let watch: ResultPromise | undefined;
let stderr = '';
let socket: SocketTransport | undefined;

const virsh = (...args: string[]) => execa('virsh', ['-c', LAB_URI, ...args], { stdin: 'ignore', timeout: 120_000 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface LogRecord {
  kind?: string;
  msg: string;
  vm?: string;
  trigger?: string;
  status?: string;
  action?: string;
  offsetBeforeMs?: number;
  offsetAfterMs?: number;
  errorBoundMs?: number;
  correctedAfterMs?: number;
  attempt?: number;
}
const records = (): LogRecord[] =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogRecord);
const eventRuns = (vm = GUEST) => records().filter((r) => r.kind === 'event-run' && r.vm === vm);
const messages = () => records().map((r) => r.msg);

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`waited ${ms} ms for: ${what}\n--- watch log ---\n${messages().slice(-30).join('\n')}`);
    await sleep(10);
  }
}

/** The guest's clock offset through its .1 socket: the best of `samples` (bound = half the round trip). */
async function trueOffset(samples = 3): Promise<{ offsetMs: number; boundMs: number }> {
  socket ??= new SocketTransport({ path: channelSocket(GUEST, 1) });
  let best: { offsetMs: number; boundMs: number } | undefined;
  for (let i = 0; i < samples; i++) {
    const t0 = hostNowMs();
    const ns = await call(socket, 'guest-get-time', undefined, { timeoutMs: 10_000 });
    const t1 = hostNowMs();
    if (!best || (t1 - t0) / 2 < best.boundMs) best = { offsetMs: ns / 1e6 - (t0 + t1) / 2, boundMs: (t1 - t0) / 2 };
  }
  return best!;
}

async function dropSocket(): Promise<void> {
  await socket?.close();
  socket = undefined;
}

/** Polls the .1 socket until the clock is within CORRECTED_MS for sure; returns when (host ms). */
async function whenCorrected(what: string, ms = 60_000): Promise<number> {
  let at = 0;
  await until(
    what,
    async () => {
      try {
        const o = await trueOffset(1);
        at = hostNowMs();
        return Math.abs(o.offsetMs) + o.boundMs <= CORRECTED_MS;
      } catch {
        await dropSocket(); // the guest is restoring: its socket comes back
        return false;
      }
    },
    ms,
  );
  return at;
}

/** The runs of one event are over: one was ok, or the last one the watch makes has ended. */
const eventDone = (runs: LogRecord[]): boolean => runs.some((r) => r.status === 'ok' || (r.attempt ?? 1) >= RUNS_PER_EVENT);

/**
 * A run's claim checked against our own reading through .1: an ok run said the whole interval
 * the truth lies in is within the tolerance, so our interval must meet it (allowing the drift
 * since). Holds at any load; how close and how fast is for the figures.
 */
async function expectClaimHolds(label: string, run: LogRecord | undefined): Promise<{ offsetMs: number; boundMs: number }> {
  const truth = await trueOffset(15);
  // Whatever the run said: the set happened, the clock is no longer seconds behind.
  expect([label, Math.abs(truth.offsetMs) < 1000]).toEqual([label, true]);
  if (run?.status === 'ok') expect([label, Math.abs(truth.offsetMs) - truth.boundMs <= TOLERANCE_MS + DRIFT_MS, truth]).toEqual([label, true, truth]);
  return truth;
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(q * xs.length) - 1)]!;

function startWatch(extra: string[] = []): void {
  const file = path.join(dir, 'watch.yaml');
  // The shipped fleet-timesync.yaml, aimed at one guest, with the bar of this test: set when more
  // than 4 ms off, and a set that lands further off fails (and the watch runs again).
  const shipped = readFileSync(path.join(ROOT, 'playbooks/fleet-timesync.yaml'), 'utf8');
  const tight = shipped
    .replace('  - vm: "*"          # every running domain', TARGETS.map((g) => `  - vm: ${JSON.stringify(g)}`).join('\n'))
    .replace('every: 15m', 'every: 1h')
    .replace(/^ {2}- time-sync .*$/m, '  - time-sync: { threshold: 4ms, tolerance: 4ms }')
    .replace('  settle: 100ms', '  retries: 4\n  settle: 100ms');
  expect(tight).toContain('time-sync: { threshold: 4ms');
  expect(tight).toContain('retries: 4');
  writeFileSync(file, tight);
  stderr = '';
  watch = execa(process.execPath, [path.join(ROOT, 'bin/qga-play.js'), 'watch', file, '--report-dir', path.join(dir, 'reports'), '--log-format', 'json', '--metrics', path.join(dir, 'watch.prom'), ...extra], { reject: false, stdin: 'ignore' });
  watch.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
}

async function stopWatch(): Promise<number | undefined> {
  if (!watch) return undefined;
  watch.kill('SIGTERM');
  const r = await watch;
  watch = undefined;
  return r.exitCode;
}

labDescribe(describe)(`qga-play watch on ${GUEST}`, () => {
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'qga-watch-lab-'));
    // The soak tells a double run apart by the watch's virsh children, one per agent call: a
    // virsh process per call lets it see them (sessions carry commands on stdin, out of sight).
    startWatch(SOAK ? ['--virsh-mode', 'process'] : []);
    await until('the first pass and the event stream', () => messages().some((m) => m.startsWith(`full pass (start): ${TARGETS.length} VM(s)`)) && messages().some((m) => m.startsWith('following the events')));
  }, 120_000);

  afterAll(async () => {
    await dropSocket();
    // Leave the guest running whatever happened.
    const state = (await virsh('domstate', GUEST).catch(() => ({ stdout: '' }))).stdout.trim();
    if (state === 'paused') await virsh('resume', GUEST);
    expect(await stopWatch()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test(`pause ${PAUSE_MS / 1000} s and resume, ${RESUMES} times: each run's claim holds against an independent reading (delays logged)`, async () => {
    const delays: number[] = [];
    const toolDelays: number[] = [];
    const attempts: number[] = [];
    const outcomes: string[] = [];
    const fmt = (xs: number[]) => (xs.length ? `p50 ${quantile(xs, 0.5).toFixed(0)} ms, p95 ${quantile(xs, 0.95).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms` : 'none');
    // The figures so far are printed even when a round fails.
    const report = () =>
      console.log(
        `[watch] ${GUEST}: ${outcomes.filter((o) => o === 'ok').length} of ${outcomes.length} resumes after ${PAUSE_MS / 1000} s pauses ended ok (of ${RESUMES})\n` +
          `  virsh resume -> clock within ${CORRECTED_MS} ms (measured through .1): ${fmt(delays)}\n` +
          `  libvirt event -> time-sync done (the watch's own log):  ${fmt(toolDelays)}\n` +
          `  all: ${delays.map((d) => d.toFixed(0)).join(' ')}\n` +
          `  runs per resume (a set that could not be proven within ${TOLERANCE_MS} ms is run again): ${attempts.join(' ')}`,
      );
    try {
      for (let i = 0; i < RESUMES; i++) {
        const label = `round ${i + 1}`;
        const before = eventRuns().length;
        await virsh('suspend', GUEST);
        await sleep(PAUSE_MS);
        const t0 = hostNowMs();
        await virsh('resume', GUEST);
        // For the figures: when our own reading first proved the clock corrected (not asserted).
        const corrected = await whenCorrected(`${label}: the clock corrected after resume`, 30_000).catch(() => undefined);
        if (corrected !== undefined) delays.push(corrected - t0);
        await until(`${label}: the watch's runs for the resume`, () => eventDone(eventRuns().slice(before)), 120_000);
        const runs = eventRuns().slice(before);
        attempts.push(runs.length);
        const run = runs.find((r) => r.status === 'ok') ?? runs.at(-1)!;
        outcomes.push(run.status ?? '?');
        expect([label, runs[0]!.trigger, runs[0]!.action]).toEqual([label, 'resumed', 'set']);
        // The pause really left the guest behind: the watch measured it before its first set.
        expect([label, runs[0]!.offsetBeforeMs! < -(PAUSE_MS - 1000)]).toEqual([label, true]);
        // A run that is not ok says why, in its own words, never "ok".
        if (run.status !== 'ok') expect([label, run.status]).toEqual([label, 'failed']);
        if (run.correctedAfterMs !== undefined) toolDelays.push(run.correctedAfterMs);
        await expectClaimHolds(label, run);
      }
    } finally {
      report();
    }
  }, 60 * 60_000);

  test('virsh save, then restore: the guest comes back at the saved time, is set, and the claim holds', async () => {
    const file = path.join(dir, `${GUEST}.save`);
    const before = eventRuns().length;
    await dropSocket();
    await virsh('save', GUEST, file);
    try {
      await sleep(3000);
    } finally {
      await virsh('restore', file);
      rmSync(file, { force: true });
    }
    await until("the watch's runs for the restore", () => eventDone(eventRuns().slice(before).filter((r) => r.trigger === 'restored')), 180_000);
    const runs = eventRuns().slice(before).filter((r) => r.trigger === 'restored');
    expect([runs[0]!.action, runs[0]!.offsetBeforeMs! < -2000]).toEqual(['set', true]);
    const run = runs.find((r) => r.status === 'ok') ?? runs.at(-1)!;
    if (run.status !== 'ok') expect(run.status).toBe('failed');
    await until('the .1 socket after the restore', async () => trueOffset(1).then(() => true, async () => (await dropSocket(), false)), 60_000);
    await expectClaimHolds('restore', run);
  }, 5 * 60_000);

  // Restarting libvirtd touches every guest of the host: done where the lab started the daemon
  // itself (CI, a lab machine), elsewhere only when asked for.
  const libvirtdTest = process.env.QGA_PLAY_WATCH_LIBVIRTD === '1' || labLibvirtdPid() !== undefined ? test : test.skip;
  libvirtdTest('libvirtd restarted: the stream reconnects, a full pass runs, and a later resume is still corrected', async () => {
    const passesBefore = messages().filter((m) => m.startsWith('full pass (reconnect)')).length;
    await restartLibvirtd();
    await until('the reconnect pass', () => messages().filter((m) => m.startsWith('full pass (reconnect): 1 VM(s)')).length > passesBefore, 120_000);
    expect(messages().some((m) => m.startsWith(`event stream of ${LAB_URI} ended`))).toBe(true);
    const before = eventRuns().length;
    await virsh('suspend', GUEST);
    await sleep(PAUSE_MS);
    await virsh('resume', GUEST);
    await until("the watch's runs for the resume", () => eventDone(eventRuns().slice(before)), 120_000);
    const runs = eventRuns().slice(before);
    await expectClaimHolds('after libvirtd restart', runs.find((r) => r.status === 'ok') ?? runs.at(-1));
  }, 5 * 60_000);

  const soakTest = SOAK ? test : test.skip;
  soakTest('soak: 1,000 events from pause/resume loops; RSS and descriptors flat, a domain never run twice at once', async () => {
    const guests = SOAK_GUESTS;
    const runsDone = () =>
      [...readFileSync(path.join(dir, 'watch.prom'), 'utf8').matchAll(/^qga_play_watch_runs_total\{[^}]*\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
    const pid = watch!.pid!;
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
    const fds = () => readdirSync(`/proc/${pid}/fd`).length;
    const eventsSeen = () =>
      [...readFileSync(path.join(dir, 'watch.prom'), 'utf8').matchAll(/^qga_play_watch_events_total\{[^}]*\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
    const inFlight = () => Number(/^qga_play_watch_runs_in_flight\{[^}]*\} (\d+)$/m.exec(readFileSync(path.join(dir, 'watch.prom'), 'utf8'))?.[1] ?? 0);
    // Measured at rest: no run in flight (each holds a virsh child's pipes) for 2 s.
    const atRest = async () => {
      let since = Date.now();
      await until('no run in flight for 2 s', () => {
        if (inFlight() > 0) since = Date.now();
        return Date.now() - since >= 2000;
      });
    };
    // Warm up, then the baseline.
    for (let i = 0; i < 10; i++) for (const g of guests) await virsh('suspend', g).then(() => virsh('resume', g));
    await atRest();
    const start = { rssMiB: rss(), fds: fds(), events: eventsSeen(), runs: runsDone() };
    // Every virsh child of the watch, sampled: two agent commands for one domain at once would be a double run.
    let twice = 0;
    let samples = 0;
    let busy = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const counts = new Map<string, number>();
        for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
          try {
            if (Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))![1]) !== pid) continue;
            const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
            const at = argv.indexOf('qemu-agent-command');
            if (at >= 0) counts.set(argv[at + 1]!, (counts.get(argv[at + 1]!) ?? 0) + 1);
          } catch {
            // Gone meanwhile.
          }
        }
        samples++;
        if (counts.size > 0) busy++;
        if ([...counts.values()].some((n) => n > 1)) twice++;
        await sleep(20);
      }
    })();
    const t0 = Date.now();
    let cycles = 0;
    while (eventsSeen() - start.events < 1000) {
      await Promise.all(guests.map((g) => virsh('suspend', g).then(() => virsh('resume', g))));
      cycles++;
    }
    sampling = false;
    await sampler;
    for (const g of guests) await whenCorrectedGuest(g);
    await atRest();
    const end = { rssMiB: rss(), fds: fds(), events: eventsSeen(), runs: runsDone() };
    console.log(
      `[watch soak] ${end.events - start.events} events (${cycles} pause/resume rounds on ${guests.join(', ')}) in ${((Date.now() - t0) / 1000).toFixed(0)} s, ${end.runs - start.runs} runs; ` +
        `RSS ${start.rssMiB.toFixed(1)} -> ${end.rssMiB.toFixed(1)} MiB; fds ${start.fds} -> ${end.fds}; ${samples} process samples (${busy} with an agent command in flight), ${twice} with a domain run twice at once`,
    );
    // The sampler must have seen commands in flight, or it proves nothing.
    expect(busy).toBeGreaterThan(0);
    expect(twice).toBe(0);
    expect(end.fds).toBeLessThanOrEqual(start.fds + 2);
    expect(end.rssMiB).toBeLessThan(start.rssMiB * 1.5 + 20);
  }, 60 * 60_000);
});

/** After the soak every guest is left running and corrected (by the watch). */
async function whenCorrectedGuest(g: string): Promise<void> {
  const state = (await execa('virsh', ['-c', LAB_URI, 'domstate', g])).stdout.trim();
  if (state === 'paused') await execa('virsh', ['-c', LAB_URI, 'resume', g]);
}

/** The pid of the libvirtd the lab started, when that is the daemon running now. */
function labLibvirtdPid(): number | undefined {
  const daemons = path.join(LAB_RUN_DIR, 'daemons');
  const recorded = existsSync(daemons) ? /^libvirtd (\d+)$/m.exec(readFileSync(daemons, 'utf8'))?.[1] : undefined;
  const running = existsSync('/run/libvirtd.pid') ? readFileSync('/run/libvirtd.pid', 'utf8').trim() : undefined;
  return recorded !== undefined && recorded === running ? Number(recorded) : undefined;
}

/**
 * Restarts the libvirt daemon: systemd's unit where there is one, else the lab's own daemon
 * (killed by its pid, started again with -d, its new pid recorded where `lab down` looks).
 */
async function restartLibvirtd(): Promise<void> {
  const ours = labLibvirtdPid();
  const systemd = ours === undefined ? await execa('systemctl', ['is-active', '--quiet', 'libvirtd'], { reject: false }) : undefined;
  if (systemd?.exitCode === 0) {
    await execa('systemctl', ['restart', 'libvirtd']);
  } else {
    // Only a daemon the lab started is stopped by its pid.
    if (ours === undefined) throw new Error('libvirtd was not started by the lab and is not a systemd unit: not restarting it');
    const pid = ours;
    process.kill(pid, 'SIGTERM');
    await until('libvirtd to exit', () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    await execa('/usr/sbin/libvirtd', ['-d']);
    const daemons = path.join(LAB_RUN_DIR, 'daemons');
    await until('libvirtd to answer', async () => (await execa('virsh', ['-c', LAB_URI, 'version'], { reject: false })).exitCode === 0);
    if (existsSync(daemons)) {
      const next = readFileSync('/run/libvirtd.pid', 'utf8').trim();
      writeFileSync(daemons, readFileSync(daemons, 'utf8').replace(/^libvirtd \d+$/m, `libvirtd ${next}`));
    }
  }
}
