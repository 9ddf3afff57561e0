import { abortError, notRetryable, ProtocolError, TimeoutError, withResult } from '../../errors.js';
import type { GuestExecStatus } from '../../qga/agent-commands.js';
import { formatElapsed } from '../../util/elapsed.js';
import { isSecret, SecretValue } from '../../playbook/secret.js';
import type { Secret } from '../../playbook/types.js';
import { defineKind, finite, isMap, optional, reveal, type Written } from '../kind.js';
import type { StepContext } from '../context.js';

/** Decoded result of a guest-exec. */
export interface ExecResult {
  pid: number;
  exitCode?: number;
  signal?: number;
  stdout?: string;
  stderr?: string;
  /** The output was not UTF-8: invalid bytes show as U+FFFD (copy binary output with file-read). */
  stdoutLossy?: boolean;
  stderrLossy?: boolean;
  stdoutTruncated?: boolean;
  stderrTruncated?: boolean;
  /** Either stream hit the agent's 16 MiB capture cap. */
  truncated: boolean;
  durationMs: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const lossyUtf8 = new TextDecoder('utf-8');

// Reports hold text: a secret in it can be masked, which base64 would hide from the mask.
function decodeStream(b64: string | undefined, name: 'stdout' | 'stderr', into: Partial<ExecResult>): void {
  const bytes = Buffer.from(b64 ?? '', 'base64');
  try {
    into[name] = utf8.decode(bytes);
  } catch {
    into[name] = lossyUtf8.decode(bytes);
    into[`${name}Lossy`] = true;
  }
}

export function decodeExecStatus(pid: number, status: GuestExecStatus, durationMs: number): ExecResult {
  const truncated = Boolean(status['out-truncated'] || status['err-truncated']);
  const result: ExecResult = { pid, durationMs, truncated };
  if (status.exitcode !== undefined) result.exitCode = status.exitcode;
  if (status.signal !== undefined) result.signal = status.signal;
  decodeStream(status['out-data'], 'stdout', result);
  decodeStream(status['err-data'], 'stderr', result);
  if (status['out-truncated']) result.stdoutTruncated = true;
  if (status['err-truncated']) result.stderrTruncated = true;
  return result;
}

/** What an exec step runs. */
export interface ExecParams {
  path: string;
  args: string[];
  env?: Record<string, string | Secret>;
  stdin?: string | Secret;
  capture: boolean | 'merged';
}

const secretOr = (v: unknown): string | Secret => (isMap(v) ? new SecretValue(String(v.value)) : String(v));

/**
 * Runs a program in the guest and polls guest-exec-status with backoff until it exits. The
 * protocol cannot kill a process: at the deadline the step times out and reports the pid.
 */
export const exec = defineKind({
  kind: 'exec',
  schema: {
    description: "Run a program in the guest (guest-exec, no shell) and wait for it until the step's deadline. Result: exitCode, signal, stdout, stderr, truncated.",
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: { description: 'Program to run (PATH is searched).', type: 'string', minLength: 1 },
      args: { description: 'Arguments.', type: 'array', items: { $ref: '#/definitions/word' } },
      env: {
        description: "Environment (replaces the guest's whole environment). A value may be `{ value: ..., secret: true }`.",
        type: 'object',
        additionalProperties: {
          type: ['string', 'number', 'boolean', 'object'],
          additionalProperties: false,
          required: ['value', 'secret'],
          properties: { value: { type: 'string' }, secret: { const: true } },
        },
      },
      stdin: { description: 'Text given on standard input.', $ref: '#/definitions/secretString' },
      capture: {
        description: 'Capture output: true (stdout and stderr apart), false, or merged (one stream; Linux guests). Default: true.',
        enum: [true, false, 'merged'],
        default: true,
      },
    },
  },
  normalise: (w): ExecParams => ({
    path: String(w.path),
    args: ((w.args as unknown[] | undefined) ?? []).map(String),
    ...optional('env', w.env, (env) => Object.fromEntries(Object.entries(env as Written).map(([k, v]) => [k, secretOr(v)]))),
    ...optional('stdin', w.stdin, secretOr),
    capture: (w.capture as boolean | 'merged' | undefined) ?? true,
  }),
  defaultName(params) {
    const line = ['exec', params.path, ...params.args].join(' ');
    return line.length > 60 ? `${line.slice(0, 59)}…` : line;
  },
  commands: () => ['guest-exec', 'guest-exec-status'],
  defaultExpect: [{ path: ['exitCode'], op: 'eq', value: 0, text: 'exitCode == 0' }],
  async run(params, ctx): Promise<ExecResult> {
    const started = Date.now();
    const args: Parameters<typeof ctx.call<'guest-exec'>>[1] = { path: params.path, 'capture-output': params.capture };
    if (params.args.length > 0) args.arg = params.args;
    if (params.env) args.env = Object.entries(params.env).map(([k, v]) => `${k}=${reveal(v)}`);
    if (params.stdin !== undefined) args['input-data'] = Buffer.from(reveal(params.stdin)).toString('base64');
    const sensitive = Object.values(params.env ?? {}).some(isSecret) || (params.stdin !== undefined && isSecret(params.stdin));
    let pid: number;
    try {
      ({ pid } = await ctx.call('guest-exec', args, { sensitive }));
    } catch (err) {
      // A reply without a pid to poll: the program may be running, never start it twice.
      if (err instanceof ProtocolError && err.code === 'REPLY_SHAPE') throw notRetryable(err);
      throw err;
    }
    // From here the program runs: a retry would start it a second time.
    try {
      return await poll(pid, ctx, params.path, started);
    } catch (err) {
      throw notRetryable(err);
    }
  },
  report: {
    exitCode: (result) => finite(result.exitCode),
  },
});

async function poll(pid: number, ctx: StepContext, path: string, started: number): Promise<ExecResult> {
  const deadlinePassed = (): boolean => ctx.remaining() <= 0 || (ctx.signal.aborted && ctx.signal.reason instanceof TimeoutError);
  let delay = 10;
  for (;;) {
    let status: GuestExecStatus;
    try {
      status = await ctx.call('guest-exec-status', { pid });
    } catch (err) {
      if (err instanceof TimeoutError || deadlinePassed()) throw stillRunning(path, pid, started, err);
      throw withResult(err, { pid });
    }
    if (status.exited) return decodeExecStatus(pid, status, Date.now() - started);
    if (deadlinePassed()) throw stillRunning(path, pid, started);
    await ctx.sleep(delay);
    if (deadlinePassed()) throw stillRunning(path, pid, started);
    if (ctx.signal.aborted) throw withResult(abortError(ctx.signal), { pid });
    delay = Math.min(delay * 1.6, 500);
  }
}

function stillRunning(path: string, pid: number, started: number, cause?: unknown): TimeoutError {
  const ms = Date.now() - started;
  return new TimeoutError(`${path} (pid ${pid}) still running after ${formatElapsed(ms)}; the agent cannot stop it`, ms, { cause, result: { pid } });
}
