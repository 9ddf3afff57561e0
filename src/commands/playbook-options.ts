// What run and check both do to a loaded playbook; kept apart so `check` loads no runner.
import type { Playbook } from '../playbook/types.js';
import { collectSecrets } from '../playbook/redact.js';

/** Applies command-line overrides to a loaded playbook. */
export function applyOverrides(playbook: Playbook, argv: { connect?: string; concurrency?: number }): Playbook {
  const connect = argv.connect;
  return {
    ...playbook,
    connect: connect ?? playbook.connect,
    concurrency: argv.concurrency ?? playbook.concurrency,
    // -c replaces the default connection, not one a target names itself.
    targets: connect ? playbook.targets.map((t) => (t.connect === playbook.connect ? { ...t, connect } : t)) : playbook.targets,
  };
}

/** Every secret value of a playbook, so no output ever shows them. */
export function secretsOf(playbook: Playbook): string[] {
  return collectSecrets(playbook.steps.map((s) => s.params));
}

