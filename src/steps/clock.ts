import { ProtocolError } from '../errors.js';
import { checkedReturn } from '../qga/agent-commands.js';
import { hostNowMs } from '../util/clock.js';
import { explainAgentError } from './agent-error.js';
import type { StepContext } from './context.js';
import { round } from './kind.js';

/** One clock measurement: the guest's offset from the host and its error bound. */
export interface ClockMeasurement {
  offsetMs: number;
  /** The true offset is within offsetMs ± this: half the window in which the guest read its clock. */
  errorBoundMs: number;
  rttMs: number;
  /**
   * Delay from writing a request to the middle of the narrowest window: the best guess of when
   * the agent acts on a request. A wide window is wide mostly on the way back, so its middle is late.
   */
  leadMs: number;
  samples: number;
}

/**
 * Takes up to `samples` guest-get-time readings and keeps the one read in the narrowest
 * host-clock window: offset = guest time - the window's midpoint. The window is what the
 * transport gives (a host-side bracket around the command), else the request's round trip
 * here. Stops early at a reading whose bound is at most `enoughBoundMs` (more readings could
 * only narrow it further, at a round trip each) or for which `settles(offsetMs, boundMs)` holds
 * (the caller's next move no longer depends on more readings).
 */
export async function measureOffset(ctx: StepContext, samples: number, enoughBoundMs = 0, settles?: (offsetMs: number, boundMs: number) => boolean): Promise<ClockMeasurement> {
  let best: { offset: number; bound: number; rtt: number; lead: number } | undefined;
  let taken = 0;
  while (taken < samples && !(best && (best.bound <= enoughBoundMs || settles?.(best.offset, best.bound)))) {
    taken++;
    const t0 = hostNowMs();
    const raw = await ctx.request({ execute: 'guest-get-time' });
    const t1 = hostNowMs();
    if (raw === null) throw new ProtocolError('guest-get-time sent no reply');
    let ns: number;
    try {
      ns = checkedReturn('guest-get-time', raw.reply);
    } catch (err) {
      throw explainAgentError(err);
    }
    const window = raw.window ?? { startMs: t0, endMs: t1 };
    const mid = (window.startMs + window.endMs) / 2;
    // The lead counts from when the request was written, as a set's aim does (RequestOptions.atSend).
    const sample = { offset: ns / 1e6 - mid, bound: (window.endMs - window.startMs) / 2, rtt: t1 - t0, lead: mid - window.startMs };
    if (!best || sample.bound < best.bound) best = sample;
  }
  return {
    offsetMs: round(best!.offset),
    errorBoundMs: round(best!.bound),
    rttMs: round(best!.rtt),
    leadMs: round(best!.lead),
    samples: taken,
  };
}

/** `+12.3 ms`, `-1.250 s`: an offset with its sign. */
export function formatOffset(ms: number): string {
  const sign = ms < 0 ? '-' : '+';
  const abs = Math.abs(ms);
  return abs < 1000 ? `${sign}${abs.toFixed(1)} ms` : `${sign}${(abs / 1000).toFixed(3)} s`;
}
