import { AgentError, StepFailedError } from '../errors.js';
import { defineStep, explainAgentError, type StepContext } from './context.js';
import { round } from './query.js';

/** The host's clock in epoch milliseconds, with sub-millisecond resolution. */
export function hostNowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** One clock measurement: the guest's offset from the host and its error bound. */
export interface ClockMeasurement {
  offsetMs: number;
  /** Half the round trip of the best sample: the true offset is within offsetMs ± this. */
  errorBoundMs: number;
  rttMs: number;
  samples: number;
}

/**
 * Takes `samples` guest-get-time readings, each bracketed by host clock reads, and keeps the
 * one with the shortest round trip: offset = guest time - midpoint of the bracket.
 */
export async function measureOffset(ctx: StepContext, samples: number): Promise<ClockMeasurement> {
  let best: { offset: number; rtt: number } | undefined;
  for (let i = 0; i < samples; i++) {
    const t0 = hostNowMs();
    const ns = await ctx.call('guest-get-time', undefined);
    const t1 = hostNowMs();
    const rtt = t1 - t0;
    const offset = ns / 1e6 - (t0 + t1) / 2;
    if (!best || rtt < best.rtt) best = { offset, rtt };
  }
  return { offsetMs: round(best!.offset), errorBoundMs: round(best!.rtt / 2), rttMs: round(best!.rtt), samples };
}

export const timeGet = defineStep({
  kind: 'time-get',
  commands: () => ['guest-get-time'],
  run: (params, ctx) => measureOffset(ctx, params.samples),
});

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
  note?: string;
}

/**
 * Measures the offset; when it exceeds the threshold, sets the guest clock (from the host,
 * compensating half the round trip, or from the guest's RTC), then measures again and fails
 * when the offset is still above the tolerance.
 */
export const timeSync = defineStep({
  kind: 'time-sync',
  commands: (params) => (params.measureOnly ? ['guest-get-time'] : ['guest-get-time', 'guest-set-time']),
  async run(params, ctx) {
    const before = await measureOffset(ctx, params.samples);
    const result: TimeSyncResult = {
      action: 'none',
      source: params.source,
      offsetBeforeMs: before.offsetMs,
      errorBoundMs: before.errorBoundMs,
      thresholdMs: params.thresholdMs,
      toleranceMs: params.toleranceMs,
    };
    // A zero threshold always sets: an offset can round to exactly 0.
    if (params.thresholdMs > 0 && Math.abs(before.offsetMs) <= params.thresholdMs) return result;
    if (params.measureOnly) {
      result.note = 'measure-only: offset above threshold, clock left unchanged';
      return result;
    }
    try {
      if (params.source === 'host') {
        const timeNs = Math.round((hostNowMs() + before.rttMs / 2) * 1e6);
        await ctx.call('guest-set-time', { time: timeNs });
      } else {
        await ctx.call('guest-set-time', undefined);
      }
    } catch (err) {
      // The clock may have changed anyway (hwclock -w fails on guests without one): measure.
      if (!(err instanceof AgentError)) throw explainFailure(err, params.source, result);
      if (err.errorClass === 'CommandNotFound') throw explainFailure(explainAgentError(err), params.source, result);
      result.setError = err.desc;
    }
    result.action = 'set';
    const after = await measureOffset(ctx, params.samples);
    result.offsetAfterMs = after.offsetMs;
    result.errorBoundAfterMs = after.errorBoundMs;
    if (Math.abs(after.offsetMs) > params.toleranceMs) {
      const why = result.setError ? ` (guest-set-time said: ${result.setError})` : '';
      const what = params.source === 'rtc' ? 'setting the clock from the guest RTC' : 'setting the clock';
      throw new StepFailedError(
        `clock still off by ${after.offsetMs.toFixed(1)} ms (± ${after.errorBoundMs.toFixed(1)}) after ${what}; tolerance ${params.toleranceMs} ms${why}`,
        'CLOCK_NOT_SYNCED',
        { result },
      );
    }
    if (result.setError) result.note = `guest-set-time reported an error, but the clock was set: ${result.setError}`;
    return result;
  },
});

function explainFailure(err: unknown, source: 'host' | 'rtc', result: TimeSyncResult): unknown {
  if (err instanceof StepFailedError) {
    const hint = source === 'rtc' ? '; source rtc needs a Linux guest' : '';
    return new StepFailedError(`${err.message}${hint}; clock not changed`, err.code, { cause: err, result });
  }
  if (err instanceof Error) Object.assign(err, { result });
  return err;
}
