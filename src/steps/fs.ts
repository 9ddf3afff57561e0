import { defineStep } from './context.js';

export const fsfreeze = defineStep({
  kind: 'fsfreeze',
  commands: (params) => [params.mountpoints ? 'guest-fsfreeze-freeze-list' : 'guest-fsfreeze-freeze'],
  async run(params, ctx) {
    // Set before the call: a freeze that timed out may still have frozen the guest.
    ctx.facts.frozen = true;
    const frozen = params.mountpoints
      ? await ctx.call('guest-fsfreeze-freeze-list', { mountpoints: params.mountpoints })
      : await ctx.call('guest-fsfreeze-freeze', undefined);
    return { frozen };
  },
});

export const fsthaw = defineStep({
  kind: 'fsthaw',
  commands: () => ['guest-fsfreeze-thaw'],
  async run(_params, ctx) {
    const thawed = await ctx.call('guest-fsfreeze-thaw', undefined);
    ctx.facts.frozen = false;
    return { thawed };
  },
});

export const fstrim = defineStep({
  kind: 'fstrim',
  commands: () => ['guest-fstrim'],
  async run(params, ctx) {
    return { trimmed: await ctx.call('guest-fstrim', params.minimum === undefined ? undefined : { minimum: params.minimum }) };
  },
});
