import { describe, expect, test } from '@jest/globals';
import { renderJsonSummary } from '../../src/report/index.js';
import { makeResult } from '../../fixtures/report/run-result.js';

describe('renderJsonSummary (--format json)', () => {
  const result = makeResult();
  const text = renderJsonSummary(result);
  const parsed = JSON.parse(text) as Record<string, unknown>;

  test('is one JSON document: the summary with every VM report inline', () => {
    expect(Object.keys(parsed)).toEqual(['playbook', 'startedAt', 'durationMs', 'canceled', 'totals', 'vms', 'warnings']);
    expect(parsed).toEqual({
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

  test('ends without a newline: the caller prints the line', () => {
    expect(text.endsWith('}')).toBe(true);
  });
});
