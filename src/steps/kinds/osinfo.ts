import { defineKind, noParams, none } from '../kind.js';

/** guest-get-osinfo, as the agent sends it. */
export const osinfo = defineKind({
  kind: 'osinfo',
  schema: noParams("guest-get-osinfo. Result: the agent's return object as it is (name, kernel-release, id, version-id, ...)."),
  normalise: none,
  commands: () => ['guest-get-osinfo'],
  run: (_params, ctx) => ctx.call('guest-get-osinfo', undefined),
});
