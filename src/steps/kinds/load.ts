import { ProtocolError } from '../../errors.js';
import { defineKind, noParams, none } from '../kind.js';

/** The guest's load averages, as guest-get-load (QEMU 10) reports them. */
export interface LoadResult {
  load1: number;
  load5: number;
  load15: number;
}

/** guest-get-load: the 1, 5 and 15 minute load averages (Linux guests, qemu-ga 10 and later). */
export const load = defineKind({
  kind: 'load',
  schema: noParams('guest-get-load: load averages (Linux guests; qemu-ga 10 and later, older agents fail with COMMAND_NOT_FOUND). Result: {load1, load5, load15}.'),
  normalise: none,
  commands: () => ['guest-get-load'],
  async run(_params, ctx): Promise<LoadResult> {
    const reply = await ctx.call('guest-get-load', undefined);
    const { load1, load5, load15 } = (reply ?? {}) as Partial<Record<keyof LoadResult, unknown>>;
    // Guest data is hostile: keep only the three numbers, and only when they are numbers.
    if (![load1, load5, load15].every((v) => typeof v === 'number' && Number.isFinite(v))) {
      throw new ProtocolError(`guest-get-load answered ${JSON.stringify(reply)?.slice(0, 200)}, not {load1, load5, load15}`);
    }
    return { load1: load1 as number, load5: load5 as number, load15: load15 as number };
  },
});
