import { defineKind, noParams, none } from '../kind.js';

/** guest-get-disks. */
export const disks = defineKind({
  kind: 'disks',
  schema: noParams("guest-get-disks. Result: {disks: [the agent's list]}."),
  normalise: none,
  commands: () => ['guest-get-disks'],
  async run(_params, ctx) {
    return { disks: await ctx.call('guest-get-disks', undefined) };
  },
});
