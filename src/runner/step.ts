import { isRetryable, resultOf, TimeoutError } from '../errors.js';
import { evaluateExpectations } from '../playbook/expect.js';
import type { StepSpec } from '../playbook/types.js';
import { disabledMessage, StepContext, type DomainRef, type VmFacts } from '../steps/context.js';
import { stepDefinition } from '../steps/registry.js';
import type { Transport } from '../transport/transport.js';
import { formatElapsed } from '../util/elapsed.js';
import { sleep } from '../util/sleep.js';
import { reportError, retryable, statusOf } from './outcome.js';
import type { RunListener, StepReport } from './types.js';

/** What a VM's steps share. */
export interface VmRunContext {
  vm: string;
  index: number;
  transport: Transport;
  domain?: DomainRef;
  facts: VmFacts;
  /** The run's cancel signal. */
  signal: AbortSignal;
  emit: RunListener;
  /** The playbook's secret values: masked in what a step's messages quote of its result. */
  secrets: readonly string[];
}

/** Commands of the step that the agent reported disabled or missing (when guest-info was read). */
function unavailableCommands(spec: StepSpec, facts: VmFacts): string[] {
  if (!facts.info) return [];
  const commands = stepDefinition(spec.kind).commands(spec.params as never);
  return commands.filter((name) => !facts.info!.supported_commands.some((c) => c.name === name && c.enabled));
}

/**
 * Runs one step on one VM: each attempt has its own deadline; unreachable and timed-out
 * attempts are retried (never after a cancel); the result is checked against `expect`.
 */
export async function runStep(spec: StepSpec, index: number, vm: VmRunContext): Promise<StepReport> {
  const definition = stepDefinition(spec.kind);
  const startedAt = new Date();
  const base = { name: spec.name, kind: spec.kind, startedAt: startedAt.toISOString(), line: spec.line };
  const missing = unavailableCommands(spec, vm.facts);
  if (missing.length > 0) {
    return {
      ...base,
      status: 'failed',
      durationMs: 0,
      attempts: 0,
      error: { code: 'COMMAND_DISABLED', message: `${disabledMessage(missing)} (guest-info says so)` },
    };
  }
  let attempts = 0;
  for (;;) {
    attempts++;
    vm.emit({ type: 'step-start', vm: vm.vm, step: spec.name, index, attempt: attempts });
    const controller = new AbortController();
    const forward = (): void => controller.abort(vm.signal.reason);
    vm.signal.addEventListener('abort', forward, { once: true });
    if (vm.signal.aborted) forward();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new TimeoutError(`step ${spec.name} timed out after ${formatElapsed(spec.timeoutMs)}`, spec.timeoutMs));
    }, spec.timeoutMs);
    const ctx = new StepContext({ vm: vm.vm, transport: vm.transport, signal: controller.signal, deadline: Date.now() + spec.timeoutMs, domain: vm.domain, facts: vm.facts });
    let report: StepReport;
    let mayRetry = true;
    try {
      const result = await definition.run(spec.params as never, ctx);
      const checks = spec.expect.length > 0 ? spec.expect : (definition.defaultExpect ?? []);
      const failures = evaluateExpectations(checks, result, vm.secrets);
      report = { ...base, status: failures.length > 0 ? 'failed' : 'ok', durationMs: Date.now() - startedAt.getTime(), attempts, result };
      if (failures.length > 0) report.error = { code: 'EXPECTATION_FAILED', message: failures.join('; ') };
    } catch (err) {
      const status = statusOf(err, timedOut, vm.signal.aborted);
      const cause = timedOut && !(err instanceof TimeoutError) ? controller.signal.reason : err;
      report = { ...base, status, durationMs: Date.now() - startedAt.getTime(), attempts, error: reportError(cause) };
      mayRetry = isRetryable(err);
      const partial = resultOf(err);
      if (partial !== undefined) report.result = partial;
    } finally {
      clearTimeout(timer);
      vm.signal.removeEventListener('abort', forward);
    }
    if (retryable(report.status) && mayRetry && attempts <= spec.retries && !vm.signal.aborted) {
      await sleep(spec.retryDelayMs, vm.signal);
      if (!vm.signal.aborted) continue;
    }
    return report;
  }
}
