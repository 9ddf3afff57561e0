import { defineKind, optional } from '../kind.js';

/** Freezes all guest filesystems, or the listed mountpoints; the run thaws before it leaves. */
export const fsfreeze = defineKind({
  kind: 'fsfreeze',
  schema: {
    description: 'Freeze guest filesystems (all, or the listed mountpoints). Result: {frozen} (how many filesystems).',
    type: ['object', 'null'],
    additionalProperties: false,
    properties: {
      mountpoints: { type: 'array', items: { type: 'string', minLength: 1 } },
    },
  },
  normalise: (w): { mountpoints?: string[] } => ({ ...optional('mountpoints', w.mountpoints, (m) => (m as unknown[]).map(String)) }),
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
