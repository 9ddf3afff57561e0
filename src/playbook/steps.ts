import { parseExpect } from './expect.js';
import { isMap, writtenDuration as duration, type NormaliseContext, type Written } from '../steps/kind.js';
import { isStepKind, STEP_KINDS, STEPS, stepDefinition, type StepKind, type StepParams } from '../steps/registry.js';
import type { StepSpec } from './types.js';

export { isMap, isStepKind, STEP_KINDS, type NormaliseContext };

/** Defaults of what a playbook may leave out besides a kind's parameters (the schema's descriptions say the same). */
export const DEFAULTS = {
  concurrency: 8,
  timeoutMs: 30_000,
  retries: 0,
  retryDelayMs: 1000,
} as const;

/** Each kind's normaliser (it lives in the kind's file). */
export const STEP_NORMALISERS = Object.fromEntries(STEP_KINDS.map((k) => [k, STEPS[k].normalise])) as {
  [K in StepKind]: (written: Written, ctx: NormaliseContext) => StepParams[K];
};

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
  const definition = stepDefinition(kind);
  const params = definition.normalise(isMap(written) ? written : {}, ctx);
  const name = typeof w.name === 'string' ? w.name : (definition.defaultName?.(params) ?? kind);
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
