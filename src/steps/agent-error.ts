import { AgentError, StepFailedError } from '../errors.js';

/** Why commands cannot be used: the guest agent's policy, or frozen filesystems. */
export function disabledMessage(commands: string[]): string {
  const verb = commands.length > 1 ? 'are' : 'is';
  return `${commands.join(', ')} ${verb} disabled in this guest's agent (its --allow-rpcs/--block-rpcs policy, or frozen filesystems)`;
}

/** Names the agent policy when a command is disabled or unknown. */
export function explainAgentError(err: unknown): unknown {
  if (!(err instanceof AgentError) || err.errorClass !== 'CommandNotFound') return err;
  if (/has been disabled/.test(err.desc)) return new StepFailedError(disabledMessage([err.command]), 'COMMAND_DISABLED', { cause: err });
  return new StepFailedError(`the guest's agent does not know ${err.command} (too old, or not for this OS)`, 'COMMAND_NOT_FOUND', { cause: err });
}
