import type { StepKind } from '../playbook/types.js';
import type { TransportKind } from '../transport/transport.js';
import type { Route } from '../inventory/route.js';

/** How one step ended. */
export type StepStatus =
  /** The step ran and did what it should. */
  | 'ok'
  /** The step ran and failed, or an expectation did not hold. */
  | 'failed'
  /** The agent or the VM could not be reached. */
  | 'unreachable'
  /** The step's deadline passed. */
  | 'timed-out'
  /** Not run, because an earlier step on the VM was unreachable or failed. */
  | 'skipped'
  /** Not finished because the run was canceled. */
  | 'canceled';

/** How one VM ended: the worst of its steps (failed > unreachable and timed-out > canceled > ok). */
export type VmStatus = 'ok' | 'failed' | 'unreachable' | 'canceled';

/** An error in a report: a stable code and a message for a person. */
export interface ReportError {
  code: string;
  message: string;
}

/** One step's outcome on one VM. */
export interface StepReport {
  name: string;
  kind: StepKind;
  status: StepStatus;
  /** ISO 8601; absent for skipped steps. */
  startedAt?: string;
  durationMs: number;
  /** Attempts made (0 when skipped). */
  attempts: number;
  /** In reports only: what an ok step still wants a person to see (a measure-only drift). */
  warning?: string;
  /** The step's data: exec's exit code and output, a time-sync's offsets, an agent reply. */
  result?: unknown;
  error?: ReportError;
  /** 1-based line of the step in the playbook. */
  line: number;
}

/** Everything one VM's run produced: written as `<vm>.json`. */
export interface VmReport {
  vm: string;
  connect: string;
  transport: TransportKind | 'none';
  /** How the agent was reached, for a person (socket path, channel). */
  route: string;
  status: VmStatus;
  startedAt: string;
  durationMs: number;
  steps: StepReport[];
}

/** Totals of a run, by VM status. */
export interface RunTotals {
  vms: number;
  ok: number;
  failed: number;
  unreachable: number;
  canceled: number;
}

/** The outcome of a whole run. */
export interface RunResult {
  playbook: string;
  /** Absolute path of the playbook file. */
  file: string;
  startedAt: string;
  durationMs: number;
  totals: RunTotals;
  vms: VmReport[];
  warnings: string[];
  /** The run was interrupted (SIGINT/SIGTERM). */
  canceled: boolean;
}

/** One resolved target: a VM and how to reach its agent. */
export interface PlannedVm {
  vm: string;
  connect: string;
  channel?: string;
  socket?: string;
  ssh?: string;
  /** How the agent will be reached, for a person. */
  route: string;
  /** The route itself, decided once: the run's transport for this VM is built from it. */
  via: Route;
  transport: TransportKind;
  /** Line of the `targets` entry that named it. */
  line: number;
}

/** What the runner tells its subscribers (reporters never drive the run). */
export type RunEvent =
  | { type: 'run-start'; playbook: string; vms: PlannedVm[]; steps: { name: string; kind: StepKind }[]; concurrency: number; startedAt: string }
  | { type: 'warning'; message: string }
  | { type: 'vm-start'; vm: string }
  | { type: 'step-start'; vm: string; step: string; index: number; attempt: number }
  | { type: 'step-end'; vm: string; index: number; report: StepReport }
  | { type: 'vm-end'; report: VmReport }
  | { type: 'run-end'; result: RunResult };

export type RunListener = (event: RunEvent) => void;
