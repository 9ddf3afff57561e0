import { defineKind, noParams, none } from '../kind.js';

/** The guest's load averages, under the names guest-get-load (GuestLoadAverage, QEMU 10) gives them. */
export interface LoadResult {
  load1m: number;
  load5m: number;
  load15m: number;
}

/** guest-get-load: the 1, 5 and 15 minute load averages (Linux guests, qemu-ga 10 and later). */
export const load = defineKind({
  kind: 'load',
  schema: noParams('guest-get-load: load averages (Linux guests; qemu-ga 10 and later, older agents fail with COMMAND_NOT_FOUND). Result: {load1m, load5m, load15m}, the agent\'s own fields.'),
  normalise: none,
  commands: () => ['guest-get-load'],
  async run(_params, ctx): Promise<LoadResult> {
    // The reply's shape is checked where it arrives (REPLY_SHAPES); only the three numbers are kept.
    const { load1m, load5m, load15m } = await ctx.call('guest-get-load', undefined);
    return { load1m, load5m, load15m };
  },
});
