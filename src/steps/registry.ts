import type { StepKind } from '../playbook/types.js';
import type { StepDefinition } from './context.js';
import { agent, setPassword } from './agent.js';
import { exec } from './exec.js';
import { fileRead, fileWrite } from './file.js';
import { fsfreeze, fsthaw, fstrim } from './fs.js';
import { reboot, shutdown } from './power.js';
import { disks, fsinfo, hostname, info, network, osinfo, ping, timezone, users } from './query.js';
import { timeGet, timeSync } from './time.js';
import { waitAgent } from './wait-agent.js';

/** Every step kind's definition; the `satisfies` keeps it complete and each entry's kind right. */
export const STEPS = {
  ping,
  'wait-agent': waitAgent,
  info,
  exec,
  'file-read': fileRead,
  'file-write': fileWrite,
  'time-get': timeGet,
  'time-sync': timeSync,
  network,
  osinfo,
  hostname,
  users,
  timezone,
  fsinfo,
  disks,
  fsfreeze,
  fsthaw,
  fstrim,
  shutdown,
  reboot,
  'set-password': setPassword,
  agent,
} satisfies { [K in StepKind]: StepDefinition<K> };

export function stepDefinition<K extends StepKind>(kind: K): StepDefinition<K> {
  return STEPS[kind] as unknown as StepDefinition<K>;
}
