import type { StepReport, VmReport } from '../runner/types.js';

function field(result: unknown, key: string): unknown {
  return typeof result === 'object' && result !== null ? (result as Record<string, unknown>)[key] : undefined;
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A time step's measured clock offset in ms: time-sync's `offsetBeforeMs`, time-get's `offsetMs`. */
export function clockOffsetMs(step: StepReport): { beforeMs: number; afterMs?: number } | undefined {
  if (step.kind === 'time-sync') {
    const beforeMs = finite(field(step.result, 'offsetBeforeMs'));
    if (beforeMs === undefined) return undefined;
    const afterMs = finite(field(step.result, 'offsetAfterMs'));
    return afterMs === undefined ? { beforeMs } : { beforeMs, afterMs };
  }
  if (step.kind === 'time-get') {
    const beforeMs = finite(field(step.result, 'offsetMs'));
    return beforeMs === undefined ? undefined : { beforeMs };
  }
  return undefined;
}

/**
 * What a step that ended ok still wants a person to see: a `measure-only` time-sync that found
 * the clock off by more than its threshold (and, by design, left it).
 */
export function stepWarning(step: StepReport): string | undefined {
  if (step.kind !== 'time-sync' || step.status !== 'ok') return undefined;
  const before = finite(field(step.result, 'offsetBeforeMs'));
  const threshold = finite(field(step.result, 'thresholdMs'));
  if (before === undefined || threshold === undefined || field(step.result, 'action') !== 'none' || threshold <= 0 || Math.abs(before) <= threshold) return undefined;
  return `clock off by ${formatOffset(before)}, above the threshold of ${formatOffset(threshold).slice(1)}; measure-only: not corrected`;
}

/** A time-sync's action for metrics: `set`, `none`, or `drift` (measure-only, above the threshold). */
export function syncAction(step: StepReport): 'set' | 'none' | 'drift' | undefined {
  if (step.kind !== 'time-sync') return undefined;
  const action = field(step.result, 'action');
  if (action === 'set') return 'set';
  if (action !== 'none') return undefined;
  return stepWarning(step) ? 'drift' : 'none';
}

/** The last clock offset a VM's time steps measured, in ms. */
export function vmClockOffsetMs(vm: VmReport): number | undefined {
  let offset: number | undefined;
  for (const step of vm.steps) offset = clockOffsetMs(step)?.beforeMs ?? offset;
  return offset;
}

/** An exec step's exit code, when it has one. */
export function exitCode(step: StepReport): number | undefined {
  return step.kind === 'exec' ? finite(field(step.result, 'exitCode')) : undefined;
}

/** True for a step outcome a person should look at. */
export function isProblem(status: StepReport['status']): boolean {
  return status !== 'ok' && status !== 'skipped';
}

/** `+12.3 ms`, `-1.250 s`: an offset with its sign. */
export function formatOffset(ms: number): string {
  const sign = ms < 0 ? '-' : '+';
  const abs = Math.abs(ms);
  return abs < 1000 ? `${sign}${abs.toFixed(1)} ms` : `${sign}${(abs / 1000).toFixed(3)} s`;
}

/** What matters in one step's outcome, in a few words: the offset, the exit code, or the error. */
export function stepDetail(step: StepReport): string {
  const code = exitCode(step);
  if (step.status === 'ok') {
    const warning = stepWarning(step);
    if (warning) return `WARNING: ${warning}`;
    const offset = clockOffsetMs(step);
    if (offset) return `offset ${formatOffset(offset.beforeMs)}${offset.afterMs === undefined ? '' : ` -> ${formatOffset(offset.afterMs)}`}`;
    if (code !== undefined) return `exit code ${code}`;
    return '';
  }
  if (step.status === 'failed' && code !== undefined && code !== 0) return `exit code ${code}`;
  return step.error?.message ?? '';
}

/** The first step that went wrong on a VM (not counting steps skipped because of it). */
export function firstProblem(vm: VmReport): StepReport | undefined {
  return vm.steps.find((s) => isProblem(s.status));
}

/** The key result of a VM for its line in a table: the first problem, else the clock offset or exit code. */
export function vmDetail(vm: VmReport): string {
  const problem = firstProblem(vm);
  if (problem) return `${problem.name}: ${stepDetail(problem) || problem.status}`;
  if (vm.status !== 'ok') return vm.steps.length === 0 ? `${vm.status}: no step ran (${vm.route})` : vm.status;
  const warned = vm.steps.find((s) => stepWarning(s) !== undefined);
  if (warned) return `${warned.name}: ${stepDetail(warned)}`;
  const timed = vm.steps.filter((s) => clockOffsetMs(s) !== undefined);
  const lastTimed = timed[timed.length - 1];
  if (lastTimed) return stepDetail(lastTimed);
  const execs = vm.steps.filter((s) => exitCode(s) !== undefined);
  const last = execs[execs.length - 1];
  if (last) return `exit code ${exitCode(last)}`;
  const ok = vm.steps.filter((s) => s.status === 'ok').length;
  return `${ok} step${ok === 1 ? '' : 's'} ok`;
}
