import picomatch from 'picomatch';
import { parseLimit } from './limit.js';
import type { Playbook, TargetSpec } from '../playbook/types.js';
import { describeRoute, resolveRoute } from '../inventory/route.js';
import type { TransportProvider } from '../inventory/provider.js';
import { listRunningDomains } from '../inventory/libvirt.js';
import type { LibvirtCallOptions } from '../inventory/channels.js';
import type { PlannedVm } from './types.js';
import { CanceledError, UsageError } from '../errors.js';
import { visible } from '../util/visible.js';

/** Options of {@link resolveTargets}. */
export interface ResolveOptions extends LibvirtCallOptions {
  /** Only these VMs: see parseLimit (runner/limit.ts). */
  limit?: string;
  /** Decides each VM's route (the run's provider). */
  provider: TransportProvider;
}

function plan(spec: TargetSpec, vm: string, provider: TransportProvider): PlannedVm {
  const via = provider.route({ uri: spec.connect, domain: vm, channel: spec.channel, socket: spec.socket, ssh: spec.ssh });
  const planned: PlannedVm = {
    vm,
    connect: spec.connect,
    route: describeRoute(via),
    via,
    transport: via.kind === 'none' ? 'socket' : via.kind,
    line: spec.line,
  };
  if (spec.channel) planned.channel = spec.channel;
  if (spec.socket) planned.socket = spec.socket;
  if (spec.ssh) planned.ssh = spec.ssh;
  return planned;
}

/**
 * Turns the playbook's targets into VMs: globs are matched against `virsh list --name` (running
 * domains) once per connection; a plain name is taken as it is (if it does not exist, its steps
 * are unreachable). A VM named by a glob and by its own entry takes its own entry's route (its
 * channel, say) at the glob's place; a VM matched by two globs takes the first.
 */
export async function resolveTargets(playbook: Playbook, options: ResolveOptions): Promise<ResolvedTargets> {
  const warnings: string[] = [];
  const unresolved: ResolvedTargets['unresolved'] = [];
  const running = new Map<string, Promise<string[]>>();
  const listed = (uri: string): Promise<string[]> => {
    let p = running.get(uri);
    if (!p) running.set(uri, (p = listRunningDomains(uri, options)));
    return p;
  };
  const limit = options.limit === undefined ? undefined : parseLimit(options.limit);
  const keyOf = (spec: TargetSpec, name: string): string => `${spec.socket ? `socket:${spec.ssh ?? ''}:${spec.socket}` : spec.connect}\0${name}`;
  const named = new Map<string, TargetSpec>();
  for (const t of playbook.targets) if (!t.isGlob || t.socket) named.set(keyOf(t, t.vm), t);
  const seen = new Set<string>();
  const vms: PlannedVm[] = [];
  // Every VM the playbook names, for the message when --limit leaves none of them.
  const all: string[] = [];
  for (const spec of playbook.targets) {
    const fromGlob = spec.isGlob && !spec.socket;
    let names: string[];
    if (fromGlob) {
      const isMatch = picomatch(spec.vm);
      try {
        names = (await listed(spec.connect)).filter((n) => isMatch(n));
      } catch (err) {
        // One hypervisor that cannot be listed does not stop the others.
        if (err instanceof CanceledError) throw err;
        unresolved.push({ target: spec, error: err });
        continue;
      }
      if (names.length === 0) warnings.push(`${playbook.file}:${spec.line}: vm "${spec.vm}" matches no running domain on ${spec.connect}`);
    } else {
      names = [spec.vm];
    }
    const excluded = spec.exclude.length > 0 ? picomatch(spec.exclude) : undefined;
    for (const name of names) {
      if (excluded?.(name)) continue;
      all.push(name);
      if (limit && !limit(name)) continue;
      const key = keyOf(spec, name);
      if (seen.has(key)) continue;
      seen.add(key);
      // The VM keeps the glob's place in the order but its own entry's route.
      vms.push(plan((fromGlob && named.get(key)) || spec, name, options.provider));
    }
  }
  // As Ansible: a limit that leaves nothing is a mistake, found before anything runs.
  if (limit && vms.length === 0 && unresolved.length === 0) {
    const candidates = [...new Set(all)];
    const shown = candidates.slice(0, 10).map((n) => JSON.stringify(n)).join(', ');
    throw new UsageError(
      visible(`--limit ${JSON.stringify(options.limit)} matches none of the playbook's VMs${candidates.length > 0 ? ` (${shown}${candidates.length > 10 ? `, and ${candidates.length - 10} more` : ''})` : ''}; nothing was run`),
      'LIMIT_MATCHES_NOTHING',
    );
  }
  return { vms, warnings, unresolved };
}

/** VMs to run on, and the glob targets whose connection could not be listed. */
export interface ResolvedTargets {
  vms: PlannedVm[];
  warnings: string[];
  unresolved: { target: TargetSpec; error: unknown }[];
}

/**
 * How many virsh sessions each connection's targets could use at once: one per named VM on the
 * standard channel, as many as the pool holds for a glob; one for a lookup (a glob's list, a
 * non-standard channel's dumpxml). Targets with a socket of their own use none, and named VMs
 * that `admits` (a parsed --limit) leaves out.
 */
export function sessionDemand(targets: readonly TargetSpec[], admits?: (name: string) => boolean): Map<string, number> {
  const demand = new Map<string, number>();
  for (const t of targets) {
    if (t.socket !== undefined || (!t.isGlob && admits && !admits(t.vm))) continue;
    const route = resolveRoute({ uri: t.connect, domain: t.vm, channel: t.channel });
    if (route.kind === 'none') continue;
    const n = t.isGlob && route.kind === 'virsh' ? Infinity : 1;
    demand.set(t.connect, (demand.get(t.connect) ?? 0) + n);
  }
  return demand;
}
