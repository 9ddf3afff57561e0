import { StepFailedError } from '../../errors.js';
import { defineKind } from '../kind.js';
import { agentAnswers, until } from '../power-wait.js';

/** guest-shutdown, confirmed by the domain's state (shut off) or, without libvirt, by agent loss. */
export const shutdown = defineKind({
  kind: 'shutdown',
  schema: {
    description: 'Shut the guest down through the agent, confirmed by the domain state. Result: {mode, confirmedBy, state, waitedMs}.',
    type: ['object', 'null'],
    additionalProperties: false,
    properties: {
      mode: { description: 'Default: powerdown.', enum: ['powerdown', 'halt'], default: 'powerdown' },
    },
  },
  normalise: (w): { mode: 'powerdown' | 'halt' } => ({ mode: (w.mode as 'powerdown' | 'halt' | undefined) ?? 'powerdown' }),
  // After shutdown the VM is off. (A reboot step itself waits until the agent is back.)
  rule(ctx) {
    if (ctx.next) ctx.warn(ctx.next, `steps after \`shutdown\` (line ${ctx.lineOf(ctx.at.slice(0, 2))}) will find the VM off`);
  },
  commands: () => ['guest-shutdown'],
  async run(params, ctx): Promise<{ mode: 'powerdown' | 'halt'; confirmedBy: string; state?: string; waitedMs: number }> {
    const reply = await ctx.request({ execute: 'guest-shutdown', arguments: { mode: params.mode } });
    if (reply && 'error' in reply.reply) throw new StepFailedError(`guest-shutdown refused: ${reply.reply.error.desc}`, 'AGENT_ERROR');
    if (ctx.domain && params.mode === 'powerdown') {
      const waitedMs = await until(ctx, 'domain shut off', async () => (await ctx.domainState()) === 'shut off');
      return { mode: params.mode, confirmedBy: 'domain state', state: 'shut off', waitedMs };
    }
    const waitedMs = await until(ctx, 'agent going away', async () => !(await agentAnswers(ctx)));
    return { mode: params.mode, confirmedBy: 'agent loss', waitedMs };
  },
});
