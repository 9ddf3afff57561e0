import { CanceledError, errorMessage, TimeoutError, UnreachableError } from '../errors.js';
import { formatElapsed } from '../util/format.js';
import { defineStep } from './context.js';

/** Polls guest-ping until the agent answers: for guests still booting. */
export const waitAgent = defineStep({
  kind: 'wait-agent',
  commands: () => ['guest-ping'],
  async run(params, ctx) {
    const started = Date.now();
    let attempts = 0;
    let last = 'no attempt made';
    while (ctx.remaining() > 0) {
      attempts++;
      try {
        await ctx.call('guest-ping', undefined, Math.min(ctx.remaining(), Math.max(params.intervalMs, 2000)));
        return { waitedMs: Date.now() - started, attempts };
      } catch (err) {
        if (err instanceof CanceledError || !(err instanceof UnreachableError)) throw err;
        last = errorMessage(err);
      }
      await ctx.sleep(params.intervalMs);
      if (ctx.signal.aborted) break;
    }
    throw new TimeoutError(`agent did not answer within ${formatElapsed(Date.now() - started)} (${attempts} attempts; last: ${last})`, Date.now() - started);
  },
});
