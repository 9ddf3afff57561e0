import { collectSecrets } from '../playbook/redact.js';
import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import { CanceledError, errorMessage } from '../errors.js';
import type { Playbook } from '../playbook/types.js';
import { call, type Transport } from '../transport/transport.js';
import { channelSocketOf } from '../inventory/channels.js';
import { TransportProvider, type ProviderSettings } from '../inventory/provider.js';
import { reportError, statusOf, vmStatus } from './outcome.js';
import { runStep, type VmRunContext } from './step.js';
import { resolveTargets, sessionDemand } from './targets.js';
import { parseLimit } from './limit.js';
import type { PlannedVm, RunListener, RunResult, RunTotals, StepReport, VmReport } from './types.js';

/** Options of {@link runPlaybook}. */
export interface RunOptions {
  /** Cancels the run: in-flight steps end as canceled, the rest are not started. */
  signal?: AbortSignal;
  /** Overrides the playbook's concurrency. */
  concurrency?: number;
  /** Only these VMs: globs separated by commas, `!GLOB` excludes, `&GLOB` requires (as Ansible's --limit). */
  limit?: string;
  /** Receives the run's events (progress, reports). */
  listener?: RunListener;
  /** The virsh binary (default: `virsh` on PATH). */
  virsh?: string;
  /** Overrides the playbook's `virsh.mode`. */
  virshMode?: ProviderSettings['virshMode'];
  /** Overrides the playbook's `virsh.sessions`. */
  virshSessions?: number;
  /** Deadline for libvirt lookups (virsh list, dumpxml), ms. */
  lookupTimeoutMs?: number;
  /** Reaches the agents; default: a provider of the run's own, closed when the run ends. */
  provider?: TransportProvider;
  /** Builds the transport of a VM (tests inject fakes); default: the provider's, by the planned route. */
  transportFor?: (planned: PlannedVm, signal: AbortSignal) => Transport;
}

/** The provider a run uses: the caller's, or one of its own built from the playbook and options. */
function providerFor(playbook: Playbook, options: RunOptions): { provider: TransportProvider; owned: boolean } {
  if (options.provider) return { provider: options.provider, owned: false };
  const settings: ProviderSettings = {
    virsh: options.virsh,
    virshMode: options.virshMode ?? playbook.virsh.mode,
    virshSessions: options.virshSessions ?? playbook.virsh.sessions,
  };
  return { provider: new TransportProvider(settings, Math.max(1, options.concurrency ?? playbook.concurrency)), owned: true };
}

function skippedOrCanceled(playbook: Playbook, from: number, status: 'skipped' | 'canceled'): StepReport[] {
  return playbook.steps.slice(from).map((s) => ({ name: s.name, kind: s.kind, status, durationMs: 0, attempts: 0, line: s.line }));
}

async function runVm(playbook: Playbook, planned: PlannedVm, index: number, options: RunOptions, provider: TransportProvider, emit: RunListener, secrets: readonly string[]): Promise<VmReport> {
  const signal = options.signal!;
  const startedAt = new Date();
  const finish = (steps: StepReport[]): VmReport => {
    const report: VmReport = {
      vm: planned.vm,
      connect: planned.connect,
      transport: planned.transport,
      route: planned.route,
      status: vmStatus(steps),
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      steps,
    };
    emit({ type: 'vm-end', report });
    return report;
  };
  if (signal.aborted) return finish(skippedOrCanceled(playbook, 0, 'canceled'));
  emit({ type: 'vm-start', vm: planned.vm });
  const transport = options.transportFor?.(planned, signal) ?? provider.transport(planned.via);
  const vm: VmRunContext = {
    vm: planned.vm,
    index,
    transport,
    domain: planned.socket ? undefined : { uri: planned.connect, name: planned.vm, virsh: options.virsh, run: provider.runVirsh },
    facts: {},
    signal,
    emit,
    secrets,
  };
  const steps: StepReport[] = [];
  try {
    for (let i = 0; i < playbook.steps.length; i++) {
      const spec = playbook.steps[i]!;
      if (signal.aborted) {
        steps.push(...skippedOrCanceled(playbook, i, 'canceled'));
        break;
      }
      const report = await runStep(spec, i, vm);
      steps.push(report);
      emit({ type: 'step-end', vm: planned.vm, index: i, report });
      const stop = report.status === 'unreachable' || report.status === 'canceled' || (report.status !== 'ok' && !spec.continueOnError);
      if (stop) {
        steps.push(...skippedOrCanceled(playbook, i + 1, signal.aborted ? 'canceled' : 'skipped'));
        break;
      }
    }
  } finally {
    if (vm.facts.frozen) steps.push(await thawLeftFrozen(playbook, vm, transport));
    await transport.close();
  }
  return finish(steps);
}

const THAW_TIMEOUT_MS = 10_000;

/** A guest must not stay frozen because a later step failed or the run was canceled. */
async function thawLeftFrozen(playbook: Playbook, vm: VmRunContext, transport: Transport): Promise<StepReport> {
  const freeze = playbook.steps.find((s) => s.kind === 'fsfreeze');
  const started = new Date();
  const report: StepReport = {
    name: 'fsthaw (automatic: the guest was left frozen)',
    kind: 'fsthaw',
    status: 'ok',
    startedAt: started.toISOString(),
    durationMs: 0,
    attempts: 1,
    line: freeze?.line ?? 0,
  };
  try {
    // Not the run's signal: after a cancel the thaw matters most.
    report.result = { thawed: await call(transport, 'guest-fsfreeze-thaw', undefined, { timeoutMs: THAW_TIMEOUT_MS }) };
  } catch (err) {
    report.status = statusOf(err, false, false);
    report.error = reportError(err);
  }
  report.durationMs = Date.now() - started.getTime();
  vm.emit({ type: 'step-end', vm: vm.vm, index: playbook.steps.length, report });
  return report;
}

export function totalsOf(vms: VmReport[]): RunTotals {
  const totals: RunTotals = { vms: vms.length, ok: 0, failed: 0, unreachable: 0, canceled: 0 };
  for (const vm of vms) totals[vm.status]++;
  return totals;
}

/**
 * Runs a playbook: steps in order on each VM, VMs concurrently (at most `concurrency` at once),
 * one transport per VM for the whole run. Never throws for what happens on a VM: that is in
 * the VM's report.
 */
export async function runPlaybook(playbook: Playbook, runOptions: RunOptions = {}): Promise<RunResult> {
  // Every in-flight step listens on the one run signal: many listeners are expected.
  const signal = runOptions.signal ?? new AbortController().signal;
  setMaxListeners(0, signal);
  const options: RunOptions = { ...runOptions, signal };
  const emit: RunListener = options.listener ?? (() => undefined);
  const started = new Date();
  const { provider, owned } = providerFor(playbook, options);
  try {
    return await runWith(playbook, options, provider, emit, started);
  } finally {
    // Every session and connection of the run ends with it, also after a cancel.
    if (owned) await provider.close();
  }
}

async function runWith(playbook: Playbook, options: RunOptions, provider: TransportProvider, emit: RunListener, started: Date): Promise<RunResult> {
  // A --limit that cannot be read is a usage error before anything starts; then the sessions
  // the VMs will use start, while the targets are looked up.
  const admits = options.limit === undefined ? undefined : parseLimit(options.limit);
  if (!options.transportFor) provider.warmSessions(sessionDemand(playbook.targets, admits));
  const lookup = { ...provider.lookup(options.lookupTimeoutMs ?? 30_000, options.signal), limit: options.limit, provider };
  const resolved = await resolveTargets(playbook, lookup);
  const planned = resolved.vms;
  const warnings = [...resolved.warnings];
  // A glob whose connection could not be listed is one unreachable entry, named by the glob.
  const failedLookups: VmReport[] = resolved.unresolved.map(({ target, error }) => {
    warnings.push(`${playbook.file}:${target.line}: cannot list the domains of ${target.connect}: ${errorMessage(error)}`);
    const first = playbook.steps[0]!;
    return {
      vm: target.vm,
      connect: target.connect,
      transport: 'none',
      route: 'virsh list (failed)',
      status: 'unreachable',
      startedAt: started.toISOString(),
      durationMs: Date.now() - started.getTime(),
      steps: [
        { name: first.name, kind: first.kind, status: 'unreachable', durationMs: 0, attempts: 1, error: reportError(error), line: first.line },
        ...skippedOrCanceled(playbook, 1, 'skipped'),
      ],
    };
  });
  for (const message of warnings) emit({ type: 'warning', message });
  const concurrency = Math.max(1, options.concurrency ?? playbook.concurrency);
  emit({
    type: 'run-start',
    playbook: playbook.name,
    vms: planned,
    steps: playbook.steps.map((s) => ({ name: s.name, kind: s.kind })),
    concurrency,
    startedAt: started.toISOString(),
  });
  const limit = pLimit(concurrency);
  const secrets = collectSecrets(playbook.steps.map((s) => s.params));
  const vms = await Promise.all(planned.map((p, i) => limit(() => runVm(playbook, p, i, options, provider, emit, secrets))));
  vms.push(...failedLookups);
  const result: RunResult = {
    playbook: playbook.name,
    file: playbook.file,
    startedAt: started.toISOString(),
    durationMs: Date.now() - started.getTime(),
    totals: totalsOf(vms),
    vms,
    warnings,
    canceled: options.signal?.aborted ?? false,
  };
  emit({ type: 'run-end', result });
  return result;
}

/** The plan of a dry run: targets resolved, sockets of non-standard channels looked up. */
export async function planRun(playbook: Playbook, options: RunOptions = {}): Promise<{ vms: (PlannedVm & { problem?: string })[]; warnings: string[] }> {
  const { provider, owned } = providerFor(playbook, options);
  try {
    return await planWith(playbook, options, provider);
  } finally {
    if (owned) await provider.close();
  }
}

async function planWith(playbook: Playbook, options: RunOptions, provider: TransportProvider): Promise<{ vms: (PlannedVm & { problem?: string })[]; warnings: string[] }> {
  const lookup = { ...provider.lookup(options.lookupTimeoutMs ?? 30_000, options.signal), limit: options.limit, provider };
  const { vms, warnings, unresolved } = await resolveTargets(playbook, lookup);
  const limit = pLimit(Math.max(1, options.concurrency ?? playbook.concurrency));
  const checked = await Promise.all(
    vms.map((vm) =>
      limit(async () => {
        if (vm.via.kind === 'none') return { ...vm, problem: vm.via.reason };
        if (vm.socket || vm.via.kind === 'virsh') return vm;
        try {
          const channel = await channelSocketOf(vm.connect, vm.vm, vm.channel!, lookup);
          const where = vm.via.kind === 'ssh-socket' ? ` on ${vm.via.ssh.host} via ssh` : '';
          return { ...vm, route: `socket ${channel.path}${where} (channel ${channel.name}${channel.state ? `, ${channel.state}` : ''})` };
        } catch (err) {
          if (err instanceof CanceledError) throw err;
          return { ...vm, problem: errorMessage(err) };
        }
      }),
    ),
  );
  const failed = unresolved.map(({ target, error }) => ({
    vm: target.vm,
    connect: target.connect,
    route: 'virsh list',
    via: provider.route({ uri: target.connect, domain: target.vm }),
    transport: 'virsh' as const,
    line: target.line,
    problem: `cannot list domains: ${errorMessage(error)}`,
  }));
  return { vms: [...checked, ...failed], warnings };
}
