import { parseDuration } from './duration.js';
import type { WatchSpec, WatchTrigger } from './types.js';

/** The libvirt events `qga-play watch` can react to (the schema's `watchTrigger`). */
export const WATCH_TRIGGERS: readonly WatchTrigger[] = ['resumed', 'restored', 'migrated', 'started', 'agent-connected'];

/** What `watch` does when the playbook has no `watch:` (the schema's defaults). */
export const WATCH_DEFAULTS: WatchSpec = { on: [...WATCH_TRIGGERS], settleMs: 100, retries: 2 };

/** The written `watch:` map (already valid against the schema), with defaults applied. */
export function normaliseWatch(w: { on?: string[]; settle?: string | number; retries?: number }): WatchSpec {
  return {
    on: w.on === undefined ? [...WATCH_DEFAULTS.on] : WATCH_TRIGGERS.filter((t) => w.on!.includes(t)),
    settleMs: w.settle === undefined ? WATCH_DEFAULTS.settleMs : parseDuration(w.settle)!,
    retries: w.retries ?? WATCH_DEFAULTS.retries,
  };
}

/** The playbook's watch settings, defaults when it has no `watch:`. */
export function watchSpecOf(playbook: { watch?: WatchSpec }): WatchSpec {
  return playbook.watch ?? WATCH_DEFAULTS;
}
