import { StepFailedError } from '../errors.js';
import { reveal, defineStep } from './context.js';

/** Any QGA command; the reply is kept in the report as the agent sent it. */
export const agent = defineStep({
  kind: 'agent',
  commands: (params) => [params.execute],
  async run(params, ctx) {
    const raw = await ctx.request(params.arguments ? { execute: params.execute, arguments: params.arguments } : { execute: params.execute });
    if (raw === null) return { noReply: true };
    if ('error' in raw.reply) {
      const { class: cls, desc } = raw.reply.error;
      throw new StepFailedError(`${params.execute}: agent error ${cls}: ${desc}`, 'AGENT_ERROR', { result: raw.reply });
    }
    return raw.reply;
  },
});

/** guest-set-user-password; the password is a secret and never leaves this call. */
export const setPassword = defineStep({
  kind: 'set-password',
  commands: () => ['guest-set-user-password'],
  async run(params, ctx) {
    const password = Buffer.from(reveal(params.password), 'utf8').toString('base64');
    await ctx.call('guest-set-user-password', { username: params.user, password, crypted: params.crypted }, { sensitive: true });
    return { user: params.user };
  },
});
