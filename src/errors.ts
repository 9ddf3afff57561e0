/**
 * Named errors. Every error qga-play raises has a stable `code`; the original failure, when
 * there is one, is kept as `cause`.
 */
export class QgaPlayError extends Error {
  /** Stable, machine-readable code (for reports and scripts). */
  readonly code: string;
  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Codes of {@link UnreachableError}: the agent or the VM could not be reached. */
export type UnreachableCode =
  | 'AGENT_NOT_CONNECTED'
  | 'AGENT_TIMEOUT'
  | 'AGENT_DISAPPEARED'
  | 'AGENT_NOT_CONFIGURED'
  | 'DOMAIN_NOT_RUNNING'
  | 'NO_SUCH_DOMAIN'
  | 'CHANNEL_NOT_FOUND'
  | 'SOCKET_MISSING'
  | 'CONNECTION_REFUSED'
  | 'PERMISSION_DENIED'
  | 'DISCONNECTED'
  | 'LIBVIRT_UNAVAILABLE'
  | 'VIRSH_MISSING'
  | 'VIRSH_FAILED'
  | 'SSH_FAILED'
  | 'UNSUPPORTED_ROUTE'
  | 'TIMEOUT';

/** The transport or the agent is down: the command did not run, or its fate is unknown. */
export class UnreachableError extends QgaPlayError {
  declare readonly code: UnreachableCode;
  constructor(message: string, code: UnreachableCode, options?: { cause?: unknown }) {
    super(message, code, options);
  }
}

/** No reply within the deadline: a kind of unreachable that the runner reports as timed-out. */
export class TimeoutError extends UnreachableError {
  readonly timeoutMs: number;
  constructor(message: string, timeoutMs: number, options?: { cause?: unknown }) {
    super(message, 'TIMEOUT', options);
    this.timeoutMs = timeoutMs;
  }
}

/** The agent answered with `{"error": {"class", "desc"}}`. */
export class AgentError extends QgaPlayError {
  /** QAPI error class, e.g. `CommandNotFound`, `GenericError`. */
  readonly errorClass: string;
  readonly desc: string;
  readonly command: string;
  constructor(command: string, errorClass: string, desc: string) {
    super(`agent command ${command} failed: ${errorClass}: ${desc}`, 'AGENT_ERROR');
    this.command = command;
    this.errorClass = errorClass;
    this.desc = desc;
  }
}

/** The peer spoke something that is not the QGA protocol, or too much of it. */
export class ProtocolError extends QgaPlayError {
  constructor(message: string, code: 'PROTOCOL' | 'REPLY_TOO_LARGE' | 'REPLY_TOO_DEEP' | 'REQUEST_TOO_LARGE' = 'PROTOCOL', options?: { cause?: unknown }) {
    super(message, code, options);
  }
}

/** Work stopped because the run was canceled (SIGINT, SIGTERM, an aborted signal). */
export class CanceledError extends QgaPlayError {
  constructor(message = 'canceled', options?: { cause?: unknown }) {
    super(message, 'CANCELED', options);
  }
}

/** Bad usage or bad input: nothing was run. */
export class UsageError extends QgaPlayError {
  constructor(message: string, code = 'USAGE', options?: { cause?: unknown }) {
    super(message, code, options);
  }
}

/** A step ran and did not do what it should (an expectation, an exit code, a check). */
export class StepFailedError extends QgaPlayError {
  /** What the step found before it failed, kept in the report. */
  readonly result?: unknown;
  constructor(message: string, code = 'STEP_FAILED', options?: { cause?: unknown; result?: unknown }) {
    super(message, code, options);
    if (options?.result !== undefined) this.result = options.result;
  }
}

/** Turns an abort reason into the error to throw. */
export function abortError(signal: AbortSignal): CanceledError {
  const reason: unknown = signal.reason;
  if (reason instanceof CanceledError) return reason;
  const text = reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'canceled';
  return new CanceledError(text, { cause: reason });
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const NO_RETRY = Symbol('qga-play.noRetry');

/** Marks an error whose step must not be sent again (the guest may already have acted on it). */
export function notRetryable<E>(err: E): E {
  if (err !== null && typeof err === 'object') (err as Record<symbol, boolean>)[NO_RETRY] = true;
  return err;
}

export function isRetryable(err: unknown): boolean {
  return !(err !== null && typeof err === 'object' && (err as Record<symbol, boolean>)[NO_RETRY]);
}
