import type { StepReport, VmReport } from '../runner/types.js';
import { formatOffset } from '../steps/clock.js';
import type { ClockOffset, KindReport } from '../steps/kind.js';
import { isStepKind, stepDefinition } from '../steps/registry.js';

export { formatOffset };

/** The reporter-visible fields of a step's result, read through its kind's own result type. */
function kindReport(step: StepReport): KindReport<unknown> | undefined {
  if (typeof step.result !== 'object' || step.result === null || !isStepKind(step.kind)) return undefined;
  return stepDefinition(step.kind).report as KindReport<unknown> | undefined;
}

/** A time step's measured clock offset in ms (time-sync: before and after; time-get: the one measured). */
export function clockOffsetMs(step: StepReport): ClockOffset | undefined {
  return kindReport(step)?.clockOffsetMs?.(step.result as object);
}

/**
 * What a step that ended ok still wants a person to see: a `measure-only` time-sync that found
 * the clock off by more than its threshold (and, by design, left it).
 */
export function stepWarning(step: StepReport): string | undefined {
  if (step.status !== 'ok') return undefined;
  return kindReport(step)?.warning?.(step.result as object);
}

/** A time-sync's action for metrics: `set`, `none`, or `drift` (measure-only, above the threshold). */
export function syncAction(step: StepReport): 'set' | 'none' | 'drift' | undefined {
  const action = kindReport(step)?.syncAction?.(step.result as object);
  // Drift is what an ok step warns of; a failed one left the clock as it was.
  return action === 'drift' && step.status !== 'ok' ? 'none' : action;
}

/** The last clock offset a VM's time steps measured, in ms. */
export function vmClockOffsetMs(vm: VmReport): number | undefined {
  let offset: number | undefined;
  for (const step of vm.steps) offset = clockOffsetMs(step)?.beforeMs ?? offset;
  return offset;
}

/** An exec step's exit code, when it has one. */
export function exitCode(step: StepReport): number | undefined {
  return kindReport(step)?.exitCode?.(step.result as object);
}

/** True for a step outcome a person should look at. */
export function isProblem(status: StepReport['status']): boolean {
  return status !== 'ok' && status !== 'skipped';
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
