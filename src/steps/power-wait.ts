import { TimeoutError, UnreachableError } from '../errors.js';
import { formatElapsed } from '../util/elapsed.js';
import type { StepContext } from './context.js';

const POLL_MS = 500;

/** Polls until `check` holds or the step's deadline passes (shutdown, reboot). */
export async function until(ctx: StepContext, what: string, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (ctx.remaining() <= 0 || ctx.signal.aborted) throw new TimeoutError(`${what} not seen within ${formatElapsed(Date.now() - started)}`, Date.now() - started);
    await ctx.sleep(POLL_MS);
  }
  return Date.now() - started;
}

/** True when the agent answers a ping, false when it is unreachable. */
export async function agentAnswers(ctx: StepContext): Promise<boolean> {
  try {
    await ctx.call('guest-ping', undefined, { timeoutMs: Math.max(1, Math.min(ctx.remaining(), 1500)) });
    return true;
  } catch (err) {
    if (err instanceof UnreachableError) return false;
    throw err;
  }
}
