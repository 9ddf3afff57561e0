import { AgentError, ProtocolError, StepFailedError, withResult } from '../errors.js';
import { unwrapReply } from '../qga/protocol.js';
import { defineStep, explainAgentError, type StepContext } from './context.js';
import { round } from './query.js';
import { hostNowMs } from '../util/clock.js';


/** One clock measurement: the guest's offset from the host and its error bound. */
export interface ClockMeasurement {
  offsetMs: number;
  /** The true offset is within offsetMs ± this: half the window in which the guest read its clock. */
  errorBoundMs: number;
  rttMs: number;
  /** Typical delay from sending a request to the middle of the agent's handling of it. */
  leadMs: number;
  /** Typical delay from the start of the agent's handling window to its reading the clock. */
  readDelayMs: number;
  samples: number;
}

/**
 * Takes `samples` guest-get-time readings and keeps the one read in the narrowest host-clock
 * window: offset = guest time - the window's midpoint. The window is what the transport knows
 * (through virsh: the command's own run, without start-up), else the request's round trip.
 */
export async function measureOffset(ctx: StepContext, samples: number): Promise<ClockMeasurement> {
  let best: { offset: number; bound: number; rtt: number } | undefined;
  const leads: number[] = [];
  const readDelays: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = hostNowMs();
    const raw = await ctx.request({ execute: 'guest-get-time' });
    const t1 = hostNowMs();
    if (raw === null) throw new ProtocolError('guest-get-time sent no reply');
    let ns: number;
    try {
      ns = unwrapReply('guest-get-time', raw.reply) as number;
    } catch (err) {
      throw explainAgentError(err);
    }
    // 1e400 parses as Infinity: a number, but no time.
    if (typeof ns !== 'number' || !Number.isFinite(ns)) throw new ProtocolError(`guest-get-time answered ${raw.text.slice(0, 200)}, not a number of nanoseconds`);
    const window = raw.window ?? { startMs: t0, endMs: t1 };
    const mid = (window.startMs + window.endMs) / 2;
    leads.push(mid - t0);
    readDelays.push(mid - window.startMs);
    const sample = { offset: ns / 1e6 - mid, bound: (window.endMs - window.startMs) / 2, rtt: t1 - t0 };
    if (!best || sample.bound < best.bound) best = sample;
  }
  return {
    offsetMs: round(best!.offset),
    errorBoundMs: round(best!.bound),
    rttMs: round(best!.rtt),
    leadMs: round(median(leads)),
    readDelayMs: round(median(readDelays)),
    samples,
  };
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

export const timeGet = defineStep({
  kind: 'time-get',
  commands: () => ['guest-get-time'],
  async run(params, ctx) {
    const { offsetMs, errorBoundMs, rttMs, samples } = await measureOffset(ctx, params.samples);
    return { offsetMs, errorBoundMs, rttMs, samples };
  },
});

const SET_ATTEMPTS = 5;

/**
 * Sets the guest clock from the host's, aimed at the moment the agent will handle the request,
 * then measures where it landed. Where in a request's window the agent acts is not known in
 * advance (libvirt syncs first, a busy host delays it): each measured landing error corrects
 * the aim of the next set, until the clock is within `goalMs` or as close as the measurement
 * can tell. Returns the attempts made and the last measurement.
 */
async function setFromHost(ctx: StepContext, before: ClockMeasurement, goalMs: number, samples: number): Promise<{ attempts: number; after: ClockMeasurement }> {
  let leadMs = before.leadMs;
  for (let attempt = 1; ; attempt++) {
    const aimMs = hostNowMs() + leadMs;
    const raw = await ctx.request({ execute: 'guest-set-time', arguments: { time: Math.round(aimMs * 1e6) } });
    if (raw && 'error' in raw.reply) throw new AgentError('guest-set-time', raw.reply.error.class, raw.reply.error.desc);
    const after = await measureOffset(ctx, samples);
    if (Math.abs(after.offsetMs) <= Math.max(goalMs, after.errorBoundMs) || attempt >= SET_ATTEMPTS) return { attempts: attempt, after };
    // Landed ahead by the offset: aim that much less far ahead next time.
    leadMs -= after.offsetMs;
  }
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
    let after: ClockMeasurement | undefined;
    try {
      if (params.source === 'host') {
        const set = await setFromHost(ctx, before, Math.max(params.toleranceMs / 10, 1), params.samples);
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
    after ??= await measureOffset(ctx, params.samples);
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
});

function explainFailure(err: unknown, source: 'host' | 'rtc', result: TimeSyncResult): unknown {
  if (err instanceof StepFailedError) {
    const hint = source === 'rtc' ? '; source rtc needs a Linux guest' : '';
    return new StepFailedError(`${err.message}${hint}; clock not changed`, err.code, { cause: err, result });
  }
  return withResult(err, result);
}
