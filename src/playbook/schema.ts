import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ErrorObject } from 'ajv';
import { validate as generatedValidate, validateStep as generatedValidateStep } from './validate-playbook.generated.js';
import type { Problem } from './errors.js';
import { displayPath, type PathSegment, type Source } from './source.js';
import { closest, didYouMean } from './suggest.js';

/** Absolute path of the playbook JSON Schema (shipped in the package; give it to editors). */
export const SCHEMA_FILE = fileURLToPath(new URL('../../schema/playbook.schema.json', import.meta.url));

interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  required?: string[];
  enum?: unknown[];
  oneOf?: SchemaNode[];
  definitions?: Record<string, SchemaNode>;
}

/** The ahead-of-time validator's shape (ajv standalone: errors on the function after a call). */
interface Validate {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

interface Compiled {
  schema: SchemaNode;
  validate: Validate;
  /** One step against `#/definitions/step`, so each step's errors are found on their own. */
  validateStep: Validate;
  definitionOf: Map<object, string>;
  /** The schema's own nodes by JSON text: errors carry the generated code's copies. */
  canonical: Map<string, SchemaNode>;
  kinds: string[];
  commonStepKeys: string[];
}

let compiled: Compiled | undefined;

// The generated code's schema nodes are few and shared by every error: each is looked up by its JSON text once.
const canonicalCache = new WeakMap<object, SchemaNode>();
function canonicalOf(c: Compiled, node: SchemaNode): SchemaNode {
  let found = canonicalCache.get(node);
  if (found === undefined) {
    found = c.canonical.get(JSON.stringify(node)) ?? node;
    canonicalCache.set(node, found);
  }
  return found;
}

function compile(): Compiled {
  if (compiled) return compiled;
  const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as SchemaNode;
  const defs = schema.definitions ?? {};
  // Compiled at build time (scripts/build-validator.js) from this same file: nothing to compile here.
  const validate = generatedValidate as unknown as Validate;
  const validateStep = generatedValidateStep as unknown as Validate;
  const kinds = (defs.stepKind?.enum ?? []) as string[];
  const commonStepKeys = Object.keys(defs.stepMap?.properties ?? {}).filter((k) => !kinds.includes(k));
  const definitionOf = new Map<object, string>(Object.entries(defs).map(([name, node]) => [node, name]));
  compiled = { schema, validate, validateStep, definitionOf, kinds, commonStepKeys, canonical: canonicalNodes(schema) };
  return compiled;
}

/** The parsed schema, for tests and tools. */
export function playbookSchema(): SchemaNode {
  return compile().schema;
}

/** Step kinds as the schema names them. */
export function schemaStepKinds(): string[] {
  return [...compile().kinds];
}

/** Keys every step may have besides its kind key, as the schema names them. */
export function commonStepKeys(): string[] {
  return [...compile().commonStepKeys];
}

const TYPE_NAMES: Record<string, string> = {
  object: 'a map',
  array: 'a list',
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  null: 'empty',
};

export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '...' : value)}`;
  return `the ${typeof value} ${String(value)}`;
}

function raw(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : JSON.stringify(value ?? null);
}

export const NO_TARGETS = 'no targets: add `targets:` with at least one entry such as `- vm: web-*`';
export const EMPTY_TARGETS = 'no targets: the `targets` list is empty; add at least one entry such as `- vm: web-*`';
export const NO_STEPS = 'no steps: add `steps:` with at least one step such as `- ping`';
export const EMPTY_STEPS = 'no steps: the `steps` list is empty; add at least one step such as `- ping`';

/**
 * Every schema error of `data`: the steps one by one, the rest with one valid step in their
 * place. (Validated whole, ajv's time grows with the square of the number of errors.)
 */
function schemaErrors(data: unknown, c: Compiled): ErrorObject[] {
  const steps = data !== null && typeof data === 'object' && !Array.isArray(data) ? (data as { steps?: unknown }).steps : undefined;
  if (!Array.isArray(steps) || steps.length === 0) return c.validate(data) ? [] : [...(c.validate.errors ?? [])];
  const errors: ErrorObject[] = [];
  if (!c.validate({ ...(data as object), steps: ['ping'] })) errors.push(...(c.validate.errors ?? []));
  steps.forEach((step, i) => {
    if (c.validateStep(step)) return;
    for (const e of c.validateStep.errors ?? []) errors.push({ ...e, instancePath: `/steps/${i}${e.instancePath}` });
  });
  return errors;
}

/** Validates against the schema; every ajv error becomes a located problem with a message for a person. */
export function schemaProblems(data: unknown, src: Source): Problem[] {
  const c = compile();
  const errors = schemaErrors(data, c);
  if (errors.length === 0) return [];
  const unknownKeys = errors.filter((e) => e.keyword === 'additionalProperties');
  const context: ErrorContext = {
    unknownKeyAt: new Set(unknownKeys.map((e) => e.instancePath)),
    // `pth` reported as "did you mean `path`?" makes "missing `path`" noise.
    misspelt: new Set(unknownKeys.map((e) => `${e.instancePath}\0${closest(String(e.params.additionalProperty), Object.keys((e.parentSchema as SchemaNode).properties ?? {}))}`)),
  };
  const seen = new Set<string>();
  const out: Problem[] = [];
  for (const e of errors) {
    const p = problemOf(e, data, src, c, context);
    const id = p && `${p.line}:${p.column}:${p.message}`;
    if (p && id && !seen.has(id)) {
      out.push(p);
      seen.add(id);
    }
  }
  return out;
}

function toPath(pointer: string, data: unknown): PathSegment[] {
  const path: PathSegment[] = [];
  let node = data;
  for (const part of pointer.split('/').slice(1)) {
    const seg = part.replace(/~1/g, '/').replace(/~0/g, '~');
    const key: PathSegment = Array.isArray(node) ? Number(seg) : seg;
    path.push(key);
    node = node !== null && typeof node === 'object' ? (node as Record<PathSegment, unknown>)[key] : undefined;
  }
  return path;
}

interface ErrorContext {
  unknownKeyAt: Set<string>;
  misspelt: Set<string>;
}

/** Every node of the schema by its JSON text, definitions first: maps the generated code's copies back to them. */
function canonicalNodes(schema: SchemaNode): Map<string, SchemaNode> {
  const out = new Map<string, SchemaNode>();
  const walk = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    const text = JSON.stringify(node);
    if (!Array.isArray(node) && !out.has(text)) out.set(text, node as SchemaNode);
    for (const child of Object.values(node)) walk(child);
  };
  for (const def of Object.values(schema.definitions ?? {})) walk(def);
  walk(schema);
  return out;
}

function problemOf(e: ErrorObject, data: unknown, src: Source, c: Compiled, { unknownKeyAt, misspelt }: ErrorContext): Problem | undefined {
  const defs = c.schema.definitions ?? {};
  const parent = canonicalOf(c, (e.parentSchema ?? {}) as SchemaNode);
  const def = c.definitionOf.get(parent);
  const path = toPath(e.instancePath, data);
  const at = displayPath(path);
  const last = String(path[path.length - 1] ?? '');
  const value: unknown = e.data;
  const params = e.params as Record<string, unknown>;
  const here = (message: string) => src.problem(path, message);

  if (def === 'duration') return here(`\`${at}: ${raw(value)}\` is not a duration; use 500ms, 30s, 2m, 1h`);
  if (def === 'size') return here(`\`${at}: ${raw(value)}\` is not a size; use a number of bytes or 512KiB, 10MiB, 1GB`);

  switch (e.keyword) {
    case 'if':
      return undefined; // always comes with the failing then/else branch's own errors
    case 'oneOf': {
      if (parent !== defs.stepMap) break;
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined; // the type error says it
      const present = Object.keys(value).filter((k) => c.kinds.includes(k));
      if (present.length > 1) {
        return src.problem([...path, present[1]!], `a step does one thing, but this one has ${present.length} kind keys: ${present.map((k) => `\`${k}\``).join(', ')}; split it into separate steps`, 'key');
      }
      if (unknownKeyAt.has(e.instancePath)) return undefined; // a misspelt kind: reported as an unknown key
      return here(`\`${at}\` has no step kind; add one of: ${c.kinds.join(', ')}`);
    }
    case 'required': {
      if (defs.stepMap?.oneOf?.includes(parent)) return undefined; // summarised by the oneOf error
      const missing = String(params.missingProperty);
      if (misspelt.has(`${e.instancePath}\0${missing}`)) return undefined;
      if (path.length === 0 && missing === 'targets') return here(NO_TARGETS);
      if (path.length === 0 && missing === 'steps') return here(NO_STEPS);
      return here(`missing required key \`${missing}\` in \`${at}\``);
    }
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const allowed = Object.keys(parent.properties ?? {});
      const keyProblem = (message: string) => src.problem([...path, key], message, 'key');
      if (def === 'noParams') return keyProblem(`the \`${last}\` step takes no parameters; remove \`${key}\``);
      if (def === 'expectValue') return keyProblem(`unknown operator \`${key}\` in \`${at}\`${didYouMean(key, allowed)} (operators: ${allowed.join(', ')})`);
      if (def === 'stepMap') {
        const hasKind = Object.keys(value as object).some((k) => c.kinds.includes(k));
        if (!hasKind && closest(key, c.commonStepKeys) === undefined) {
          return keyProblem(`unknown step kind \`${key}\`${didYouMean(key, c.kinds)} (kinds: ${c.kinds.join(', ')})`);
        }
        return keyProblem(`unknown key \`${key}\` in step \`${at}\`${didYouMean(key, [...c.commonStepKeys, ...c.kinds])} (a step has one kind key and may have: ${c.commonStepKeys.join(', ')})`);
      }
      const where = path.length === 0 ? '' : ` in \`${at}\``;
      return keyProblem(`unknown key \`${key}\`${where}${didYouMean(key, allowed)} (allowed: ${allowed.join(', ')})`);
    }
    case 'type': {
      if ((at === 'targets' || at === 'steps') && value === null) return here(at === 'targets' ? EMPTY_TARGETS : EMPTY_STEPS);
      if (def === 'stepMap') {
        return here(`\`${at}\` is not a step: write a kind name (\`- ping\`) or a map with one kind key (\`- exec: { path: /bin/true }\`), not ${describeValue(value)}`);
      }
      if (def === 'secretString') return here(`\`${at}\` must be a string or \`{ value: ..., secret: true }\`, not ${describeValue(value)}`);
      const types = ([] as string[]).concat((params.type as string | string[]) ?? []);
      return here(`\`${at}\` must be ${types.map((t) => TYPE_NAMES[t] ?? t).join(' or ')}, not ${describeValue(value)}`);
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      const hint = typeof value === 'string' ? didYouMean(value, allowed) : '';
      if (def === 'stepKind') return here(`unknown step kind \`${raw(value)}\`${hint} (kinds: ${allowed.join(', ')})`);
      return here(`\`${at}: ${raw(value)}\` must be one of ${allowed.join(', ')}${hint}`);
    }
    case 'const':
      return here(`\`${at}\` must be ${JSON.stringify(params.allowedValue)}`);
    case 'minimum':
    case 'maximum':
      return here(`\`${at}\` must be at ${e.keyword === 'minimum' ? 'least' : 'most'} ${String(params.limit)}, not ${raw(value)}`);
    case 'minItems':
      if (at === 'targets') return here(EMPTY_TARGETS);
      if (at === 'steps') return here(EMPTY_STEPS);
      break;
    case 'minLength':
      return here(`\`${at}\` must not be empty`);
    case 'minProperties':
      if (def === 'expectValue') return here(`\`${at}\` has no operator; use one of ${Object.keys(parent.properties ?? {}).join(', ')}`);
      break;
  }
  return here(`\`${at}\` ${e.message ?? 'is not valid'}`);
}
