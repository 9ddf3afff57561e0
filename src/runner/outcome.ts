import { errorMessage, type QgaPlayError } from '../errors.js';
import { errorOutcome } from '../exit-codes.js';
import type { ReportError, StepStatus, VmStatus } from './types.js';

/**
 * A step's status after `err` ended its attempt: canceled when the run was, timed-out when the
 * attempt's own deadline passed (whatever the error it caused), else the error's outcome.
 */
export function statusOf(err: unknown, attemptTimedOut: boolean, canceled: boolean): StepStatus {
  if (canceled) return 'canceled';
  if (attemptTimedOut) return 'timed-out';
  return errorOutcome(err).status;
}

export function reportError(err: unknown): ReportError {
  const code = (err as Partial<QgaPlayError>)?.code;
  return { code: typeof code === 'string' ? code : 'ERROR', message: errorMessage(err) };
}

/** The worst status of a VM's steps: failed > unreachable (and timed-out) > canceled > ok. */
export function vmStatus(steps: { status: StepStatus }[]): VmStatus {
  const has = (s: StepStatus) => steps.some((step) => step.status === s);
  if (has('failed')) return 'failed';
  if (has('unreachable') || has('timed-out')) return 'unreachable';
  if (has('canceled')) return 'canceled';
  return 'ok';
}

/** Statuses worth retrying: the agent may come back. */
export function retryable(status: StepStatus): boolean {
  return status === 'unreachable' || status === 'timed-out';
}
