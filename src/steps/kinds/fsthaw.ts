import { defineKind, noParams, none } from '../kind.js';

/** Thaws frozen guest filesystems. */
export const fsthaw = defineKind({
  kind: 'fsthaw',
  schema: noParams('Thaw frozen guest filesystems. Result: {thawed} (how many filesystems).'),
  normalise: none,
  commands: () => ['guest-fsfreeze-thaw'],
  async run(_params, ctx) {
    const thawed = await ctx.call('guest-fsfreeze-thaw', undefined);
    ctx.facts.frozen = false;
    return { thawed };
  },
});
