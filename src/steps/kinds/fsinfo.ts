import { defineKind, noParams, none } from '../kind.js';

/** guest-get-fsinfo: mounted filesystems. */
export const fsinfo = defineKind({
  kind: 'fsinfo',
  schema: noParams("guest-get-fsinfo: mounted filesystems. Result: {filesystems: [the agent's list]}."),
  normalise: none,
  commands: () => ['guest-get-fsinfo'],
  async run(_params, ctx) {
    return { filesystems: await ctx.call('guest-get-fsinfo', undefined) };
  },
});
