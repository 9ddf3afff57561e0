import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { formatDuration, parseDuration, parseSize } from '../../src/playbook/duration.js';
import { commonStepKeys, playbookSchema, schemaStepKinds, SCHEMA_FILE } from '../../src/playbook/schema.js';
import { DEFAULTS, STEP_KINDS, STEP_NORMALISERS } from '../../src/playbook/steps.js';
import type { StepKind } from '../../src/playbook/types.js';
import { normaliseWatch, WATCH_DEFAULTS, WATCH_TRIGGERS } from '../../src/playbook/watch.js';
import { parsePlaybook } from '../../src/playbook/load.js';

interface Node {
  properties?: Record<string, Node>;
  required?: string[];
  default?: unknown;
  pattern?: string;
  $ref?: string;
  oneOf?: Node[];
  definitions?: Record<string, Node>;
}
const schema = playbookSchema() as Node;
const defs = schema.definitions!;
const resolve = (n: Node): Node => (n.$ref ? defs[n.$ref.replace('#/definitions/', '')]! : n);

describe('the schema and the TypeScript code agree', () => {
  test('the schema file is what the package ships', () => {
    expect(JSON.parse(readFileSync('schema/playbook.schema.json', 'utf8'))).toEqual(schema);
    expect(SCHEMA_FILE.endsWith('/schema/playbook.schema.json')).toBe(true);
  });

  test('every step kind has a normaliser, and every normaliser a kind in the schema', () => {
    const kinds = schemaStepKinds();
    expect([...STEP_KINDS].sort()).toEqual([...kinds].sort());
    expect(Object.keys(STEP_NORMALISERS).sort()).toEqual([...kinds].sort());
    // The kind keys of a step map, and its exactly-one-kind rule, list the same kinds.
    const stepMap = defs.stepMap!;
    expect(Object.keys(stepMap.properties!).filter((k) => !commonStepKeys().includes(k)).sort()).toEqual([...kinds].sort());
    expect(stepMap.oneOf!.map((o) => o.required![0]).sort()).toEqual([...kinds].sort());
    expect(commonStepKeys()).toEqual(['name', 'timeout', 'retries', 'retry-delay', 'continue-on-error', 'expect']);
  });

  test.each(STEP_KINDS)('the schema defaults of %s are the normaliser defaults', (kind: StepKind) => {
    const params = resolve(defs.stepMap!.properties![kind]!);
    const local = { local: (p: string) => `/pb/${p}` };
    // Minimal written parameters: each required one as a string.
    const minimal = Object.fromEntries((params.required ?? []).map((k) => [k, 'x']));
    const normalise = STEP_NORMALISERS[kind] as (w: Record<string, unknown>, c: typeof local) => unknown;
    const base = normalise(minimal, local);
    for (const [key, prop] of Object.entries(params.properties ?? {})) {
      if (prop.default === undefined) continue;
      expect([key, normalise({ ...minimal, [key]: prop.default }, local)]).toEqual([key, base]);
    }
  });

  test('top-level and step defaults', () => {
    const top = schema.properties!;
    expect(top.concurrency!.default).toBe(DEFAULTS.concurrency);
    expect(parseDuration(top.timeout!.default as string)).toBe(DEFAULTS.timeoutMs);
    const step = defs.stepMap!.properties!;
    expect(step.retries!.default).toBe(DEFAULTS.retries);
    expect(parseDuration(step['retry-delay']!.default as string)).toBe(DEFAULTS.retryDelayMs);
  });

  test('watch triggers and defaults: the schema and the code agree', () => {
    const node = defs.watchTrigger as Node & { enum: string[] };
    expect([...node.enum]).toEqual([...WATCH_TRIGGERS]);
    const watch = schema.properties!.watch!;
    expect(watch.properties!.on!.default).toEqual(WATCH_DEFAULTS.on);
    expect(parseDuration(watch.properties!.settle!.default as string)).toBe(WATCH_DEFAULTS.settleMs);
    expect(watch.properties!.retries!.default).toBe(WATCH_DEFAULTS.retries);
    expect(Object.keys(watch.properties!).sort()).toEqual(Object.keys(WATCH_DEFAULTS).map((k) => (k === 'settleMs' ? 'settle' : k)).sort());
    expect(normaliseWatch({})).toEqual(WATCH_DEFAULTS);
    expect(schema.properties!.every!.$ref).toBe('#/definitions/duration');
  });

  test('every: and watch: load for watch; run and the shipped fleet-timesync.yaml carry them', () => {
    const pb = parsePlaybook('every: 15m\nwatch: { on: [agent-connected, resumed], settle: 250ms }\ntargets:\n  - vm: a\nsteps:\n  - ping\n', '/pb/w.yaml').playbook;
    expect([pb.everyMs, pb.watch]).toEqual([900_000, { on: ['resumed', 'agent-connected'], settleMs: 250, retries: 2 }]);
    const plain = parsePlaybook('targets:\n  - vm: a\nsteps:\n  - ping\n', '/pb/p.yaml').playbook;
    expect([plain.everyMs, plain.watch]).toEqual([undefined, undefined]);
    const fleet = parsePlaybook(readFileSync('playbooks/fleet-timesync.yaml', 'utf8'), 'playbooks/fleet-timesync.yaml').playbook;
    expect([fleet.everyMs, fleet.watch]).toEqual([15 * 60_000, WATCH_DEFAULTS]);
  });

  test('the schema duration pattern accepts exactly what parseDuration accepts', () => {
    const pattern = new RegExp(defs.duration!.pattern!, 'u');
    const samples = ['500ms', '30s', '2m', '1h', '1m30s', '1h2m3s4ms', '1.5s', '0', '30', '2.5', '5 sec', '5 s', '', 's', '-1s', '1d', '1.s', '.5s', '1ms5', 'ms', '10S', ' 5s'];
    for (const s of samples) expect([s, pattern.test(s)]).toEqual([s, parseDuration(s) !== null && s === s.trim()]);
  });

  test('the schema size pattern accepts exactly what parseSize accepts', () => {
    const pattern = new RegExp(defs.size!.pattern!, 'u');
    for (const s of ['10MiB', '512KiB', '1GB', '1.5MB', '100', '100B', '1.5', '1.5B', '10 MiB', '10mib', 'lots', '-1', '']) {
      expect([s, pattern.test(s)]).toEqual([s, parseSize(s) !== null]);
    }
  });
});

describe('durations and sizes', () => {
  test('parseDuration', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration(' 5s ')).toBe(5000);
    expect(parseDuration(30)).toBe(30_000);
    expect(parseDuration(0.25)).toBe(250);
    expect(parseDuration('30')).toBe(30_000);
    for (const bad of ['5 sec', '', 'fast', '-1s', '1d', '5S']) expect(parseDuration(bad)).toBeNull();
    for (const bad of [-1, NaN, Infinity]) expect(parseDuration(bad)).toBeNull();
  });

  test('formatDuration writes what parseDuration reads', () => {
    const cases: [number, string][] = [[0, '0ms'], [500, '500ms'], [1500, '1.5s'], [30_000, '30s'], [120_000, '2m'], [90_000, '1m30s'], [3_600_000, '1h'], [3_723_000, '1h2m3s'], [-2000, '-2s']];
    for (const [ms, text] of cases) {
      expect(formatDuration(ms)).toBe(text);
      if (ms >= 0) expect(parseDuration(text)).toBe(ms);
    }
  });

  test('parseSize', () => {
    expect(parseSize('10MiB')).toBe(10 * 1024 * 1024);
    expect(parseSize('512KiB')).toBe(512 * 1024);
    expect(parseSize('1GB')).toBe(1e9);
    expect(parseSize('100')).toBe(100);
    expect(parseSize(4096)).toBe(4096);
    expect(parseSize('1.5KiB')).toBe(1536);
    for (const bad of ['10 megs', '-1', '1.5', '1.5B', 1.5]) expect(parseSize(bad)).toBeNull();
  });
});
