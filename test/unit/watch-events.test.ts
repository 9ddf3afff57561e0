import { describe, expect, test } from '@jest/globals';
import { LineSplitter, parseEventLine } from '../../src/watch/events.js';

// Lines as virsh 9.0 printed them on the lab (suspend/resume, save/restore of qgalab-7).
const REAL = [
  "2026-11-29 13:35:14.225+0000: event 'lifecycle' for domain 'qgalab-7': Suspended Paused",
  "2026-11-29 13:35:16.283+0000: event 'lifecycle' for domain 'qgalab-7': Resumed Unpaused",
  "2026-11-29 13:35:18.464+0000: event 'migration-iteration' for domain 'qgalab-7': iteration: '1'",
  "2026-11-29 13:35:19.193+0000: event 'job-completed' for domain 'qgalab-7':",
  '\toperation: 2',
  "2026-11-29 13:35:20.505+0000: event 'lifecycle' for domain 'qgalab-7': Stopped Saved",
  "2026-11-29 13:35:22.220+0000: event 'agent-lifecycle' for domain 'qgalab-7': state: 'disconnected' reason: 'domain started'",
  "2026-11-29 13:35:23.516+0000: event 'lifecycle' for domain 'qgalab-7': Started Restored",
  "2026-11-29 13:35:23.537+0000: event 'lifecycle' for domain 'qgalab-7': Resumed Snapshot",
  "2026-11-29 13:35:23.550+0000: event 'agent-lifecycle' for domain 'qgalab-7': state: 'connected' reason: 'channel event'",
];

describe('parseEventLine', () => {
  test('real lab output: lifecycle and agent-lifecycle parsed, everything else ignored, triggers mapped', () => {
    const parsed = REAL.map(parseEventLine);
    expect(parsed.map((e) => e && [e.type, e.domain, e.event, e.detail, e.trigger ?? null])).toEqual([
      ['lifecycle', 'qgalab-7', 'Suspended', 'Paused', null],
      ['lifecycle', 'qgalab-7', 'Resumed', 'Unpaused', 'resumed'],
      undefined,
      undefined,
      undefined,
      ['lifecycle', 'qgalab-7', 'Stopped', 'Saved', null],
      ['agent-lifecycle', 'qgalab-7', 'disconnected', 'domain started', null],
      ['lifecycle', 'qgalab-7', 'Started', 'Restored', 'restored'],
      ['lifecycle', 'qgalab-7', 'Resumed', 'Snapshot', 'restored'],
      ['agent-lifecycle', 'qgalab-7', 'connected', 'channel event', 'agent-connected'],
    ]);
    expect(parsed[1]!.atMs).toBe(Date.UTC(2026, 10, 29, 13, 35, 16, 283));
  });

  test('the time zone offset is applied', () => {
    const e = parseEventLine("2026-11-29 14:35:16.283+0100: event 'lifecycle' for domain 'x': Resumed Unpaused")!;
    expect(e.atMs).toBe(Date.UTC(2026, 10, 29, 13, 35, 16, 283));
    const w = parseEventLine("2026-11-29 08:35:16.283-0500: event 'lifecycle' for domain 'x': Resumed Unpaused")!;
    expect(w.atMs).toBe(e.atMs);
  });

  test('migration, boot and wake-up map to their triggers', () => {
    const t = (rest: string) => parseEventLine(`2026-11-29 13:35:16.283+0000: event 'lifecycle' for domain 'd': ${rest}`)?.trigger;
    expect(t('Resumed Migrated')).toBe('migrated');
    expect(t('Started Migrated')).toBe('migrated');
    expect(t('Resumed Post-copy')).toBe('migrated');
    expect(t('Started Booted')).toBe('started');
    expect(t('Started Event wakeup')).toBe('resumed');
    expect(t('Started Snapshot')).toBe('restored');
    expect(t('Suspended Migrated')).toBeUndefined();
    expect(t('Stopped Migrated')).toBeUndefined();
    expect(t('Suspended I/O Error')).toBeUndefined();
    expect(t('Shutdown Finished after guest request')).toBeUndefined();
  });

  test('hostile names: quotes, the separator and a whole fake event inside the name', () => {
    const names = [
      "it's",
      "a': Resumed Unpaused",
      "x': Suspended Paused",
      "'",
      "''",
      "evil': state: 'connected' reason: 'channel event",
      'spaces and *glob[s]',
      'ünï€ødé',
      "2026-11-29 13:35:16.283+0000: event 'lifecycle' for domain 'victim",
    ];
    for (const name of names) {
      const e = parseEventLine(`2026-11-29 13:35:16.283+0000: event 'lifecycle' for domain '${name}': Suspended Paused`);
      expect([name, e?.domain, e?.event, e?.detail]).toEqual([name, name, 'Suspended', 'Paused']);
      const a = parseEventLine(`2026-11-29 13:35:16.283+0000: event 'agent-lifecycle' for domain '${name}': state: 'disconnected' reason: 'unknown'`);
      expect([name, a?.domain, a?.event, a?.trigger]).toEqual([name, name, 'disconnected', undefined]);
    }
  });

  test('lines that only look like events are ignored', () => {
    const bad = [
      '',
      'error: Disconnected from qemu:///system due to end of file',
      "2026-11-29 13:35:16.283+0000: event 'lifecycle' for domain 'x': Resumed Booted",
      "2026-11-29 13:35:16.283+0000: event 'lifecycle' for domain 'x': Resumed Unpaused trailing",
      "2026-11-29 13:35:16.283+0000: event 'lifecycle' for domain '': Resumed Unpaused",
      "2026-11-29 13:35:16+0000: event 'lifecycle' for domain 'x': Resumed Unpaused",
      "event 'lifecycle' for domain 'x': Resumed Unpaused",
      " 2026-11-29 13:35:16.283+0000: event 'lifecycle' for domain 'x': Resumed Unpaused",
      "2026-11-29 13:35:16.283+0000: event 'agent-lifecycle' for domain 'x': state: 'connected' reason: 'because'",
      "2026-11-29 13:35:16.283+0000: event 'tunable' for domain 'x': Resumed Unpaused",
    ];
    for (const line of bad) expect([line, parseEventLine(line)]).toEqual([line, undefined]);
  });
});

describe('LineSplitter', () => {
  const text = `${REAL.join('\n')}\n`;
  const split = (chunks: Buffer[], max?: number) => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l), max);
    for (const c of chunks) s.write(c);
    return lines;
  };

  test('the same lines whether the stream comes in one chunk or byte by byte (multi-byte characters too)', () => {
    const all = Buffer.from(`${text}name ünï€ødé\r\n`);
    const whole = split([all]);
    expect(whole).toEqual([...REAL, 'name ünï€ødé']);
    expect(split([...all].map((b) => Buffer.from([b])))).toEqual(whole);
  });

  test('a line longer than the limit is dropped whole; the next one is intact', () => {
    const long = 'x'.repeat(5000);
    expect(split([Buffer.from(`a\n${long}`), Buffer.from(`${long}\nb\n`)], 1024)).toEqual(['a', 'b']);
  });

  test('an unfinished last line waits for its end', () => {
    expect(split([Buffer.from('a\nb')])).toEqual(['a']);
  });
});
