import { errorMessage, TimeoutError, UnreachableError, type UnreachableCode } from '../../errors.js';
import { formatElapsed } from '../../util/elapsed.js';
import { defineKind, writtenDuration } from '../kind.js';

const DEFAULT_INTERVAL_MS = 1000;

// Waiting cannot fix these: the domain or its channel does not exist, or libvirt is not there.
const PERMANENT: ReadonlySet<UnreachableCode> = new Set(['AGENT_NOT_CONFIGURED', 'NO_SUCH_DOMAIN', 'CHANNEL_NOT_FOUND', 'VIRSH_MISSING', 'PERMISSION_DENIED']);

/** Polls guest-ping until the agent answers: for guests still booting. */
export const waitAgent = defineKind({
  kind: 'wait-agent',
  schema: {
    description: "Poll guest-ping until the agent answers (for guests still booting); the deadline is the step's timeout. Result: {waitedMs, attempts}.",
    type: ['object', 'null'],
    additionalProperties: false,
    properties: {
      interval: { description: 'Pause between polls. Default: 1s.', $ref: '#/definitions/duration', default: '1s' },
    },
  },
  normalise: (w): { intervalMs: number } => ({ intervalMs: writtenDuration(w.interval, DEFAULT_INTERVAL_MS) }),
  rule: (ctx) => ctx.duration([...ctx.at, 'interval'], ctx.params?.interval, { positive: true }),
  commands: () => ['guest-ping'],
  async run(params, ctx) {
    const started = Date.now();
    let attempts = 0;
    let last = 'no attempt made';
    while (ctx.remaining() > 0 && !ctx.signal.aborted) {
      attempts++;
      try {
        await ctx.call('guest-ping', undefined, { timeoutMs: Math.min(ctx.remaining(), Math.max(params.intervalMs, 2000)) });
        return { waitedMs: Date.now() - started, attempts };
      } catch (err) {
        // A cancel ends the wait; the step's own deadline ends it below, with what was seen.
        if (ctx.signal.aborted && !(ctx.signal.reason instanceof TimeoutError)) throw err;
        if (err instanceof UnreachableError && PERMANENT.has(err.code)) throw err;
        if (!(err instanceof UnreachableError) && !ctx.signal.aborted) throw err;
        last = errorMessage(err);
      }
      await ctx.sleep(params.intervalMs);
    }
    const ms = Date.now() - started;
    throw new TimeoutError(`agent did not answer within ${formatElapsed(ms)} (${attempts} attempts; last: ${last})`, ms);
  },
});
