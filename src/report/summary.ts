import type { RunResult, RunTotals, VmReport, VmStatus } from '../runner/types.js';
import { stepWarning } from './key-result.js';
import { jsonVisible } from '../util/visible.js';
import { redact } from '../playbook/redact.js';
import { lastResult, type Reporter } from './reporter.js';

/** One VM's line in `summary.json`. */
export interface SummaryVm {
  vm: string;
  connect: string;
  status: VmStatus;
  /** File name of the VM's report in the same directory. */
  report: string;
}

/**
 * Version of the shapes of `summary.json` and of `run --format json`: raised when a field is
 * removed or changes meaning (adding a field does not raise it).
 */
export const REPORT_FORMAT_VERSION = 1;

/** `summary.json`: the run and where each VM's report is. */
export interface Summary {
  /** {@link REPORT_FORMAT_VERSION}. */
  version: number;
  playbook: string;
  startedAt: string;
  durationMs: number;
  canceled: boolean;
  totals: RunTotals;
  vms: SummaryVm[];
  warnings: string[];
}

/** What `qga-play run --format json` prints: the summary with every VM's report inline. */
export interface JsonSummary {
  /** {@link REPORT_FORMAT_VERSION}. */
  version: number;
  playbook: string;
  startedAt: string;
  durationMs: number;
  canceled: boolean;
  totals: RunTotals;
  vms: VmReport[];
  warnings: string[];
}

const VM_KEYS = ['vm', 'connect', 'transport', 'route', 'status', 'startedAt', 'durationMs', 'steps'];
const STEP_KEYS = ['name', 'kind', 'status', 'warning', 'startedAt', 'durationMs', 'attempts', 'line', 'result', 'error'];

function ordered<T extends object>(value: T, keys: readonly string[]): T {
  const v = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of keys) if (v[k] !== undefined) out[k] = v[k];
  for (const [k, inner] of Object.entries(v)) if (!(k in out) && inner !== undefined) out[k] = inner;
  return out as T;
}

/** A VM report with its fields in a fixed order (the same in every file, whatever built it). */
export function orderedVmReport(vm: VmReport): VmReport {
  // An ok step a person should still look at carries `warning` (a measure-only drift).
  return ordered({ ...vm, steps: vm.steps.map((s) => ordered({ ...s, warning: stepWarning(s) }, STEP_KEYS)) }, VM_KEYS);
}

/** The summary of an (already redacted) result; `files[i]` is the report file of `result.vms[i]`. */
export function buildSummary(result: RunResult, files: readonly string[]): Summary {
  return {
    version: REPORT_FORMAT_VERSION,
    playbook: result.playbook,
    startedAt: result.startedAt,
    durationMs: result.durationMs,
    canceled: result.canceled,
    totals: result.totals,
    vms: result.vms.map((vm, i) => ({ vm: vm.vm, connect: vm.connect, status: vm.status, report: files[i] ?? '' })),
    warnings: result.warnings,
  };
}

/**
 * What `qga-play run --format json` prints: JSON of the summary with every VM's full report,
 * secrets as `***`. No final newline: the caller ends the line.
 */
export function renderJsonSummary(result: RunResult, options: { secrets?: string[] } = {}): string {
  return jsonSummaryText(redact(result, options.secrets ?? []));
}

function jsonSummaryText(r: RunResult): string {
  const out: JsonSummary = {
    version: REPORT_FORMAT_VERSION,
    playbook: r.playbook,
    startedAt: r.startedAt,
    durationMs: r.durationMs,
    canceled: r.canceled,
    totals: r.totals,
    vms: r.vms.map(orderedVmReport),
    warnings: r.warnings,
  };
  return JSON.stringify(out, null, 2);
}

/**
 * `--format json` as a {@link Reporter}: when the run has ended, {@link renderJsonSummary}'s text
 * (no terminal control character left raw in it) and a line feed, passed to `write`.
 */
export function jsonReporter(options: { write: (text: string) => void }): Reporter {
  const run = lastResult();
  return {
    onEvent: run.onEvent,
    finish() {
      options.write(`${jsonVisible(jsonSummaryText(run.get()))}\n`);
    },
  };
}
