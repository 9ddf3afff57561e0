import type { StepKindDefinition } from './kind.js';
import { agent } from './kinds/agent.js';
import { disks } from './kinds/disks.js';
import { exec } from './kinds/exec.js';
import { fileRead } from './kinds/file-read.js';
import { fileWrite } from './kinds/file-write.js';
import { fsfreeze } from './kinds/fsfreeze.js';
import { fsinfo } from './kinds/fsinfo.js';
import { fsthaw } from './kinds/fsthaw.js';
import { fstrim } from './kinds/fstrim.js';
import { hostname } from './kinds/hostname.js';
import { info } from './kinds/info.js';
import { load } from './kinds/load.js';
import { network } from './kinds/network.js';
import { osinfo } from './kinds/osinfo.js';
import { ping } from './kinds/ping.js';
import { reboot } from './kinds/reboot.js';
import { setPassword } from './kinds/set-password.js';
import { shutdown } from './kinds/shutdown.js';
import { timeGet } from './kinds/time-get.js';
import { timeSync } from './kinds/time-sync.js';
import { timezone } from './kinds/timezone.js';
import { users } from './kinds/users.js';
import { waitAgent } from './kinds/wait-agent.js';

/** Every step kind, in the order the schema lists them: adding a kind is a file and a line here. */
const KINDS = [
  ping, waitAgent, info, exec, fileRead, fileWrite, timeGet, timeSync,
  network, osinfo, hostname, users, timezone, fsinfo, disks, load,
  fsfreeze, fsthaw, fstrim, shutdown, reboot, setPassword, agent,
] as const;

type AnyKind = (typeof KINDS)[number];

/** Every step kind a playbook may use. */
export type StepKind = AnyKind['kind'];

/** The definition of one kind, with its parameter and result types. */
export type KindOf<K extends StepKind> = Extract<AnyKind, { kind: K }>;

/** The normalised parameters of each step kind: defaults applied, durations in ms, local paths absolute. */
export type StepParams = { [K in StepKind]: ReturnType<KindOf<K>['normalise']> };

/** What each step kind's run returns. */
export type StepResults = { [K in StepKind]: Awaited<ReturnType<KindOf<K>['run']>> };

/** Every kind's definition by name. */
export const STEPS = Object.fromEntries(KINDS.map((k) => [k.kind, k])) as { [K in StepKind]: KindOf<K> };

/** Every step kind's name, in schema order. */
export const STEP_KINDS: readonly StepKind[] = KINDS.map((k) => k.kind);

export function isStepKind(value: unknown): value is StepKind {
  return typeof value === 'string' && Object.hasOwn(STEPS, value);
}

/** One kind's definition, typed loosely enough to call with any of its steps. */
export function stepDefinition<K extends StepKind>(kind: K): StepKindDefinition<K, StepParams[K], StepResults[K]> {
  return STEPS[kind] as unknown as StepKindDefinition<K, StepParams[K], StepResults[K]>;
}
