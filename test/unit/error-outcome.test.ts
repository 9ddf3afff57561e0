import { describe, expect, test } from '@jest/globals';
import {
  AgentError,
  CanceledError,
  isRetryable,
  LockedError,
  notRetryable,
  ProtocolError,
  QgaPlayError,
  ReportWriteError,
  resultOf,
  StepFailedError,
  TimeoutError,
  UnreachableError,
  UsageError,
  withResult,
  type UnreachableCode,
} from '../../src/errors.js';
import { EXIT, errorOutcome, exitCodeFor } from '../../src/exit-codes.js';
import { parsePlaybook } from '../../src/playbook/load.js';
import { statusOf } from '../../src/runner/outcome.js';
import { runPlaybook } from '../../src/runner/run.js';
import type { Transport } from '../../src/transport/transport.js';

const UNREACHABLE_CODES: UnreachableCode[] = [
  'AGENT_NOT_CONNECTED',
  'AGENT_TIMEOUT',
  'AGENT_DISAPPEARED',
  'AGENT_NOT_CONFIGURED',
  'DOMAIN_NOT_RUNNING',
  'NO_SUCH_DOMAIN',
  'CHANNEL_NOT_FOUND',
  'SOCKET_MISSING',
  'CONNECTION_REFUSED',
  'PERMISSION_DENIED',
  'DISCONNECTED',
  'LIBVIRT_UNAVAILABLE',
  'VIRSH_MISSING',
  'VIRSH_FAILED',
  'SSH_FAILED',
  'UNSUPPORTED_ROUTE',
  'TIMEOUT',
];

type Row = [what: string, err: unknown, status: 'failed' | 'unreachable' | 'timed-out' | 'canceled', exit: number];

/** Every error qga-play raises, by class and code, with what it means for a step and for a command. */
const TABLE: Row[] = [
  ...UNREACHABLE_CODES.map((code): Row => [`UnreachableError ${code}`, new UnreachableError('x', code), 'unreachable', EXIT.unreachable]),
  ['TimeoutError', new TimeoutError('x', 10), 'timed-out', EXIT.unreachable],
  ['ProtocolError PROTOCOL', new ProtocolError('x'), 'unreachable', EXIT.unreachable],
  ['ProtocolError REPLY_TOO_LARGE', new ProtocolError('x', 'REPLY_TOO_LARGE'), 'failed', EXIT.failed],
  ['ProtocolError REPLY_TOO_DEEP', new ProtocolError('x', 'REPLY_TOO_DEEP'), 'failed', EXIT.failed],
  // Refused before it was sent: the agent is fine, this request failed (run and agent agree on 1).
  ['ProtocolError REQUEST_TOO_LARGE', new ProtocolError('x', 'REQUEST_TOO_LARGE'), 'failed', EXIT.failed],
  ['AgentError', new AgentError('guest-ping', 'GenericError', 'no'), 'failed', EXIT.failed],
  ['StepFailedError STEP_FAILED', new StepFailedError('x'), 'failed', EXIT.failed],
  ['StepFailedError CLOCK_NOT_SYNCED', new StepFailedError('x', 'CLOCK_NOT_SYNCED'), 'failed', EXIT.failed],
  ['CanceledError', new CanceledError(), 'canceled', EXIT.interrupted],
  ['UsageError USAGE', new UsageError('x'), 'failed', EXIT.usage],
  ['UsageError REPORT_DIR_UNUSABLE', new UsageError('x', 'REPORT_DIR_UNUSABLE'), 'failed', EXIT.usage],
  ['LockedError', new LockedError('/r/.qga-play.lock', undefined, 0), 'failed', EXIT.locked],
  ['ReportWriteError', new ReportWriteError('x'), 'failed', EXIT.reportWrite],
  ['QgaPlayError (another code)', new QgaPlayError('x', 'SOMETHING'), 'failed', EXIT.failed],
  ['Error (not ours: a bug)', new TypeError('x'), 'failed', EXIT.failed],
  ['a thrown non-error', 'just a string', 'failed', EXIT.failed],
];

/** What `run` exits with when the worst VM's step ended with this status. */
const RUN_EXIT = { failed: EXIT.failed, unreachable: EXIT.unreachable, 'timed-out': EXIT.unreachable, canceled: EXIT.interrupted } as const;

describe('one mapping from error to outcome', () => {
  test.each(TABLE)('%s', (_what, err, status, exit) => {
    expect(errorOutcome(err)).toEqual({ status, exit });
    expect(exitCodeFor(err)).toBe(exit);
    // The runner's step status is the same mapping, unless the attempt's deadline or a cancel ended it.
    expect(statusOf(err, false, false)).toBe(status);
    expect(statusOf(err, true, false)).toBe('timed-out');
    expect(statusOf(err, true, true)).toBe('canceled');
  });

  test('what fails or makes unreachable a step makes a command exit the same way (run and agent agree)', () => {
    for (const [what, , status, exit] of TABLE) {
      if (exit === EXIT.usage || exit === EXIT.locked || exit === EXIT.reportWrite) continue;
      expect([what, RUN_EXIT[status]]).toEqual([what, exit]);
    }
  });

  test('the runner gives a step the status of the table', async () => {
    const rows = TABLE.filter(([, , status]) => status !== 'canceled');
    const targets = rows.map((_r, i) => `  - vm: v${i}\n    socket: /fake/v${i}.sock\n`).join('');
    const { playbook } = parsePlaybook(`name: t\ntargets:\n${targets}steps:\n  - ping\n`, '/tmp/t.yaml');
    const transportFor = (planned: { vm: string }): Transport => ({
      kind: 'socket',
      describe: planned.vm,
      request: () => Promise.reject(rows[Number(planned.vm.slice(1))]![1]),
      close: () => Promise.resolve(),
    });
    const result = await runPlaybook(playbook, { transportFor });
    expect(result.vms.map((v) => [v.vm, v.steps[0]?.status])).toEqual(rows.map(([, , status], i) => [`v${i}`, status]));
  });
});

describe('what errors carry are fields of the error classes', () => {
  test('retryable: true by default, false from the constructor or notRetryable()', () => {
    const err = new UnreachableError('x', 'DISCONNECTED');
    expect(err.retryable).toBe(true);
    expect(isRetryable(err)).toBe(true);
    expect(notRetryable(err)).toBe(err);
    expect(err.retryable).toBe(false);
    expect(isRetryable(err)).toBe(false);
    expect(new ProtocolError('x', 'PROTOCOL', { retryable: false }).retryable).toBe(false);
    // Not ours: no mark, and its step fails (never retried) anyway.
    expect(isRetryable(notRetryable(new Error('x')))).toBe(true);
    expect(Object.getOwnPropertySymbols(err)).toEqual([]);
  });

  test('result: from the constructor or withResult(), read by resultOf()', () => {
    expect(new StepFailedError('x', 'X', { result: { a: 1 } }).result).toEqual({ a: 1 });
    expect(new StepFailedError('x').result).toBeUndefined();
    const timeout = withResult(new TimeoutError('x', 5), { pid: 7 });
    expect(timeout.result).toEqual({ pid: 7 });
    expect(resultOf(timeout)).toEqual({ pid: 7 });
    expect(resultOf(new Error('x'))).toBeUndefined();
    expect(resultOf(undefined)).toBeUndefined();
  });

  test('LockedError is one of the named errors, with its file and holder', () => {
    const holder = { pid: 42, startedAt: '2024-01-01T00:00:00.000Z', hostname: 'h', argv: ['run', 'x.yaml'] };
    const err = new LockedError('/r/.qga-play.lock', holder, 1500);
    expect(err).toBeInstanceOf(QgaPlayError);
    expect(err.code).toBe('LOCKED');
    expect(err.holder).toEqual(holder);
    expect(err.message).toContain('after waiting 1.5 s: /r/.qga-play.lock is held by pid 42 on h');
  });
});
