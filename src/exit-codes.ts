import { AgentError, CanceledError, ProtocolError, QgaPlayError, UnreachableError, UsageError } from './errors.js';

/** Exit statuses, the same for every command. */
export const EXIT = {
  ok: 0,
  /** A step failed, or the agent answered with an error. */
  failed: 1,
  /** Bad usage or a bad playbook: nothing was run. */
  usage: 2,
  /** Nothing failed, but a target was unreachable or timed out. */
  unreachable: 3,
  /** The run finished but its reports or metrics file could not be written (disk full, read-only, ...). */
  reportWrite: 74,
  /** Another run holds the report directory's lock. */
  locked: 75,
  /** Interrupted by SIGINT or SIGTERM. */
  interrupted: 130,
} as const;

export function exitCodeFor(err: unknown): number {
  if (err instanceof CanceledError) return EXIT.interrupted;
  if (err instanceof QgaPlayError && err.code === 'LOCKED') return EXIT.locked;
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof UnreachableError) return EXIT.unreachable;
  if (err instanceof ProtocolError) return err.code === 'REPLY_TOO_LARGE' || err.code === 'REPLY_TOO_DEEP' ? EXIT.failed : EXIT.unreachable;
  if (err instanceof AgentError) return EXIT.failed;
  if (err instanceof QgaPlayError) return EXIT.failed;
  return EXIT.failed;
}
