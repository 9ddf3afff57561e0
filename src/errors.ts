/**
 * Named errors. Every error qga-play raises has a stable `code`; the original failure, when
 * there is one, is kept as `cause`.
 */
export class QgaPlayError extends Error {
  /** Stable, machine-readable code (for reports and scripts). */
  readonly code: string;
  /** What a step found before it failed, kept in its report (see {@link withResult}). */
  declare result?: unknown;
  /** False when the step must not be sent again: the guest may already have acted on it (see {@link notRetryable}). */
  retryable = true;
  constructor(message: string, code: string, options?: QgaErrorOptions) {
    super(message, options && 'cause' in options ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    this.code = code;
    if (options?.result !== undefined) this.result = options.result;
    if (options?.retryable === false) this.retryable = false;
  }
}

/** What every qga-play error may carry besides its message and code. */
export interface QgaErrorOptions {
  /** The original failure. */
  cause?: unknown;
  /** What the step found before it failed. */
  result?: unknown;
  /** False: the step must not be sent again. */
  retryable?: boolean;
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
  /** The agent sent more than one request may cost (junk, stale or foreign replies): the connection was closed. */
  | 'FLOODING'
  | 'TIMEOUT';

/** The transport or the agent is down: the command did not run, or its fate is unknown. */
export class UnreachableError extends QgaPlayError {
  declare readonly code: UnreachableCode;
  constructor(message: string, code: UnreachableCode, options?: QgaErrorOptions) {
    super(message, code, options);
  }
}

/** No reply within the deadline: a kind of unreachable that the runner reports as timed-out. */
export class TimeoutError extends UnreachableError {
  readonly timeoutMs: number;
  constructor(message: string, timeoutMs: number, options?: QgaErrorOptions) {
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

/**
 * Codes of {@link ProtocolError}. `PROTOCOL`: the peer does not speak QGA (unreachable); the
 * others are one request's failure: a reply too large or too deep, a request too large, a reply
 * of another shape than its command's reads (`REPLY_SHAPE`).
 */
export type ProtocolCode = 'PROTOCOL' | 'REPLY_TOO_LARGE' | 'REPLY_TOO_DEEP' | 'REQUEST_TOO_LARGE' | 'REPLY_SHAPE';

/** The peer spoke something that is not the QGA protocol, or too much of it. */
export class ProtocolError extends QgaPlayError {
  declare readonly code: ProtocolCode;
  constructor(message: string, code: ProtocolCode = 'PROTOCOL', options?: QgaErrorOptions) {
    super(message, code, options);
  }
}

/** Work stopped because the run was canceled (SIGINT, SIGTERM, an aborted signal). */
export class CanceledError extends QgaPlayError {
  constructor(message = 'canceled', options?: QgaErrorOptions) {
    super(message, 'CANCELED', options);
  }
}

/** Bad usage or bad input: nothing was run. */
export class UsageError extends QgaPlayError {
  constructor(message: string, code = 'USAGE', options?: QgaErrorOptions) {
    super(message, code, options);
  }
}

/** A step ran and did not do what it should (an expectation, an exit code, a check). */
export class StepFailedError extends QgaPlayError {
  constructor(message: string, code = 'STEP_FAILED', options?: QgaErrorOptions) {
    super(message, code, options);
  }
}

/** Who holds a report directory's lock, as its lock file says. */
export interface LockHolder {
  pid: number;
  /** ISO 8601. */
  startedAt: string;
  hostname: string;
  argv: string[];
}

/** Another run holds the report directory's lock (exit status 75). */
export class LockedError extends QgaPlayError {
  declare readonly code: 'LOCKED';
  readonly file: string;
  /** The holder, when the lock file could be read. */
  readonly holder: LockHolder | undefined;
  constructor(file: string, holder: LockHolder | undefined, waitedMs: number) {
    const who = holder
      ? `pid ${holder.pid} on ${holder.hostname}, started ${holder.startedAt}${holder.argv.length > 0 ? ` (${holder.argv.join(' ')})` : ''}`
      : 'an unknown holder (the lock file could not be read)';
    const waited = waitedMs > 0 ? ` after waiting ${(waitedMs / 1000).toFixed(1)} s` : '';
    super(`Another qga-play run is using this report directory${waited}: ${file} is held by ${who}. If no such run is going on, remove the lock file.`, 'LOCKED');
    this.file = file;
    this.holder = holder;
  }
}

/** The run finished but a report or the metrics file could not be written (exit status 74). */
export class ReportWriteError extends QgaPlayError {
  declare readonly code: 'REPORT_WRITE_FAILED';
  constructor(message: string, options?: QgaErrorOptions) {
    super(message, 'REPORT_WRITE_FAILED', options);
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

/**
 * Marks an error whose step must not be sent again (the guest may already have acted on it).
 * Only qga-play's own errors carry the mark; any other error fails its step, never retried.
 */
export function notRetryable<E>(err: E): E {
  if (err instanceof QgaPlayError) err.retryable = false;
  return err;
}

export function isRetryable(err: unknown): boolean {
  return !(err instanceof QgaPlayError) || err.retryable;
}

/** `err` with what its step found before it failed, kept in the step's report. */
export function withResult<E>(err: E, result: unknown): E {
  if (err instanceof QgaPlayError) err.result = result;
  return err;
}

/** What a step found before `err` ended it, if anything. */
export function resultOf(err: unknown): unknown {
  return err instanceof QgaPlayError ? err.result : undefined;
}
