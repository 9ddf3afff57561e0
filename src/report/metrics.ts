import type { RunResult, VmStatus } from '../runner/types.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { vmClockOffsetMs } from './key-result.js';
import { redact } from './redact.js';

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

/**
 * Prometheus text exposition of a run, for node_exporter's textfile collector: per VM
 * `qga_play_agent_up`, `qga_play_vm_status` (one series per status, 1 for the VM's) and
 * `qga_play_clock_offset_seconds` (when a time step measured it), per run
 * `qga_play_run_duration_seconds` and `qga_play_last_run_timestamp_seconds`. Every series has a
 * `playbook` label (default: the result's playbook name); per-VM series a `vm` label. A VM name
 * that occurs twice (same domain name under two libvirt URIs) is labelled `name (connect)` from
 * its second occurrence on, so no series is duplicated.
 */
export function renderMetrics(result: RunResult, options: { playbook?: string; secrets?: string[] } = {}): string {
  const secrets = options.secrets ?? [];
  const r = redact(result, secrets);
  const playbook = wellFormed(redact(options.playbook ?? result.playbook, secrets));
  const seen = new Set<string>();
  const vms = r.vms.map((vm) => {
    // Told apart as written: two names that differ only in lone surrogates stay two series.
    const name = wellFormed(vm.vm);
    const connect = wellFormed(vm.connect);
    let label = name;
    if (seen.has(label)) label = `${name} (${connect})`;
    for (let n = 2; seen.has(label); n++) label = `${name} (${connect}) #${n}`;
    seen.add(label);
    return { label, vm };
  });

  const out: string[] = [];
  const family = (name: string, help: string, type: 'gauge', samples: [Record<string, string>, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [l, v] of samples) out.push(`${name}${labels(l)} ${number(v)}`);
  };

  family(
    'qga_play_agent_up',
    'Whether the VM was reachable in the last run (0 when its agent or the VM could not be reached).',
    'gauge',
    vms.map(({ label, vm }) => [{ playbook, vm: label }, vm.status === 'unreachable' ? 0 : 1]),
  );
  family(
    'qga_play_vm_status',
    "The VM's outcome in the last run: 1 for its status, 0 for the others.",
    'gauge',
    vms.flatMap(({ label, vm }) => VM_STATUSES.map((status): [Record<string, string>, number] => [{ playbook, vm: label, status }, vm.status === status ? 1 : 0])),
  );
  const offsets = vms.flatMap(({ label, vm }): [Record<string, string>, number][] => {
    const ms = vmClockOffsetMs(vm);
    return ms === undefined ? [] : [[{ playbook, vm: label }, ms / 1000]];
  });
  if (offsets.length > 0) {
    family('qga_play_clock_offset_seconds', "Guest clock minus host clock as last measured by a time step (before any correction).", 'gauge', offsets);
  }
  family('qga_play_run_duration_seconds', 'How long the last run took.', 'gauge', [[{ playbook }, r.durationMs / 1000]]);
  const endedMs = Date.parse(r.startedAt) + r.durationMs;
  family('qga_play_last_run_timestamp_seconds', 'When the last run ended, in seconds since the Unix epoch.', 'gauge', [[{ playbook }, Number.isFinite(endedMs) ? endedMs / 1000 : NaN]]);
  return `${out.join('\n')}\n`;
}

/** Writes a metrics file atomically (node_exporter never reads a half-written one). */
export async function writeMetrics(file: string, text: string): Promise<void> {
  await writeFileAtomic(file, text);
}
