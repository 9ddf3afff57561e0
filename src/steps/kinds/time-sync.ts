import { AgentError, StepFailedError, withResult } from '../../errors.js';
import { hostNowMs } from '../../util/clock.js';
import type { QgaRequest } from '../../qga/protocol.js';
import { explainAgentError } from '../agent-error.js';
import { formatOffset, measureOffset, type ClockMeasurement } from '../clock.js';
import type { StepContext } from '../context.js';
import { defineKind, finite, writtenDuration } from '../kind.js';

const DEFAULT_SAMPLES = 5;
const DEFAULT_THRESHOLD_MS = 100;
const DEFAULT_TOLERANCE_MS = 50;

/** What a time-sync does. */
export interface TimeSyncParams {
  thresholdMs: number;
  source: 'host' | 'rtc';
  toleranceMs: number;
  measureOnly: boolean;
  samples: number;
}

const SET_ATTEMPTS = 5;

/**
 * Sets the guest clock from the host's, aimed at the moment the agent will handle the request,
 * then measures where it landed. When the agent acts is not known in advance: the first set is
 * aimed by the readings before it; each landing then tells how long that set took to reach the
 * agent. A set can stall once (the guest busy, a first use of something in it) and take tens
 * of milliseconds longer than the next, so the next aim is not the last set's delay alone but
 * the lower median of every set's delay and the latest readings' delay: one stall does not
 * throw the next aim off, and a path that is always slower is learned by the second
 * correction. Repeats until the clock is within `goalMs` or as close as the measurement can
 * tell, and surely within `toleranceMs`. Returns the attempts made and the last measurement.
 */
async function setFromHost(ctx: StepContext, before: ClockMeasurement, goalMs: number, toleranceMs: number, samples: number, enoughBoundMs: number): Promise<{ attempts: number; after: ClockMeasurement }> {
  let leadMs = before.leadMs;
  const setDelays: number[] = [];
  // A landing surely within the goal needs no narrower reading. One surely off does: the next
  // aim is corrected by what the reading says, so it takes the narrowest.
  const within = (offsetMs: number, boundMs: number): boolean => Math.abs(offsetMs) + boundMs <= goalMs;
  for (let attempt = 1; ; attempt++) {
    // Aimed when the request is written: it may first wait for a shared virsh session.
    const aimed = (): QgaRequest => ({ execute: 'guest-set-time', arguments: { time: Math.round((hostNowMs() + leadMs) * 1e6) } });
    const raw = await ctx.request(aimed(), aimed);
    if (raw && 'error' in raw.reply) throw new AgentError('guest-set-time', raw.reply.error.class, raw.reply.error.desc);
    const after = await measureOffset(ctx, samples, enoughBoundMs, within);
    // Close enough when the whole interval the truth lies in is within the goal, or when the
    // measurement is too coarse to tell a better landing from this one; not on a landing the
    // step would then fail on (a tight tolerance), since another set and reading may pass,
    // unless the reading's bound alone exceeds the tolerance: then no landing could.
    const settled = Math.abs(after.offsetMs) <= Math.max(goalMs - after.errorBoundMs, after.errorBoundMs);
    const provable = after.errorBoundMs >= toleranceMs || Math.abs(after.offsetMs) + after.errorBoundMs <= toleranceMs;
    const close = settled && provable;
    if (close || attempt >= SET_ATTEMPTS) return { attempts: attempt, after };
    // Landed ahead by the offset: this set reached the agent that much sooner than aimed for.
    setDelays.push(leadMs - after.offsetMs);
    leadMs = lowerMedian([after.leadMs, ...setDelays]);
  }
}

/** The middle value, the lower of the two middle ones for an even count. */
function lowerMedian(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** What a time-sync did and what it measured, as the report shows it. */
export interface TimeSyncResult {
  action: 'none' | 'set';
  source: 'host' | 'rtc';
  offsetBeforeMs: number;
  offsetAfterMs?: number;
  errorBoundMs: number;
  errorBoundAfterMs?: number;
  thresholdMs: number;
  toleranceMs: number;
  /** The agent's error from guest-set-time when the clock was judged by the measurement after. */
  setError?: string;
  /** guest-set-time calls made (a set that landed off is sent again). */
  setAttempts?: number;
  note?: string;
}

/**
 * Measures the offset; when it exceeds the threshold, sets the guest clock (from the host,
 * aimed at the moment the agent will handle the request, or from the guest's RTC), then
 * measures again and fails
 * when the offset is still above the tolerance.
 */
export const timeSync = defineKind({
  kind: 'time-sync',
  schema: {
    description: "Measure the guest clock's offset, set the clock when it exceeds the threshold, and measure again. Result: offsetBeforeMs, offsetAfterMs, errorBoundMs, action (none | set).",
    type: ['object', 'null'],
    additionalProperties: false,
    properties: {
      threshold: { description: 'Leave the clock alone only when the measurement proves it within this (offset and error bound together); else set it (0ms: always set). Default: 100ms.', $ref: '#/definitions/duration', default: '100ms' },
      source: { description: "host: the host's clock; rtc: the guest's hardware clock (Linux guests). Default: host.", enum: ['host', 'rtc'], default: 'host' },
      tolerance: { description: 'After setting, the step fails when the offset is still above this. Default: 50ms.', $ref: '#/definitions/duration', default: '50ms' },
      'measure-only': { description: 'Report the drift, change nothing; a reading that cannot tell whether the clock is within the threshold fails (CLOCK_UNPROVEN). Default: false.', type: 'boolean', default: false },
      samples: { description: 'Most samples per measurement. A measurement stops early at a reading whose error bound is at most a twentieth of the tolerance (0.5 ms at least), and after a set also at one that shows the clock surely within the goal (a tenth of the tolerance, 1 ms at least). Default: 5.', type: 'integer', minimum: 1, maximum: 50, default: 5 },
    },
  },
  normalise: (w): TimeSyncParams => ({
    thresholdMs: writtenDuration(w.threshold, DEFAULT_THRESHOLD_MS),
    source: (w.source as 'host' | 'rtc' | undefined) ?? 'host',
    toleranceMs: writtenDuration(w.tolerance, DEFAULT_TOLERANCE_MS),
    measureOnly: (w['measure-only'] as boolean | undefined) ?? false,
    samples: (w.samples as number | undefined) ?? DEFAULT_SAMPLES,
  }),
  rule(ctx) {
    ctx.duration([...ctx.at, 'threshold'], ctx.params?.threshold, { positive: false });
    ctx.duration([...ctx.at, 'tolerance'], ctx.params?.tolerance, { positive: false });
  },
  commands: (params) => (params.measureOnly ? ['guest-get-time'] : ['guest-get-time', 'guest-set-time']),
  async run(params, ctx): Promise<TimeSyncResult> {
    const goalMs = Math.max(params.toleranceMs / 10, 1);
    // A reading within half the goal settles a measurement: further ones only make the step
    // longer (each is a round trip to a guest, several per set on a busy host).
    const enoughBoundMs = goalMs / 2;
    // Not cut short when the clock is surely off: the first set is aimed by this measurement's
    // narrowest reading, and a set that misses costs more than a reading.
    const before = await measureOffset(ctx, params.samples, enoughBoundMs);
    const result: TimeSyncResult = {
      action: 'none',
      source: params.source,
      offsetBeforeMs: before.offsetMs,
      errorBoundMs: before.errorBoundMs,
      thresholdMs: params.thresholdMs,
      toleranceMs: params.toleranceMs,
    };
    // ok is one claim on every path: the whole interval the truth lies in is within the goal.
    // Left alone, the goal is the threshold (a zero threshold always sets: an offset can round
    // to exactly 0); a reading too coarse to prove it is not taken for "within".
    const surelyWithinThreshold = Math.abs(before.offsetMs) + before.errorBoundMs <= params.thresholdMs;
    if (params.thresholdMs > 0 && surelyWithinThreshold) return result;
    const surelyAbove = Math.abs(before.offsetMs) - before.errorBoundMs > params.thresholdMs;
    if (params.measureOnly) {
      if (!surelyAbove) {
        throw new StepFailedError(
          `clock off by ${before.offsetMs.toFixed(1)} ms (± ${before.errorBoundMs.toFixed(1)}): the measurement cannot tell whether it is within the threshold of ${params.thresholdMs} ms; measure-only: not corrected`,
          'CLOCK_UNPROVEN',
          { result },
        );
      }
      result.note = 'measure-only: offset above threshold, clock left unchanged';
      return result;
    }
    if (params.thresholdMs > 0 && !surelyAbove) result.note = `set: the measurement (± ${before.errorBoundMs.toFixed(1)} ms) could not show the clock within the threshold`;
    let after: ClockMeasurement | undefined;
    try {
      if (params.source === 'host') {
        const set = await setFromHost(ctx, before, goalMs, params.toleranceMs, params.samples, enoughBoundMs);
        result.setAttempts = set.attempts;
        after = set.after;
      } else {
        result.setAttempts = 1;
        await ctx.call('guest-set-time', undefined);
      }
    } catch (err) {
      // The clock may have changed anyway (hwclock -w fails on guests without one): measure.
      if (!(err instanceof AgentError)) throw explainFailure(err, params.source, result);
      if (err.errorClass === 'CommandNotFound') throw explainFailure(explainAgentError(err), params.source, result);
      result.setError = err.desc;
    }
    result.action = 'set';
    after ??= await measureOffset(ctx, params.samples, enoughBoundMs);
    result.offsetAfterMs = after.offsetMs;
    result.errorBoundAfterMs = after.errorBoundMs;
    // ok is a claim: the whole interval the truth lies in must be within the tolerance.
    if (Math.abs(after.offsetMs) + after.errorBoundMs > params.toleranceMs) {
      const why = result.setError ? ` (guest-set-time said: ${result.setError})` : '';
      const what = params.source === 'rtc' ? 'setting the clock from the guest RTC' : 'setting the clock';
      const wide = Math.abs(after.offsetMs) <= params.toleranceMs ? '; the measurement is too coarse to show it is within tolerance (a virsh session or a socket channel measures closer)' : '';
      throw new StepFailedError(
        `clock still off by ${after.offsetMs.toFixed(1)} ms (± ${after.errorBoundMs.toFixed(1)}) after ${what}; tolerance ${params.toleranceMs} ms${why}${wide}`,
        'CLOCK_NOT_SYNCED',
        { result },
      );
    }
    if (result.setError) result.note = `guest-set-time reported an error, but the clock was set: ${result.setError}`;
    return result;
  },
  report: {
    clockOffsetMs(result) {
      const beforeMs = finite(result.offsetBeforeMs);
      if (beforeMs === undefined) return undefined;
      const afterMs = finite(result.offsetAfterMs);
      return afterMs === undefined ? { beforeMs } : { beforeMs, afterMs };
    },
    warning: driftWarning,
    syncAction(result) {
      if (result.action === 'set') return 'set';
      if (result.action !== 'none') return undefined;
      return driftWarning(result) ? 'drift' : 'none';
    },
  },
});

/** A measure-only sync (action none) that found the clock off by more than its threshold, and by design left it. */
function driftWarning(result: Partial<TimeSyncResult>): string | undefined {
  const before = finite(result.offsetBeforeMs);
  const threshold = finite(result.thresholdMs);
  if (before === undefined || threshold === undefined || result.action !== 'none' || threshold <= 0 || Math.abs(before) <= threshold) return undefined;
  return `clock off by ${formatOffset(before)}, above the threshold of ${formatOffset(threshold).slice(1)}; measure-only: not corrected`;
}

function explainFailure(err: unknown, source: 'host' | 'rtc', result: TimeSyncResult): unknown {
  if (err instanceof StepFailedError) {
    const hint = source === 'rtc' ? '; source rtc needs a Linux guest' : '';
    return new StepFailedError(`${err.message}${hint}; clock not changed`, err.code, { cause: err, result });
  }
  return withResult(err, result);
}
