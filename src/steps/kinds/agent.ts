import { StepFailedError } from '../../errors.js';
import { KNOWN_COMMANDS } from '../../qga/agent-commands.js';
import { checkRequest } from '../../qga/protocol.js';
import { didYouMean } from '../../playbook/suggest.js';
import { defineKind, isMap, optional } from '../kind.js';

/** Any QGA command; the reply is kept in the report as the agent sent it. */
export const agent = defineKind({
  kind: 'agent',
  schema: {
    description: 'Any QGA command; the reply is kept in the report as the step\'s result. Result: the reply, {"return": ...}; {noReply: true} for a command that sends none.',
    type: 'object',
    additionalProperties: false,
    required: ['execute'],
    properties: {
      execute: { description: 'Command name, e.g. guest-get-host-name.', type: 'string', minLength: 1 },
      arguments: { description: "The command's arguments.", type: 'object' },
    },
  },
  normalise: (w): { execute: string; arguments?: Record<string, unknown> } => ({
    execute: String(w.execute),
    ...optional('arguments', w.arguments, (a) => a as Record<string, unknown>),
  }),
  defaultName: (params) => params.execute,
  // An agent step is a QGA request; an unknown command name is likely a typo (newer agents add some: a warning).
  rule(ctx) {
    const { params } = ctx;
    if (typeof params?.execute !== 'string' || params.execute === '') return;
    if (params.arguments !== undefined && !isMap(params.arguments)) return; // the schema reported it
    const request = checkRequest({ execute: params.execute, ...(params.arguments !== undefined && { arguments: params.arguments }) });
    if (typeof request === 'string') ctx.error(ctx.at, request);
    else if (!KNOWN_COMMANDS.includes(params.execute)) {
      ctx.warn([...ctx.at, 'execute'], `\`${params.execute}\` is not a QGA command known to qga-play${didYouMean(params.execute, KNOWN_COMMANDS)}`);
    }
  },
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
