import { parseDuration, parseSize } from './duration.js';
import { parseExpect } from './expect.js';
import { SecretValue } from './secret.js';
import type { Secret, StepKind, StepParams, StepSpec } from './types.js';

/** Defaults of everything a playbook may leave out (the schema's descriptions say the same). */
export const DEFAULTS = {
  concurrency: 8,
  timeoutMs: 30_000,
  retries: 0,
  retryDelayMs: 1000,
  waitIntervalMs: 1000,
  fileReadMaxBytes: 10 * 1024 * 1024,
  timeSamples: 5,
  timeSyncThresholdMs: 100,
  timeSyncToleranceMs: 50,
} as const;

type Written = Record<string, unknown>;

export interface NormaliseContext {
  /** Resolves a local path against the playbook's directory. */
  local(path: string): string;
}

type Normaliser<K extends StepKind> = (written: Written, ctx: NormaliseContext) => StepParams[K];

const none = (): Record<string, never> => ({});
const duration = (v: unknown, fallback: number) => (v === undefined ? fallback : (parseDuration(v as string | number) ?? fallback));
const text = (v: unknown) => String(v);
const secretOr = (v: unknown): string | Secret => (typeof v === 'object' && v !== null ? new SecretValue(String((v as Secret).value)) : String(v));
const optional = <T>(key: string, v: unknown, f: (v: unknown) => T): Record<string, T> => (v === undefined ? {} : { [key]: f(v) });

/**
 * Written parameters (already valid against the schema) to the parameters the runner uses, for
 * every step kind: the mapped type makes a missing or extra kind a compile error.
 */
export const STEP_NORMALISERS: { [K in StepKind]: Normaliser<K> } = {
  ping: none,
  'wait-agent': (w) => ({ intervalMs: duration(w.interval, DEFAULTS.waitIntervalMs) }),
  info: none,
  exec: (w) => ({
    path: text(w.path),
    args: ((w.args as unknown[] | undefined) ?? []).map(text),
    ...optional('env', w.env, (env) => Object.fromEntries(Object.entries(env as Written).map(([k, v]) => [k, secretOr(v)]))),
    ...optional('stdin', w.stdin, secretOr),
    capture: (w.capture as boolean | 'merged' | undefined) ?? true,
  }),
  'file-read': (w, ctx) => ({
    path: text(w.path),
    ...optional('to', w.to, (to) => ctx.local(text(to))),
    maxBytes: w['max-size'] === undefined ? DEFAULTS.fileReadMaxBytes : (parseSize(w['max-size'] as string | number) ?? DEFAULTS.fileReadMaxBytes),
  }),
  'file-write': (w, ctx) => ({
    path: text(w.path),
    ...optional('from', w.from, (from) => ctx.local(text(from))),
    ...optional('content', w.content, text),
    mode: (w.mode as 'overwrite' | 'append' | undefined) ?? 'overwrite',
  }),
  'time-get': (w) => ({ samples: (w.samples as number | undefined) ?? DEFAULTS.timeSamples }),
  'time-sync': (w) => ({
    thresholdMs: duration(w.threshold, DEFAULTS.timeSyncThresholdMs),
    source: (w.source as 'host' | 'rtc' | undefined) ?? 'host',
    toleranceMs: duration(w.tolerance, DEFAULTS.timeSyncToleranceMs),
    measureOnly: (w['measure-only'] as boolean | undefined) ?? false,
    samples: (w.samples as number | undefined) ?? DEFAULTS.timeSamples,
  }),
  network: none,
  osinfo: none,
  hostname: none,
  users: none,
  timezone: none,
  fsinfo: none,
  disks: none,
  fsfreeze: (w) => ({ ...optional('mountpoints', w.mountpoints, (m) => (m as unknown[]).map(text)) }),
  fsthaw: none,
  fstrim: (w) => ({ ...optional('minimum', w.minimum, Number) }),
  shutdown: (w) => ({ mode: (w.mode as 'powerdown' | 'halt' | undefined) ?? 'powerdown' }),
  reboot: none,
  // A password is a secret whether or not the playbook said so.
  'set-password': (w) => ({ user: text(w.user), password: new SecretValue(String(isMap(w.password) ? w.password.value : w.password)), crypted: w.crypted === true }),
  agent: (w) => ({ execute: text(w.execute), ...optional('arguments', w.arguments, (a) => a as Record<string, unknown>) }),
};

/** Every step kind, in the order the schema lists them. */
export const STEP_KINDS = Object.keys(STEP_NORMALISERS) as StepKind[];

export function isStepKind(value: unknown): value is StepKind {
  return typeof value === 'string' && Object.hasOwn(STEP_NORMALISERS, value);
}

export function isMap(value: unknown): value is Written {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The kind of a written step (`- ping` or `- exec: {...}`), if it has exactly one. */
export function stepKindOf(step: unknown): StepKind | undefined {
  if (isStepKind(step)) return step;
  const kinds = isMap(step) ? Object.keys(step).filter(isStepKind) : [];
  return kinds.length === 1 ? kinds[0] : undefined;
}

/** One valid written step to a StepSpec. */
export function normaliseStep(step: unknown, defaults: { timeoutMs: number }, line: number, ctx: NormaliseContext): StepSpec {
  const w: Written = isMap(step) ? step : {};
  const kind = stepKindOf(step)!;
  const written = w[kind];
  const params = STEP_NORMALISERS[kind]((isMap(written) ? written : {}) as Written, ctx);
  const name = typeof w.name === 'string' ? w.name : defaultStepName(kind, params);
  return {
    name,
    kind,
    params,
    timeoutMs: duration(w.timeout, defaults.timeoutMs),
    retries: (w.retries as number | undefined) ?? DEFAULTS.retries,
    retryDelayMs: duration(w['retry-delay'], DEFAULTS.retryDelayMs),
    continueOnError: w['continue-on-error'] === true,
    expect: parseExpect(w.expect as Written | undefined),
    line,
  } as StepSpec;
}

/** A step's name when the playbook gives none: the kind, or what it runs (exec, agent, files). */
function defaultStepName(kind: StepKind, params: StepParams[StepKind]): string {
  switch (kind) {
    case 'agent':
      return (params as StepParams['agent']).execute;
    case 'exec': {
      const p = params as StepParams['exec'];
      const line = ['exec', p.path, ...p.args].join(' ');
      return line.length > 60 ? `${line.slice(0, 59)}…` : line;
    }
    case 'file-read':
    case 'file-write':
      return `${kind} ${(params as StepParams['file-read']).path}`;
    default:
      return kind;
  }
}
