import { AgentError } from '../errors.js';

/** A QGA request as sent on the wire. */
export interface QgaRequest {
  execute: string;
  arguments?: Record<string, unknown>;
  id?: unknown;
}

/** The agent's error object. */
export interface QgaErrorBody {
  class: string;
  desc: string;
}

/** A decoded agent reply: either `return` or `error`. */
export type QgaReply = { return: unknown; id?: unknown } | { error: QgaErrorBody; id?: unknown };

/** A reply together with its text as the agent sent it. */
export interface RawReply {
  /** Exactly the JSON text of the reply (no trailing newline). */
  text: string;
  reply: QgaReply;
  /**
   * Host-clock interval (epoch ms) known to contain the agent's handling of the request, as
   * tight as the transport can tell: for clock measurements.
   */
  window?: { startMs: number; endMs: number };
}

export function encodeRequest(request: QgaRequest): string {
  return JSON.stringify(request) + '\n';
}

export function isErrorReply(reply: QgaReply): reply is { error: QgaErrorBody } {
  return 'error' in reply;
}

/** Checks that a value has the shape of a QGA reply; returns null when it does not. */
export function asReply(value: unknown): QgaReply | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  if ('return' in v) return v as QgaReply;
  const err = v.error;
  if (err !== null && typeof err === 'object' && !Array.isArray(err)) {
    const e = err as Record<string, unknown>;
    return { ...v, error: { class: String(e.class ?? 'GenericError'), desc: String(e.desc ?? '') } } as QgaReply;
  }
  return null;
}

/** Returns the reply's value or throws an AgentError. */
export function unwrapReply(command: string, reply: QgaReply): unknown {
  if (isErrorReply(reply)) throw new AgentError(command, reply.error.class, reply.error.desc);
  return reply.return;
}

/**
 * Parses a request given by a user (command line, playbook). Returns a message saying what is
 * wrong, or the request.
 */
export function parseUserRequest(text: string): QgaRequest | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  return checkRequest(value);
}

export function checkRequest(value: unknown): QgaRequest | string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return 'not a QGA request: expected an object like {"execute":"guest-ping"}';
  }
  const v = value as Record<string, unknown>;
  if (typeof v.execute !== 'string' || v.execute === '') {
    return 'not a QGA request: "execute" must be a command name such as "guest-ping"';
  }
  const unknownKeys = Object.keys(v).filter((k) => k !== 'execute' && k !== 'arguments' && k !== 'id');
  if (unknownKeys.length > 0) {
    return `not a QGA request: unknown member ${JSON.stringify(unknownKeys[0])} (allowed: execute, arguments, id)`;
  }
  if (v.arguments !== undefined && (v.arguments === null || typeof v.arguments !== 'object' || Array.isArray(v.arguments))) {
    return 'not a QGA request: "arguments" must be an object';
  }
  return v as unknown as QgaRequest;
}
