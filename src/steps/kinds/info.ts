import { defineKind, noParams, none } from '../kind.js';

/** guest-info; what it learns lets later steps name disabled commands before sending them. */
export const info = defineKind({
  kind: 'info',
  schema: noParams('guest-info: agent version and its enabled commands. Result: {version, commands (how many the agent has), disabled (names of disabled commands)}.'),
  normalise: none,
  commands: () => [],
  async run(_params, ctx) {
    const result = await ctx.call('guest-info', undefined);
    ctx.facts.info = result;
    const disabled = result.supported_commands.filter((c) => !c.enabled).map((c) => c.name).sort();
    return { version: result.version, commands: result.supported_commands.length, disabled };
  },
});
