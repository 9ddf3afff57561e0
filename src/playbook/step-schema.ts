import type { JsonSchema } from '../steps/kind.js';
import { STEP_KINDS, stepDefinition } from '../steps/registry.js';

type Node = JsonSchema & { definitions?: Record<string, JsonSchema & { properties?: Record<string, JsonSchema> }> };

/**
 * The playbook schema with its step-kind parts written from the kind files: the `stepKind`
 * enum, each kind's node under `stepMap.properties` (after the common step keys) and the
 * exactly-one-kind `oneOf`. The rest of the schema is kept as it is. `npm run schema` writes
 * the result to schema/playbook.schema.json; a unit test fails when that file is not current.
 */
export function withStepKinds(schema: Node): Node {
  const copy = structuredClone(schema);
  const defs = copy.definitions!;
  const stepMap = defs.stepMap!;
  const previousKinds = new Set((defs.stepKind!.enum as string[] | undefined) ?? []);
  const common = Object.entries(stepMap.properties ?? {}).filter(([key]) => !previousKinds.has(key));
  defs.stepKind = { ...defs.stepKind, enum: [...STEP_KINDS] };
  stepMap.properties = Object.fromEntries([...common, ...STEP_KINDS.map((kind) => [kind, stepDefinition(kind).schema] as const)]);
  stepMap.oneOf = STEP_KINDS.map((kind) => ({ required: [kind] }));
  return copy;
}
