/**
 * qga-play as a library: load a playbook (or parse one), run it against its VMs, and get the
 * results and the run's events. What the `qga-play` command does, without the command line:
 *
 * ```ts
 * import { loadPlaybook, runPlaybook } from 'qga-play';
 * const { playbook } = await loadPlaybook('timesync.yaml');
 * const result = await runPlaybook(playbook, { listener: (event) => console.log(event.type) });
 * console.log(result.totals); // { vms, ok, failed, unreachable, canceled }
 * ```
 *
 * `runPlaybook` never throws for what happens on a VM (that is in the VM's report); a bad
 * playbook makes `loadPlaybook`/`parsePlaybook` throw a {@link PlaybookError} (a
 * {@link UsageError}). {@link errorOutcome} says what any error means as a step status and as
 * an exit status. Reporters (`reporters()` with `reportDirReporter`, `metricsReporter`,
 * `jsonReporter`, `createHumanReporter`, or your own {@link Reporter}) turn the events into
 * the command's outputs, secrets masked once before any of them sees the data.
 */
export { loadPlaybook, parsePlaybook, PlaybookError, type LoadOptions, type LoadResult, type Playbook, type StepKind, type StepSpec } from './playbook/index.js';
export { runPlaybook, planRun, type RunOptions } from './runner/run.js';
export type { PlannedVm, ReportError, RunEvent, RunListener, RunResult, RunTotals, StepReport, StepStatus, VmReport, VmStatus } from './runner/types.js';
export {
  AgentError,
  CanceledError,
  LockedError,
  ProtocolError,
  QgaPlayError,
  ReportWriteError,
  StepFailedError,
  TimeoutError,
  UnreachableError,
  UsageError,
  isRetryable,
  resultOf,
  type LockHolder,
  type QgaErrorOptions,
  type UnreachableCode,
} from './errors.js';
export { EXIT, errorOutcome, type ErrorOutcome, type ExitCode } from './exit-codes.js';
export { TransportProvider, type ProviderSettings } from './inventory/provider.js';
export type { Transport } from './transport/transport.js';
export {
  reporters,
  reportDirReporter,
  metricsReporter,
  jsonReporter,
  createHumanReporter,
  acquireLock,
  type Reporter,
  type ReporterSet,
  type HumanReporterOptions,
} from './report/index.js';
