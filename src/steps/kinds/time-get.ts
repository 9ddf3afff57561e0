import { measureOffset } from '../clock.js';
import { defineKind, finite } from '../kind.js';

const DEFAULT_SAMPLES = 5;

/** Measures the guest clock's offset from the host's. */
export const timeGet = defineKind({
  kind: 'time-get',
  schema: {
    description: "Measure the guest clock's offset from the host's. Result: offsetMs, errorBoundMs.",
    type: ['object', 'null'],
    additionalProperties: false,
    properties: {
      samples: { description: 'guest-get-time samples; the one with the shortest round trip counts. Default: 5.', type: 'integer', minimum: 1, maximum: 50, default: 5 },
    },
  },
  normalise: (w): { samples: number } => ({ samples: (w.samples as number | undefined) ?? DEFAULT_SAMPLES }),
  commands: () => ['guest-get-time'],
  async run(params, ctx) {
    const { offsetMs, errorBoundMs, rttMs, samples } = await measureOffset(ctx, params.samples);
    return { offsetMs, errorBoundMs, rttMs, samples };
  },
  report: {
    clockOffsetMs(result) {
      const beforeMs = finite(result.offsetMs);
      return beforeMs === undefined ? undefined : { beforeMs };
    },
  },
});
