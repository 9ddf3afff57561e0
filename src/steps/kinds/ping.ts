import { defineKind, noParams, none, round } from '../kind.js';

/** guest-ping, timed. */
export const ping = defineKind({
  kind: 'ping',
  schema: noParams('guest-ping: is the agent answering? Result: {rttMs}.'),
  normalise: none,
  commands: () => ['guest-ping'],
  async run(_params, ctx) {
    const started = performance.now();
    await ctx.call('guest-ping', undefined);
    return { rttMs: round(performance.now() - started) };
  },
});
