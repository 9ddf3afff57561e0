import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { Writable } from 'node:stream';
import { createHumanReporter, finalLine, type HumanReporterOptions } from '../../src/report/index.js';
import type { RunEvent, RunResult } from '../../src/runner/types.js';
import { eventsFor, makeResult } from '../../fixtures/report/run-result.js';

/** A stream that keeps what is written, optionally looking like a terminal. */
function fakeStream(tty: { columns: number; rows: number } | undefined) {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  // Writable.write runs the write function synchronously when nothing is corked.
  Object.assign(stream, tty ? { isTTY: true, ...tty } : {});
  return { stream, text: () => chunks.join(''), chunks };
}

/**
 * What a terminal would show after `text`: handles the only control sequences the reporter may
 * use (cursor up, erase to end of screen, SGR colors) and fails on any other.
 */
function screen(text: string): string[] {
  const lines: string[] = [''];
  let row = 0;
  let col = 0;
  const put = (ch: string) => {
    const line = lines[row] ?? '';
    lines[row] = line.slice(0, col).padEnd(col, ' ') + ch + line.slice(col + 1);
    col++;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] ?? '';
    if (ch === '\u001b') {
      // eslint-disable-next-line no-control-regex
      const m = /^\u001b\[(\d*)([A-Za-z])/.exec(text.slice(i));
      if (!m) throw new Error(`unexpected escape at ${i}: ${JSON.stringify(text.slice(i, i + 10))}`);
      const [all, num, cmd] = m;
      if (cmd === 'A') row = Math.max(0, row - Number(num || '1'));
      else if (cmd === 'J' && (num === '' || num === '0')) {
        lines[row] = (lines[row] ?? '').slice(0, col);
        lines.length = row + 1;
      } else if (cmd !== 'm') throw new Error(`unexpected sequence ${JSON.stringify(all)}`);
      i += all.length - 1;
    } else if (ch === '\n') {
      row++;
      col = 0;
      if (lines.length <= row) lines.push('');
    } else if (ch === '\r') col = 0;
    else put(ch);
  }
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function play(options: Omit<HumanReporterOptions, 'stream'>, events: RunEvent[], result: RunResult, between?: () => void) {
  const out = fakeStream(options.tty ? { columns: 100, rows: 30 } : undefined);
  const reporter = createHumanReporter({ ...options, stream: out.stream });
  for (const e of events) {
    reporter.listener(e);
    between?.();
  }
  reporter.finish(result);
  return out;
}

const result = makeResult();
const events = eventsFor(result);

describe('human reporter, not a terminal', () => {
  test('one plain line per finished step and per VM, then the final line', () => {
    const out = play({ tty: false, color: false, quiet: false }, events, result);
    expect(out.text().split('\n')).toEqual([
      'warning: target web-9 matched no domain',
      'web-1     ping             ok           3 ms',
      'web-1     time-sync        ok           offset +1.250 s -> +0.4 ms  240 ms',
      'web-1     uptime           ok           exit code 0  31 ms',
      'web-1     =>               ok           offset +1.250 s -> +0.4 ms  279 ms',
      'web-2     ping             ok           4 ms',
      'web-2     time-sync        ok           offset -35.3 ms -> +1.5 ms  210 ms',
      'web-2     exec /bin/false  failed       exit code 1  12 ms',
      'web-2     osinfo           skipped',
      'web-2     =>               failed       exec /bin/false: exit code 1  231 ms',
      'db-1      ping             unreachable  Guest agent is not responding: QEMU guest agent is not connected  3 attempts  1.5 s',
      'db-1      time-sync        skipped',
      'db-1      uptime           skipped',
      'db-1      =>               unreachable  ping: Guest agent is not responding: QEMU guest agent is not connected  1.5 s',
      'db-2      =>               unreachable  unreachable: no step ran (db-2 on qemu+ssh://hv2/system: domain is not running)  5 ms',
      'slow-1    ping             ok           2 ms',
      'slow-1    time-get         timed-out    guest-get-time: no reply within 5 s  5.0 s',
      'slow-1    uptime           skipped',
      'slow-1    =>               unreachable  time-get: guest-get-time: no reply within 5 s  5.0 s',
      'win/10 ü  time-get         ok           offset -3.3 ms  20 ms',
      'win/10 ü  uptime           canceled     interrupted by SIGINT  800 ms',
      'win/10 ü  osinfo           canceled     0 ms',
      'win/10 ü  =>               canceled     uptime: interrupted by SIGINT  825 ms',
      'summary   ping             ok           1 ms',
      'summary   =>               ok           1 step ok  6 ms',
      '7 VMs: 2 ok, 1 failed, 3 unreachable, 1 canceled in 6.8 s',
      '',
    ]);
  });

  test('no control codes, even from names and messages that carry them', () => {
    const r = makeResult();
    const vm = r.vms[1];
    const step = vm?.steps[2];
    if (!vm || !step) throw new Error('fixture');
    vm.vm = 'evil\u001b[2J\rvm\u202e';
    step.error = { code: 'X', message: 'line1\nline2\u0007\u009b' };
    step.result = undefined;
    const text = play({ tty: false, color: false, quiet: false }, eventsFor(r), r).text();
    // eslint-disable-next-line no-control-regex
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    // Shown, not swallowed: the reader sees what the guest sent.
    expect(text).toContain('evil\\x1b[2J\\rvm\\u202e');
    expect(text).toContain('line1\\nline2\\x07\\x9b');
  });

  test('quiet: only problems, warnings and the final line', () => {
    const out = play({ tty: false, color: false, quiet: true }, events, result);
    const lines = out.text().trimEnd().split('\n');
    expect(lines.map((l) => l.replace(/\s+/g, ' '))).toEqual([
      'warning: target web-9 matched no domain',
      'web-2 exec /bin/false failed exit code 1 12 ms',
      'web-2 => failed exec /bin/false: exit code 1 231 ms',
      'db-1 ping unreachable Guest agent is not responding: QEMU guest agent is not connected 3 attempts 1.5 s',
      'db-1 => unreachable ping: Guest agent is not responding: QEMU guest agent is not connected 1.5 s',
      'db-2 => unreachable unreachable: no step ran (db-2 on qemu+ssh://hv2/system: domain is not running) 5 ms',
      'slow-1 time-get timed-out guest-get-time: no reply within 5 s 5.0 s',
      'slow-1 => unreachable time-get: guest-get-time: no reply within 5 s 5.0 s',
      'win/10 ü uptime canceled interrupted by SIGINT 800 ms',
      'win/10 ü osinfo canceled 0 ms',
      'win/10 ü => canceled uptime: interrupted by SIGINT 825 ms',
      '7 VMs: 2 ok, 1 failed, 3 unreachable, 1 canceled in 6.8 s',
    ]);
  });

  test('quiet and all well: nothing at all (cron mails nothing)', () => {
    const ok = makeResult();
    ok.vms = ok.vms.filter((v) => v.status === 'ok');
    ok.totals = { vms: ok.vms.length, ok: ok.vms.length, failed: 0, unreachable: 0, canceled: 0 };
    ok.warnings = [];
    const out = play({ tty: false, color: false, quiet: true }, eventsFor(ok).filter((e) => e.type !== 'warning'), ok);
    expect(out.text()).toBe('');
    const onTty = play({ tty: true, color: false, quiet: true }, eventsFor(ok).filter((e) => e.type !== 'warning'), ok);
    expect(onTty.text()).toBe('');
  });

  test('a measure-only time-sync above its threshold: ok, but a visible WARNING, even with --quiet', () => {
    const r = makeResult();
    r.vms = r.vms.slice(0, 1);
    r.totals = { vms: 1, ok: 1, failed: 0, unreachable: 0, canceled: 0 };
    r.warnings = [];
    r.vms[0]!.steps[1]!.result = { action: 'none', source: 'host', offsetBeforeMs: 1250.5, errorBoundMs: 0.2, thresholdMs: 100, toleranceMs: 50 };
    const lines = play({ tty: false, color: false, quiet: true }, eventsFor(r), r).text().trimEnd().split('\n');
    expect(lines.map((l) => l.replace(/\s+/g, ' '))).toEqual([
      'web-1 time-sync ok WARNING: clock off by +1.250 s, above the threshold of 100.0 ms; measure-only: not corrected 240 ms',
      'web-1 => ok time-sync: WARNING: clock off by +1.250 s, above the threshold of 100.0 ms; measure-only: not corrected 279 ms',
      '1 VM: 1 ok, 1 warning in 6.8 s',
    ]);
    const colored = play({ tty: true, color: true, quiet: false }, eventsFor(r), r).text();
    expect(colored).toContain('\u001b[33mok ');
  });

  test("verbose: an exec step's stdout and stderr under its line, control characters made visible", () => {
    const r = makeResult();
    const web2 = r.vms[1]!;
    web2.steps[2]!.result = { exitCode: 1, stdout: 'one\ntwo\u001b[2J\n', stderr: 'oops\n' };
    const text = play({ tty: false, color: false, quiet: false, verbose: true }, eventsFor(r), r).text();
    expect(text).toMatch(/web-1\s+uptime\s+ok\s+exit code 0\s+31 ms\n {4}stdout:\n {7}12:00:01 up 3 days, {2}2:01, {2}0 users\n/);
    expect(text).toMatch(/exec \/bin\/false\s+failed\s+exit code 1\s+12 ms\n {4}stdout:\n {6}one\n {6}two\\x1b\[2J\n {4}stderr:\n {6}oops\n/);
    const plain = play({ tty: false, color: false, quiet: false }, eventsFor(r), r).text();
    expect(plain).not.toContain('stdout:');
  });

  test('verbose: a line when a step starts, with the attempt', () => {
    const text = play({ tty: false, color: false, quiet: false, verbose: true }, events, result).text();
    expect(text).toContain('web-1     ping             started\n');
    expect(text).toContain('db-1      ping             started (attempt 3)\n');
  });

  test('color only when asked', () => {
    const plain = play({ tty: false, color: false, quiet: false }, events, result).text();
    const colored = play({ tty: false, color: true, quiet: false }, events, result).text();
    expect(plain).not.toContain('\u001b');
    expect(colored).toContain('\u001b[31mfailed');
    // eslint-disable-next-line no-control-regex
    expect(colored.replace(/\u001b\[\d+m/g, '')).toBe(plain);
  });

  test('the final line', () => {
    expect(finalLine({ ...result, totals: { vms: 12, ok: 10, failed: 1, unreachable: 1, canceled: 0 }, durationMs: 2300 })).toBe('12 VMs: 10 ok, 1 failed, 1 unreachable in 2.3 s');
    expect(finalLine({ ...result, totals: { vms: 1, ok: 1, failed: 0, unreachable: 0, canceled: 0 }, durationMs: 80, canceled: true })).toBe('1 VM: 1 ok in 80 ms (run canceled)');
  });
});

describe('human reporter, on a terminal', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: Date.parse('2024-05-01T12:00:00.000Z') });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  const table = [
    'VM        STATUS       STEPS  TIME    RESULT',
    'web-1     ok             3/3  279 ms  offset +1.250 s -> +0.4 ms',
    'web-2     failed         2/4  231 ms  exec /bin/false: exit code 1',
    // Long results are wrapped under their column, never cut.
    'db-1      unreachable    0/3   1.5 s  ping: Guest agent is not responding: QEMU guest agent is not',
    '                                      connected',
    'db-2      unreachable    0/0    5 ms  unreachable: no step ran (db-2 on qemu+ssh://hv2/system:',
    '                                      domain is not running)',
    'slow-1    unreachable    1/3   5.0 s  time-get: guest-get-time: no reply within 5 s',
    'win/10 ü  canceled       1/3  825 ms  uptime: interrupted by SIGINT',
    'summary   ok             1/1    6 ms  1 step ok',
    '',
    '7 VMs: 2 ok, 1 failed, 3 unreachable, 1 canceled in 6.8 s',
  ];

  test('live progress redrawn in place, then only the table and the final line remain', () => {
    const out = play({ tty: true, color: false, quiet: false }, events, result, () => jest.advanceTimersByTime(50));
    const shown = screen(out.text());
    expect(shown).toEqual([
      'warning: target web-9 matched no domain',
      'web-2     exec /bin/false  failed       exit code 1  12 ms',
      'db-1      ping             unreachable  Guest agent is not responding: QEMU guest agent is not connected  3 attempts  1.5 s',
      'slow-1    time-get         timed-out    guest-get-time: no reply within 5 s  5.0 s',
      'win/10 ü  uptime           canceled     interrupted by SIGINT  800 ms',
      'win/10 ü  osinfo           canceled     0 ms',
      ...table,
    ]);
    // Progress was drawn on the way: a bar, counts and the running VM's step.
    expect(out.text()).toMatch(/\[#+-*\] \d\/7 VMs {2}ok \d {2}failed \d {2}unreachable \d/);
    expect(out.text()).toContain('  web-1     time-sync (2/6)');
  });

  test('mid-run the bottom of the screen is the progress: bar, counts, running VMs, elapsed time', () => {
    const out = fakeStream({ columns: 100, rows: 30 });
    const reporter = createHumanReporter({ stream: out.stream, tty: true, color: false, quiet: false });
    const cut = events.findIndex((e) => e.type === 'vm-end' && e.report.vm === 'db-1');
    for (const e of events.slice(0, cut + 1)) reporter.listener(e);
    reporter.listener({ type: 'vm-start', vm: 'db-2' });
    reporter.listener({ type: 'step-start', vm: 'db-2', step: 'ping', index: 0, attempt: 2 });
    jest.advanceTimersByTime(2300);
    expect(screen(out.text()).slice(-2)).toEqual(['[#############-----------------] 3/7 VMs  ok 1  failed 1  unreachable 1  2.3 s', '  db-2      ping (1/6, attempt 2)']);
    reporter.finish(result);
    expect(screen(out.text()).slice(-2)).toEqual(['', '7 VMs: 2 ok, 1 failed, 3 unreachable, 1 canceled in 6.8 s']);
  });

  test('redraws are throttled: a burst of events is drawn at most 10 times a second', () => {
    const out = fakeStream({ columns: 100, rows: 30 });
    const reporter = createHumanReporter({ stream: out.stream, tty: true, color: false, quiet: false });
    reporter.listener(events[0] as RunEvent);
    for (let i = 0; i < 1000; i++) reporter.listener({ type: 'step-start', vm: 'web-1', step: 'ping', index: 0, attempt: i + 1 });
    jest.advanceTimersByTime(1000);
    expect(out.chunks.length).toBeLessThanOrEqual(10);
    reporter.finish(result);
    expect(jest.getTimerCount()).toBe(0);
  });

  test('a terminal that reports 0 columns is taken as 80 wide, not 20', () => {
    const out = fakeStream({ columns: 0, rows: 0 });
    const reporter = createHumanReporter({ stream: out.stream, tty: true, color: false, quiet: false });
    for (const e of events) reporter.listener(e);
    reporter.finish(result);
    const shown = screen(out.text());
    expect(shown).toContain('web-2     failed         2/4  231 ms  exec /bin/false: exit code 1');
    expect(Math.max(...shown.filter((l) => l.startsWith('db-1      unreachable')).map((l) => l.length))).toBeGreaterThan(60);
    expect(Math.max(...shown.map((l) => l.length))).toBeLessThan(80 + 60);
  });

  test('quiet on a terminal: no progress and no table, only problems and the final line', () => {
    const out = play({ tty: true, color: false, quiet: true }, events, result, () => jest.advanceTimersByTime(200));
    expect(out.text()).not.toContain('\u001b');
    expect(out.text()).not.toContain('VM        STATUS');
    expect(out.text().trimEnd().split('\n').pop()).toBe('7 VMs: 2 ok, 1 failed, 3 unreachable, 1 canceled in 6.8 s');
  });

  test('with color, the screen reads the same once colors are dropped', () => {
    const plain = screen(play({ tty: true, color: false, quiet: false }, events, result, () => jest.advanceTimersByTime(50)).text());
    const colored = play({ tty: true, color: true, quiet: false }, events, result, () => jest.advanceTimersByTime(50)).text();
    expect(colored).toContain('\u001b[32m');
    expect(screen(colored)).toEqual(plain);
  });
});
