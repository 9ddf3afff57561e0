import picomatch from 'picomatch';
import type { Playbook, TargetSpec } from '../playbook/types.js';

/** The libvirt URIs whose events matter to a playbook: every target reached through libvirt. */
export function watchedUris(playbook: Playbook): string[] {
  return [...new Set(playbook.targets.filter((t) => !t.socket).map((t) => t.connect))];
}

/**
 * The target entry that covers domain `name` on `uri`, as `run` would pick it: the domain's own
 * entry, else the first glob that matches it and does not exclude it. Undefined: not a target.
 */
export function targetOf(playbook: Playbook, uri: string, name: string): TargetSpec | undefined {
  const onUri = playbook.targets.filter((t) => !t.socket && t.connect === uri);
  const own = onUri.find((t) => !t.isGlob && t.vm === name);
  if (own) return own;
  return onUri.find((t) => t.isGlob && matcherOf(t)(name));
}

// Compiled once per target entry: events come by the thousand.
const matchers = new WeakMap<TargetSpec, (name: string) => boolean>();

function matcherOf(t: TargetSpec): (name: string) => boolean {
  let m = matchers.get(t);
  if (!m) {
    // The same matching as the runner's target resolution: picomatch defaults, then exclude.
    const isMatch = picomatch(t.vm);
    const excluded = t.exclude.length > 0 ? picomatch(t.exclude) : undefined;
    matchers.set(t, (m = (name) => isMatch(name) && !excluded?.(name)));
  }
  return m;
}

/**
 * The playbook narrowed to one domain: a plain-name target, so the runner neither lists the
 * connection nor reads the name as a glob (a hostile name may hold `*` or `[`).
 */
export function playbookFor(playbook: Playbook, target: TargetSpec, name: string): Playbook {
  return { ...playbook, targets: [{ ...target, vm: name, isGlob: false, exclude: [] }] };
}
