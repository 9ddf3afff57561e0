import { CanceledError, LockedError, ProtocolError, QgaPlayError, ReportWriteError, TimeoutError, UnreachableError, UsageError } from './errors.js';

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

/** One of {@link EXIT}'s values. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** What an error means: the status of the step it ended, and the exit status of the command it ended. */
export interface ErrorOutcome {
  /** As a step's status (`run`'s reports, `agent`'s fan-out lines). */
  status: 'failed' | 'unreachable' | 'timed-out' | 'canceled';
  /** As a command's exit status (`run`, `agent`, `check`, `list`). */
  exit: ExitCode;
}

const FAILED: ErrorOutcome = { status: 'failed', exit: EXIT.failed };
const UNREACHABLE: ErrorOutcome = { status: 'unreachable', exit: EXIT.unreachable };

/**
 * The one mapping from an error to its outcome, used by the runner for a step's status and by
 * every command for its exit status. "Unreachable" (the agent or the VM could not be reached,
 * the peer does not speak the protocol) is told apart from "failed" (the request reached the
 * agent, or was refused before it was sent, and did not do what it should).
 */
export function errorOutcome(err: unknown): ErrorOutcome {
  if (err instanceof CanceledError) return { status: 'canceled', exit: EXIT.interrupted };
  if (err instanceof TimeoutError) return { status: 'timed-out', exit: EXIT.unreachable };
  if (err instanceof UnreachableError) return UNREACHABLE;
  // A garbled stream is a peer that does not speak QGA; a reply or request too large is this request's failure.
  if (err instanceof ProtocolError) return err.code === 'PROTOCOL' ? UNREACHABLE : FAILED;
  if (err instanceof UsageError) return { status: 'failed', exit: EXIT.usage };
  if (err instanceof LockedError) return { status: 'failed', exit: EXIT.locked };
  if (err instanceof ReportWriteError) return { status: 'failed', exit: EXIT.reportWrite };
  // AgentError, StepFailedError, any other of ours, and what is not ours (a bug) fail.
  if (err instanceof QgaPlayError) return FAILED;
  return FAILED;
}

/** The exit status a command ends with when `err` ends it. */
export function exitCodeFor(err: unknown): number {
  return errorOutcome(err).exit;
}
