import { ReportWriteError } from '../errors.js';
import type { RunEvent, RunListener, RunResult } from '../runner/types.js';
import { redact } from '../playbook/redact.js';

/**
 * What shows or keeps a run: the human progress and table, `--format json`, the report
 * directory, the metrics file... It only listens (in the spirit of listr2's renderers and
 * Ansible's callback plugins): the runner never waits for it. A new output format is one
 * reporter and one line where the command lists its reporters.
 */
export interface Reporter {
  /** Each event of the run, in order, secrets already masked. */
  onEvent?(event: RunEvent): void;
  /**
   * Called once after the run ended (its `run-end` event was delivered), in the order the
   * reporters were given: prints or writes what the reporter keeps. A {@link ReportWriteError}
   * thrown here is reported and does not stop the reporters after it.
   */
  finish?(): Promise<void> | void;
}

/** Many reporters seen as one: what {@link reporters} returns. */
export interface ReporterSet {
  /** Subscribe this to the runner (`runPlaybook`'s `listener`). */
  listener: RunListener;
  /** Finishes every reporter in order; returns the write failures (empty when all went well). */
  finish(): Promise<ReportWriteError[]>;
}

/**
 * Fans the run's events out to `list`, masking `secrets` once per event before any reporter
 * sees it: no reporter redacts on its own.
 */
export function reporters(list: readonly Reporter[], options: { secrets?: readonly string[] } = {}): ReporterSet {
  const secrets = options.secrets ?? [];
  return {
    listener(raw: RunEvent) {
      const event = redact(raw, secrets);
      for (const reporter of list) reporter.onEvent?.(event);
    },
    async finish() {
      const failures: ReportWriteError[] = [];
      for (const reporter of list) {
        try {
          await reporter.finish?.();
        } catch (err) {
          if (!(err instanceof ReportWriteError)) throw err;
          failures.push(err);
        }
      }
      return failures;
    },
  };
}

/** Keeps the result of the run's `run-end` event, for reporters that work on the whole run. */
export function lastResult(): { onEvent(event: RunEvent): void; get(): RunResult } {
  let result: RunResult | undefined;
  return {
    onEvent(event) {
      if (event.type === 'run-end') result = event.result;
    },
    get() {
      if (!result) throw new Error('a reporter was finished before the run ended');
      return result;
    },
  };
}
