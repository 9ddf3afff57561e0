import { setMaxListeners } from 'node:events';
import { CanceledError, UsageError } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import { parseDuration } from '../playbook/duration.js';

/** Where a command writes; tests may replace it. */
export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  stderrStream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
}

export const defaultIo: Io = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  stderrStream: process.stderr,
  env: process.env,
};

export { defaultUri } from '../util/uri.js';

/** Longest timer Node keeps: a longer one fires at once. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export function parseSeconds(value: unknown, option: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`Expected --${option} to be a positive number of seconds, got ${JSON.stringify(value)}`);
  if (n * 1000 > MAX_TIMEOUT_MS) {
    throw new UsageError(`Expected --${option} to be at most ${Math.floor(MAX_TIMEOUT_MS / 1000)} seconds (24.8 days), got ${JSON.stringify(value)}`);
  }
  return n * 1000;
}

/** A size in bytes given on the command line: a positive whole number. */
export function parseByteCount(value: unknown, option: string): number {
  const n = Number(value);
  if (typeof value === 'boolean' || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`Expected --${option} to be a positive whole number of bytes, got ${JSON.stringify(value)}`);
  return n;
}

export function parseDurationOption(value: unknown, option: string): number {
  const ms = parseDuration(value as string | number);
  if (ms === null || ms < 0) throw new UsageError(`Expected --${option} to be a duration such as 500ms, 30s, 2m, got ${JSON.stringify(value)}`);
  return ms;
}

export function parsePositiveInt(value: unknown, option: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`Expected --${option} to be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

/** One AbortSignal for the whole process: SIGINT and SIGTERM abort it; a second one exits. */
export function interruptSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  // Every subprocess and socket read of the run listens on this one signal.
  setMaxListeners(0, controller.signal);
  const onSignal = (name: string) => () => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    controller.abort(new CanceledError(`interrupted by ${name}`));
  };
  const int = onSignal('SIGINT');
  const term = onSignal('SIGTERM');
  process.on('SIGINT', int);
  process.on('SIGTERM', term);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', int);
      process.off('SIGTERM', term);
    },
  };
}
