import { errorMessage, StepFailedError } from '../../errors.js';
import { defineKind, noParams, none } from '../kind.js';
import { agentAnswers, until } from '../power-wait.js';

/** guest-shutdown mode reboot, confirmed by the agent going away and answering again. */
export const reboot = defineKind({
  kind: 'reboot',
  schema: noParams('Reboot the guest through the agent. Follow it with wait-agent. Result: {confirmedBy, downMs, upMs, state}.'),
  normalise: none,
  commands: () => ['guest-shutdown'],
  async run(_params, ctx) {
    const reply = await ctx.request({ execute: 'guest-shutdown', arguments: { mode: 'reboot' } });
    if (reply && 'error' in reply.reply) throw new StepFailedError(`guest-shutdown (reboot) refused: ${reply.reply.error.desc}`, 'AGENT_ERROR');
    const downMs = await until(ctx, 'agent going away for the reboot', async () => !(await agentAnswers(ctx)));
    const upMs = await until(ctx, 'agent back after the reboot', () => agentAnswers(ctx));
    let state: string | undefined;
    if (ctx.domain) {
      state = await ctx.domainState().catch((err: unknown) => `unknown (${errorMessage(err)})`);
      if (state !== 'running') throw new StepFailedError(`after the reboot the domain is ${state}, not running`, 'REBOOT_FAILED', { result: { state } });
    }
    return { confirmedBy: ctx.domain ? 'agent back, domain running' : 'agent back', downMs, upMs, state };
  },
});
