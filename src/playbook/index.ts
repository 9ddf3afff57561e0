export { loadPlaybook, parsePlaybook, type LoadOptions, type LoadResult } from './load.js';
export { PlaybookError, formatProblem, type Problem } from './errors.js';
export { parseDuration, formatDuration, parseSize } from './duration.js';
export { evaluateExpectations } from './expect.js';
export { SecretValue, isSecret } from './secret.js';
export { STEP_KINDS, DEFAULTS, isStepKind } from './steps.js';
export { SCHEMA_FILE } from './schema.js';
export { WATCH_TRIGGERS, WATCH_DEFAULTS, watchSpecOf } from './watch.js';
export type { Secret, Expectation, ExpectOp, StepKind, StepParams, StepSpec, StepSpecOf, TargetSpec, Playbook, WatchSpec, WatchTrigger } from './types.js';
