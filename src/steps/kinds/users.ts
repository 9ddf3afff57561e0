import { defineKind, noParams, none } from '../kind.js';

/** guest-get-users: who is logged in. */
export const users = defineKind({
  kind: 'users',
  schema: noParams("guest-get-users: logged-in users. Result: {users: [the agent's list]}."),
  normalise: none,
  commands: () => ['guest-get-users'],
  async run(_params, ctx) {
    return { users: await ctx.call('guest-get-users', undefined) };
  },
});
