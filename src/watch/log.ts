import { clockOffsetMs, formatOffset, vmDetail } from '../report/key-result.js';
import type { StepReport, VmReport } from '../runner/types.js';
import type { DomainEvent } from './events.js';

/** What the log line of one event-triggered run says. */
export interface EventRunRecord {
  vm: string;
  connect: string;
  trigger: string;
  /** The first event of the run, as virsh printed its words, e.g. `Resumed Unpaused`. */
  event: string;
  eventAt: string;
  /** Events folded into this run (1: just this one). */
  events: number;
  /** 1 for the first run after the event; more when an earlier one failed. */
  attempt: number;
  status: VmReport['status'];
  action?: 'none' | 'set';
  offsetBeforeMs?: number;
  offsetAfterMs?: number;
  errorBoundMs?: number;
  /** From the event to the end of the time-sync that proved the clock corrected. */
  correctedAfterMs?: number;
  /** The run's key result or first problem, for a person. */
  detail: string;
}

function lastTimeSync(report: VmReport): StepReport | undefined {
  return report.steps.filter((s) => s.kind === 'time-sync' && s.result !== undefined).at(-1);
}

/** The record of a run started by `event` (the first of `events` coalesced events). */
export function eventRunRecord(report: VmReport, event: DomainEvent, events: number, attempt = 1): EventRunRecord {
  const record: EventRunRecord = {
    vm: report.vm,
    connect: report.connect,
    trigger: event.trigger ?? 'none',
    event: `${event.event} ${event.detail}`,
    eventAt: new Date(event.atMs).toISOString(),
    events,
    attempt,
    status: report.status,
    detail: vmDetail(report),
  };
  const sync = lastTimeSync(report);
  if (sync) {
    const r = sync.result as { action?: 'none' | 'set'; errorBoundAfterMs?: number; errorBoundMs?: number };
    const offset = clockOffsetMs(sync);
    record.action = r.action;
    if (offset) {
      record.offsetBeforeMs = offset.beforeMs;
      if (offset.afterMs !== undefined) record.offsetAfterMs = offset.afterMs;
    }
    const bound = r.errorBoundAfterMs ?? r.errorBoundMs;
    if (typeof bound === 'number') record.errorBoundMs = bound;
    if (sync.status === 'ok' && r.action === 'set' && sync.startedAt) {
      record.correctedAfterMs = Math.round(Date.parse(sync.startedAt) + sync.durationMs - event.atMs);
    }
  }
  return record;
}

/** One line for a person (names are JSON-quoted: they are hostile input). */
export function formatEventRun(r: EventRunRecord): string {
  const more = `${r.events > 1 ? ` +${r.events - 1} more` : ''}${r.attempt > 1 ? ` (attempt ${r.attempt})` : ''}`;
  let what = `${r.status}: ${r.detail}`;
  if (r.offsetBeforeMs !== undefined) {
    // "Left alone" is a claim the step made only when it ended ok (the whole interval within the threshold).
    const after = r.offsetAfterMs !== undefined ? ` -> ${formatOffset(r.offsetAfterMs)}` : r.status === 'ok' ? ' (within threshold, left alone)' : ' (not set)';
    const bound = r.errorBoundMs === undefined ? '' : ` (± ${r.errorBoundMs.toFixed(1)} ms)`;
    what = `${r.status}: offset ${formatOffset(r.offsetBeforeMs)}${after}${bound}`;
    if (r.correctedAfterMs !== undefined) what += `, corrected ${(r.correctedAfterMs / 1000).toFixed(3)} s after the event`;
    if (r.status !== 'ok') what += `; ${r.detail}`;
  }
  return `event ${r.trigger} on ${JSON.stringify(r.vm)} (${r.connect}): ${r.event} at ${r.eventAt}${more} -> ${what}`;
}
