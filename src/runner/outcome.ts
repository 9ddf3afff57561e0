import { CanceledError, ProtocolError, TimeoutError, UnreachableError, errorMessage, type QgaPlayError } from '../errors.js';
import type { ReportError, StepStatus, VmStatus } from './types.js';

/** What an error means for a step's status. */
export function statusOf(err: unknown, attemptTimedOut: boolean, canceled: boolean): StepStatus {
  if (canceled) return 'canceled';
  if (attemptTimedOut || err instanceof TimeoutError) return 'timed-out';
  if (err instanceof CanceledError) return 'canceled';
  if (err instanceof UnreachableError) return 'unreachable';
  if (err instanceof ProtocolError && err.code === 'PROTOCOL') return 'unreachable';
  return 'failed';
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
