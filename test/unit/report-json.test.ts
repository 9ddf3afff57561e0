import { describe, expect, test } from '@jest/globals';
import { REPORT_FORMAT_VERSION, renderJsonSummary } from '../../src/report/index.js';
import { makeResult } from '../../fixtures/report/run-result.js';

describe('renderJsonSummary (--format json)', () => {
  const result = makeResult();
  const text = renderJsonSummary(result);
  const parsed = JSON.parse(text) as Record<string, unknown>;

  test('is one JSON document: the summary with every VM report inline', () => {
    expect(Object.keys(parsed)).toEqual(['version', 'playbook', 'startedAt', 'durationMs', 'canceled', 'totals', 'vms', 'warnings']);
    expect(parsed).toEqual({
      version: REPORT_FORMAT_VERSION,
      playbook: result.playbook,
      startedAt: result.startedAt,
      durationMs: result.durationMs,
      canceled: false,
      totals: result.totals,
      vms: result.vms,
      warnings: result.warnings,
    });
  });

  test('VM reports have their fields in the report order', () => {
    const vm = (parsed.vms as Record<string, unknown>[])[1] ?? {};
    expect(Object.keys(vm)).toEqual(['vm', 'connect', 'transport', 'route', 'status', 'startedAt', 'durationMs', 'steps']);
  });

  test('a measure-only time-sync above its threshold is ok with a warning, in the JSON too', () => {
    const r = makeResult();
    const step = r.vms[0]!.steps[1]!;
    step.result = { action: 'none', source: 'host', offsetBeforeMs: 1250.5, errorBoundMs: 0.2, thresholdMs: 100, toleranceMs: 50, note: 'measure-only' };
    const vm = (JSON.parse(renderJsonSummary(r)) as { vms: { steps: { status: string; warning?: string }[] }[] }).vms[0]!;
    expect(vm.steps[1]).toMatchObject({ status: 'ok', warning: 'clock off by +1.250 s, above the threshold of 100.0 ms; measure-only: not corrected' });
    expect(vm.steps[0]!.warning).toBeUndefined();
  });

  test('ends without a newline: the caller prints the line', () => {
    expect(text.endsWith('}')).toBe(true);
  });
});
