import { defineKind, optional } from '../kind.js';

/** guest-fstrim. */
export const fstrim = defineKind({
  kind: 'fstrim',
  schema: {
    description: "Discard unused blocks of guest filesystems. Result: {trimmed} (the agent's reply).",
    type: ['object', 'null'],
    additionalProperties: false,
    properties: {
      minimum: { description: 'Minimum contiguous free range to discard, in bytes.', type: 'integer', minimum: 0 },
    },
  },
  normalise: (w): { minimum?: number } => ({ ...optional('minimum', w.minimum, Number) }),
  commands: () => ['guest-fstrim'],
  async run(params, ctx) {
    return { trimmed: await ctx.call('guest-fstrim', params.minimum === undefined ? undefined : { minimum: params.minimum }) };
  },
});
