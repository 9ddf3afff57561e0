import { errorMessage, StepFailedError, TimeoutError, UnreachableError } from '../errors.js';
import { domainState } from '../inventory/libvirt.js';
import { formatElapsed } from '../util/format.js';
import { defineStep, type StepContext } from './context.js';

const POLL_MS = 500;

async function currentState(ctx: StepContext): Promise<string> {
  const d = ctx.domain!;
  try {
    return await domainState(d.uri, d.name, { timeoutMs: Math.max(1000, Math.min(ctx.remaining(), 10_000)), signal: ctx.signal, virsh: d.virsh, run: d.run });
  } catch (err) {
    // A transient domain is gone once it has shut off.
    if (err instanceof UnreachableError && err.code === 'NO_SUCH_DOMAIN') return 'shut off';
    throw err;
  }
}

/** Polls until `check` holds or the step's deadline passes. */
async function until(ctx: StepContext, what: string, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (ctx.remaining() <= 0 || ctx.signal.aborted) throw new TimeoutError(`${what} not seen within ${formatElapsed(Date.now() - started)}`, Date.now() - started);
    await ctx.sleep(POLL_MS);
  }
  return Date.now() - started;
}

async function agentAnswers(ctx: StepContext): Promise<boolean> {
  try {
    await ctx.call('guest-ping', undefined, { timeoutMs: Math.max(1, Math.min(ctx.remaining(), 1500)) });
    return true;
  } catch (err) {
    if (err instanceof UnreachableError) return false;
    throw err;
  }
}

/** guest-shutdown, confirmed by the domain's state (shut off) or, without libvirt, by agent loss. */
export const shutdown = defineStep({
  kind: 'shutdown',
  commands: () => ['guest-shutdown'],
  async run(params, ctx) {
    const reply = await ctx.request({ execute: 'guest-shutdown', arguments: { mode: params.mode } });
    if (reply && 'error' in reply.reply) throw new StepFailedError(`guest-shutdown refused: ${reply.reply.error.desc}`, 'AGENT_ERROR');
    if (ctx.domain && params.mode === 'powerdown') {
      const waitedMs = await until(ctx, 'domain shut off', async () => (await currentState(ctx)) === 'shut off');
      return { mode: params.mode, confirmedBy: 'domain state', state: 'shut off', waitedMs };
    }
    const waitedMs = await until(ctx, 'agent going away', async () => !(await agentAnswers(ctx)));
    return { mode: params.mode, confirmedBy: 'agent loss', waitedMs };
  },
});

/** guest-shutdown mode reboot, confirmed by the agent going away and answering again. */
export const reboot = defineStep({
  kind: 'reboot',
  commands: () => ['guest-shutdown'],
  async run(_params, ctx) {
    const reply = await ctx.request({ execute: 'guest-shutdown', arguments: { mode: 'reboot' } });
    if (reply && 'error' in reply.reply) throw new StepFailedError(`guest-shutdown (reboot) refused: ${reply.reply.error.desc}`, 'AGENT_ERROR');
    const downMs = await until(ctx, 'agent going away for the reboot', async () => !(await agentAnswers(ctx)));
    const upMs = await until(ctx, 'agent back after the reboot', () => agentAnswers(ctx));
    let state: string | undefined;
    if (ctx.domain) {
      state = await currentState(ctx).catch((err: unknown) => `unknown (${errorMessage(err)})`);
      if (state !== 'running') throw new StepFailedError(`after the reboot the domain is ${state}, not running`, 'REBOOT_FAILED', { result: { state } });
    }
    return { confirmedBy: ctx.domain ? 'agent back, domain running' : 'agent back', downMs, upMs, state };
  },
});
