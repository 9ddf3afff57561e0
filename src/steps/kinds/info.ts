import { ProtocolError } from '../../errors.js';
import { defineKind, noParams, none } from '../kind.js';

/** guest-info; what it learns lets later steps name disabled commands before sending them. */
export const info = defineKind({
  kind: 'info',
  schema: noParams('guest-info: agent version and its enabled commands. Result: {version, commands (how many the agent has), disabled (names of disabled commands)}.'),
  normalise: none,
  commands: () => [],
  async run(_params, ctx) {
    const result = await ctx.call('guest-info', undefined);
    if (!Array.isArray(result?.supported_commands)) throw new ProtocolError(`guest-info reply has no supported_commands list: ${JSON.stringify(result).slice(0, 200)}`);
    ctx.facts.info = result;
    const disabled = result.supported_commands.filter((c) => !c.enabled).map((c) => c.name).sort();
    return { version: result.version, commands: result.supported_commands.length, disabled };
  },
});
