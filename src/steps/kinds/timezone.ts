import { defineKind, noParams, none } from '../kind.js';

/** guest-get-timezone, as the agent sends it. */
export const timezone = defineKind({
  kind: 'timezone',
  schema: noParams("guest-get-timezone. Result: the agent's return object as it is ({zone, offset})."),
  normalise: none,
  commands: () => ['guest-get-timezone'],
  run: (_params, ctx) => ctx.call('guest-get-timezone', undefined),
});
