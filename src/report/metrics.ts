import { readFile } from 'node:fs/promises';
import { ReportWriteError } from '../errors.js';
import type { RunResult, StepStatus, VmStatus } from '../runner/types.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { fsReason } from '../util/fs-check.js';
import { clockOffsetMs, syncAction, vmClockOffsetMs } from './key-result.js';
import { redact } from '../playbook/redact.js';
import { lastResult, type Reporter } from './reporter.js';

const VM_STATUSES: readonly VmStatus[] = ['ok', 'failed', 'unreachable', 'canceled'];

/** A label value in the text exposition format: backslash, double quote and line feed escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * `text` as it can be written in UTF-8: a lone surrogate (which UTF-8 would turn into U+FFFD,
 * merging names that differ only there) becomes the text `\uD800`.
 */
export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, (ch) => `\\u${ch.charCodeAt(0).toString(16).toUpperCase()}`);
}

function labels(pairs: Record<string, string>): string {
  return `{${Object.entries(pairs)
    .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
    .join(',')}}`;
}

function number(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

const STEP_STATUSES: readonly StepStatus[] = ['ok', 'failed', 'unreachable', 'timed-out', 'skipped', 'canceled'];
const SYNC_ACTIONS = ['none', 'set', 'drift'] as const;
const LAST_SUCCESS = 'qga_play_last_success_timestamp_seconds';

/** Options of {@link renderMetrics}. */
export interface MetricsOptions {
  /** The `playbook` label (default: the result's playbook name). */
  playbook?: string;
  secrets?: string[];
  /**
   * When the last successful run ended (seconds since the epoch), from the previous metrics
   * file: carried over when this run is not a success, so an alert on its age still fires.
   */
  previousSuccessSeconds?: number;
}

/** True when a run is what exit 0 means: every VM ok, not interrupted. */
export function runSucceeded(result: RunResult): boolean {
  return !result.canceled && result.totals.ok === result.totals.vms;
}

/** `name`, or `name #2`, `#3`... from its second occurrence in `seen` on. */
function unique(seen: Set<string>, key: (name: string) => string, name: string): string {
  let label = name;
  for (let n = 2; seen.has(key(label)); n++) label = `${name} #${n}`;
  seen.add(key(label));
  return label;
}

/**
 * Prometheus text exposition of a run, for node_exporter's textfile collector. Per VM (labels
 * `playbook`, `vm`, `connect`): `qga_play_agent_up`, `qga_play_vm_status` (one series per
 * status, 1 for the VM's), `qga_play_step_status` (also `step`; one series per step status),
 * `qga_play_clock_offset_seconds` (as measured before any correction),
 * `qga_play_clock_offset_after_seconds` (after a time-sync set the clock) and
 * `qga_play_time_sync_action` (`none`, `set`, or `drift`: measure-only above the threshold).
 * Per run: `qga_play_run_duration_seconds`, `qga_play_last_run_timestamp_seconds`,
 * `qga_play_last_success_timestamp_seconds` (this run's end when it succeeded, else the
 * previous value). A VM that occurs twice with the same name and connection is labelled
 * `name #2`; a step name used twice in a playbook likewise.
 */
export function renderMetrics(result: RunResult, options: MetricsOptions = {}): string {
  const secrets = options.secrets ?? [];
  const r = secrets.length > 0 ? redact(result, secrets) : result;
  const playbook = wellFormed(redact(options.playbook ?? result.playbook, secrets));
  const seenVm = new Set<string>();
  const vms = r.vms.map((vm) => {
    // Told apart as written: two names that differ only in lone surrogates stay two series.
    const connect = wellFormed(vm.connect);
    const name = unique(seenVm, (n) => `${n}\0${connect}`, wellFormed(vm.vm));
    const seenStep = new Set<string>();
    const steps = vm.steps.map((step) => ({ step, name: unique(seenStep, (n) => n, wellFormed(step.name)) }));
    return { labels: { playbook, vm: name, connect }, vm, steps };
  });

  const out: string[] = [];
  const family = (name: string, help: string, samples: [Record<string, string>, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [l, v] of samples) out.push(`${name}${labels(l)} ${number(v)}`);
  };
  const optional = (name: string, help: string, samples: [Record<string, string>, number][]) => {
    if (samples.length > 0) family(name, help, samples);
  };
  type Samples = [Record<string, string>, number][];

  family(
    'qga_play_agent_up',
    'Whether the VM was reachable in the last run (0 when its agent or the VM could not be reached).',
    vms.map(({ labels: l, vm }) => [l, vm.status === 'unreachable' ? 0 : 1]),
  );
  family(
    'qga_play_vm_status',
    "The VM's outcome in the last run: 1 for its status, 0 for the others.",
    vms.flatMap(({ labels: l, vm }) => VM_STATUSES.map((status): Samples[number] => [{ ...l, status }, vm.status === status ? 1 : 0])),
  );
  family(
    'qga_play_step_status',
    "Each step's outcome on the VM in the last run: 1 for its status, 0 for the others.",
    vms.flatMap(({ labels: l, steps }) =>
      steps.flatMap(({ step, name }) => STEP_STATUSES.map((status): Samples[number] => [{ ...l, step: name, status }, step.status === status ? 1 : 0])),
    ),
  );
  const before: Samples = [];
  const after: Samples = [];
  const actions: Samples = [];
  for (const { labels: l, vm } of vms) {
    const ms = vmClockOffsetMs(vm);
    if (ms !== undefined) before.push([l, ms / 1000]);
    let afterMs: number | undefined;
    let action: (typeof SYNC_ACTIONS)[number] | undefined;
    for (const step of vm.steps) {
      afterMs = clockOffsetMs(step)?.afterMs ?? afterMs;
      action = syncAction(step) ?? action;
    }
    if (afterMs !== undefined) after.push([l, afterMs / 1000]);
    if (action !== undefined) for (const a of SYNC_ACTIONS) actions.push([{ ...l, action: a }, a === action ? 1 : 0]);
  }
  optional('qga_play_clock_offset_seconds', 'Guest clock minus host clock as last measured by a time step (before any correction).', before);
  optional('qga_play_clock_offset_after_seconds', 'Guest clock minus host clock measured after a time-sync set the clock.', after);
  optional('qga_play_time_sync_action', "What the VM's last time-sync did: 1 for none, set, or drift (measure-only and above the threshold), 0 for the others.", actions);
  family('qga_play_run_duration_seconds', 'How long the last run took.', [[{ playbook }, r.durationMs / 1000]]);
  const endedMs = Date.parse(r.startedAt) + r.durationMs;
  const ended = Number.isFinite(endedMs) ? endedMs / 1000 : NaN;
  family('qga_play_last_run_timestamp_seconds', 'When the last run ended, in seconds since the Unix epoch.', [[{ playbook }, ended]]);
  const success = runSucceeded(result) ? ended : options.previousSuccessSeconds;
  optional(LAST_SUCCESS, 'When the last run in which every VM was ok ended, in seconds since the Unix epoch (alert on its age).', success === undefined ? [] : [[{ playbook }, success]]);
  return `${out.join('\n')}\n`;
}

/**
 * The last-success timestamp of `playbook` in a metrics file written before, or undefined
 * (no file, no such line, unreadable).
 */
export async function readPreviousSuccess(file: string, options: { playbook: string; secrets?: string[] }): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const prefix = `${LAST_SUCCESS}${labels({ playbook: redact(options.playbook, options.secrets ?? []) })} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  const value = line === undefined ? NaN : Number(line.slice(prefix.length));
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

/** Writes a metrics file atomically (node_exporter never reads a half-written one). */
export async function writeMetrics(file: string, text: string): Promise<void> {
  await writeFileAtomic(file, text);
}

/**
 * The metrics file as a {@link Reporter}: when the run has ended, {@link renderMetrics} written
 * atomically to `file`, the last-success time carried over from the file's previous content
 * when this run is not a success. A failure is a {@link ReportWriteError}.
 */
export function metricsReporter(options: { file: string }): Reporter {
  const run = lastResult();
  return {
    onEvent: run.onEvent,
    async finish() {
      const result = run.get();
      // A failed run keeps the previous last-success time: the alert on its age keeps counting.
      const previousSuccessSeconds = await readPreviousSuccess(options.file, { playbook: result.playbook });
      try {
        await writeMetrics(options.file, renderMetrics(result, { previousSuccessSeconds }));
      } catch (err) {
        throw new ReportWriteError(`cannot write the metrics file ${options.file}: ${fsReason(err)}`, { cause: err });
      }
    },
  };
}
