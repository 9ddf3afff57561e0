import { describe, expect, test } from '@jest/globals';
import { redactText } from '../../../src/playbook/redact.js';
import { formatEventRun, type EventRunRecord } from '../../../src/watch/log.js';

const record = (over: Partial<EventRunRecord>): EventRunRecord => ({
  vm: 'web-1',
  connect: 'qemu:///system',
  trigger: 'resumed',
  event: 'Resumed Unpaused',
  eventAt: '2026-12-02T12:00:00.000Z',
  events: 1,
  attempt: 1,
  status: 'ok',
  detail: '',
  ...over,
});

describe("the watch's log line of an event run", () => {
  test('"left alone" only for a run that ended ok; a failed one without a set says "not set"', () => {
    expect(formatEventRun(record({ action: 'none', offsetBeforeMs: -1.2, errorBoundMs: 0.4 }))).toContain('ok: offset -1.2 ms (within threshold, left alone) (± 0.4 ms)');
    const unproven = formatEventRun(record({ status: 'failed', action: 'none', offsetBeforeMs: -2.7, errorBoundMs: 4.2, detail: 'clock off by -2.7 ms (± 4.2): the measurement cannot tell whether it is within the threshold of 4 ms' }));
    expect(unproven).not.toContain('left alone');
    expect(unproven).toContain('failed: offset -2.7 ms (not set) (± 4.2 ms); clock off by');
  });

  test('a secret in the detail is masked in the line, also escaped or cut by the message that quoted it', () => {
    const secret = 'Pw"quote\\back-xyz7';
    const escapedAndCut = `stdout: expected to match /^ok/, got ${JSON.stringify(secret).slice(0, 10)}…`;
    const line = redactText(formatEventRun(record({ status: 'failed', detail: escapedAndCut })), [secret]);
    expect(line).toContain('got "***…');
    for (let i = 0; i + 4 <= secret.length; i++) expect(line).not.toContain(secret.slice(i, i + 4));
  });
});
