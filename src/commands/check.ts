import { loadPlaybook } from '../playbook/load.js';
import type { Playbook } from '../playbook/types.js';
import { formatDuration } from '../playbook/duration.js';
import type { PlannedVm } from '../runner/types.js';
import { describeRoute, resolveRoute } from '../inventory/route.js';
import { redact } from '../playbook/redact.js';
import { EXIT } from '../exit-codes.js';
import { applyOverrides, secretsOf } from './playbook-options.js';
import type { Io } from './common.js';
import { parseLimit } from '../runner/limit.js';
import { UsageError } from '../errors.js';
import { visible } from '../util/visible.js';

export interface CheckArgs {
  playbook: string;
  connect?: string;
  /** As run's --limit; checked without libvirt, so only against targets named plainly. */
  limit?: string;
}

/** The plan as a person reads it: targets (or resolved VMs) and steps. */
export function formatPlan(playbook: Playbook, vms: (PlannedVm & { problem?: string })[] | null, warnings: string[], options: { dryRun?: boolean } = {}): string {
  const lines: string[] = [];
  lines.push(`Playbook: ${playbook.name} (${playbook.file})`);
  lines.push(`Concurrency ${playbook.concurrency}, default step timeout ${formatDuration(playbook.timeoutMs)}`);
  if (vms) {
    lines.push(`VMs (${vms.length}):`);
    for (const vm of vms) lines.push(`  ${vm.vm}  ${vm.connect}  ${vm.route}${vm.problem ? `  PROBLEM: ${vm.problem}` : ''}`);
  } else {
    lines.push(`Targets (${playbook.targets.length}):`);
    for (const t of playbook.targets) {
      const route = describeRoute(resolveRoute({ uri: t.connect, domain: t.vm, channel: t.channel, socket: t.socket, ssh: t.ssh }, playbook.virsh.mode));
      const exclude = t.exclude.length > 0 ? ` excluding ${t.exclude.join(', ')}` : '';
      lines.push(`  ${t.isGlob ? 'glob' : 'vm'} ${t.vm}${exclude}  ${t.connect}  ${route}`);
    }
  }
  lines.push(`Steps (${playbook.steps.length}):`);
  playbook.steps.forEach((s, i) => {
    const extra = [
      `timeout ${formatDuration(s.timeoutMs)}`,
      s.retries > 0 ? `retries ${s.retries} every ${formatDuration(s.retryDelayMs)}` : '',
      s.continueOnError ? 'continue-on-error' : '',
      s.expect.length > 0 ? `expect ${s.expect.map((e) => e.text).join(', ')}` : '',
    ].filter(Boolean);
    lines.push(`  ${i + 1}. ${s.name}${s.name === s.kind ? '' : ` (${s.kind})`}  ${extra.join('; ')}`);
  });
  for (const w of warnings) lines.push(`warning: ${w}`);
  if (options.dryRun) lines.push('Dry run: no agent command was sent.');
  // Names, paths and messages come from the playbook and libvirt: nothing reaches the terminal raw.
  return lines.map(visible).join('\n') + '\n';
}

export async function checkCommand(argv: CheckArgs, io: Io): Promise<number> {
  const loaded = await loadPlaybook(argv.playbook, { env: io.env });
  let playbook = applyOverrides(loaded.playbook, { connect: argv.connect });
  if (argv.limit !== undefined) {
    const keep = parseLimit(argv.limit);
    // A glob target may still match at run time; a plain name is known now.
    const targets = playbook.targets.filter((t) => t.isGlob || keep(t.vm));
    if (targets.length === 0) {
      throw new UsageError(visible(`--limit ${JSON.stringify(argv.limit)} matches none of the playbook's VMs (${playbook.targets.map((t) => JSON.stringify(t.vm)).join(', ')})`), 'LIMIT_MATCHES_NOTHING');
    }
    playbook = { ...playbook, targets };
  }
  io.stdout(redact(formatPlan(playbook, null, loaded.warnings), secretsOf(playbook)));
  io.stdout('Playbook is valid.\n');
  return EXIT.ok;
}
