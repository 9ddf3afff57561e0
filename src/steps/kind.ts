import { parseDuration } from '../playbook/duration.js';
import type { Expectation, Secret } from '../playbook/types.js';
import type { PathSegment } from '../playbook/source.js';
import type { StepContext } from './context.js';

/** Written parameters of a step (already valid against the schema). */
export type Written = Record<string, unknown>;

/** A JSON Schema (draft-07) node. */
export type JsonSchema = Record<string, unknown>;

/** What a normaliser may need besides the written parameters. */
export interface NormaliseContext {
  /** Resolves a local path against the playbook's directory. */
  local(path: string): string;
}

/** What a kind's playbook rule sees: one written step of that kind, and where to report. */
export interface KindRuleContext {
  /** The kind's written parameters when they are a map. */
  params: Written | undefined;
  /** Path of the kind's key, e.g. `['steps', 2, 'file-write']`. */
  at: PathSegment[];
  /** Path of the step after this one, if any. */
  next?: PathSegment[];
  /** The targets can stand for more than one VM (a glob, or two or more entries). */
  manyVms: boolean;
  lineOf(path: PathSegment[]): number;
  error(path: PathSegment[], message: string, at?: 'value' | 'key'): void;
  warn(path: PathSegment[], message: string, at?: 'value' | 'key'): void;
  /** Checks a written duration the schema accepts against what a timer can use. */
  duration(path: PathSegment[], value: unknown, options: { positive: boolean }): void;
}

/** A clock offset a step measured, in ms. */
export interface ClockOffset {
  beforeMs: number;
  afterMs?: number;
}

/**
 * The fields of a kind's result that reports show (the table, metrics, JUnit), read through the
 * kind's own result type. Each reader gets the step's `result`, which on a failed step may be
 * partial: check what you read.
 */
export interface KindReport<R> {
  clockOffsetMs?(result: Partial<R>): ClockOffset | undefined;
  exitCode?(result: Partial<R>): number | undefined;
  /** What an ok step still wants a person to see. */
  warning?(result: Partial<R>): string | undefined;
  /** What a time-sync did, for metrics: `drift` is measure-only above the threshold. */
  syncAction?(result: Partial<R>): 'set' | 'none' | 'drift' | undefined;
}

/**
 * One step kind, whole: what a playbook writes for it (its JSON Schema node, from which the
 * schema file is generated), how that is normalised and checked, the agent commands it needs,
 * how it runs, and what of its result reports show.
 */
export interface StepKindDefinition<K extends string = string, P = unknown, R = unknown> {
  kind: K;
  /** The kind's node under `stepMap.properties` in schema/playbook.schema.json. */
  schema: JsonSchema;
  /** Written parameters (valid against `schema`; `{}` when the kind is written alone) to the ones `run` gets. */
  normalise(written: Written, ctx: NormaliseContext): P;
  /** The step's name in reports when the playbook gives none. Default: the kind. */
  defaultName?(params: P): string;
  /** Checks the schema cannot express, on one written step. */
  rule?(ctx: KindRuleContext): void;
  /** Agent commands the step sends; checked against guest-info when an earlier step read it. */
  commands(params: P): string[];
  /** Checks applied when the step has no `expect` of its own. */
  defaultExpect?: Expectation[];
  run(params: P, ctx: StepContext): Promise<R>;
  report?: KindReport<R>;
}

/** Builds a kind with its parameter and result types inferred and checked throughout. */
export function defineKind<K extends string, P, R>(definition: StepKindDefinition<K, P, R>): StepKindDefinition<K, P, R> {
  return definition;
}

/** The schema node of a kind that takes no parameters. */
export function noParams(description: string): JsonSchema {
  return { description, $ref: '#/definitions/noParams' };
}

/** The normaliser of a kind that takes no parameters. */
export function none(): Record<string, never> {
  return {};
}

/** A number when it is a finite one (results on failed steps, or read back, may lack fields). */
export function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** `optional('to', w.to, f)`: `{to: f(w.to)}`, or `{}` when not written. */
export function optional<T, Key extends string>(key: Key, v: unknown, f: (v: unknown) => T): { [k in Key]?: T } {
  return (v === undefined ? {} : { [key]: f(v) }) as { [k in Key]?: T };
}

export function round(ms: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(ms * f) / f;
}

/** A written duration in ms, or the default when not written. */
export function writtenDuration(v: unknown, fallback: number): number {
  return v === undefined ? fallback : (parseDuration(v as string | number) ?? fallback);
}

export function isMap(value: unknown): value is Written {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The text of a value that may be a Secret (only for sending it to the agent). */
export function reveal(value: string | Secret): string {
  return typeof value === 'string' ? value : value.value;
}
