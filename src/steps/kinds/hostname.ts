import { defineKind, noParams, none } from '../kind.js';

/** guest-get-host-name. */
export const hostname = defineKind({
  kind: 'hostname',
  schema: noParams('guest-get-host-name. Result (reshaped): {hostname}.'),
  normalise: none,
  commands: () => ['guest-get-host-name'],
  async run(_params, ctx) {
    return { hostname: (await ctx.call('guest-get-host-name', undefined))['host-name'] };
  },
});
