/** A value that must never be printed: reports, logs and messages show it as `***`. */
export interface Secret {
  secret: true;
  value: string;
}

/** Operators of an `expect` entry. */
export type ExpectOp = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'matches' | 'contains';

/** One check on a step's result: `path` into the result, an operator and the value to compare with. */
export type Expectation = {
  path: string[];
  op: ExpectOp;
  value: unknown;
  /** Human form, e.g. `exitCode == 0`, `offsetAfterMs < 50`, `stdout matches "^ok"`. */
  text: string;
};

import type { StepKind, StepParams } from '../steps/registry.js';

// Each kind's parameters are declared in its own file under src/steps/kinds/.
export type { StepKind, StepParams };

/** One step of a given kind; `StepSpec` is the union of these, discriminated on `kind`. */
export interface StepSpecOf<K extends StepKind> {
  /** Name in reports: what the playbook wrote, else the kind (for `agent`: the command name). */
  name: string;
  kind: K;
  params: StepParams[K];
  timeoutMs: number;
  retries: number;
  retryDelayMs: number;
  continueOnError: boolean;
  expect: Expectation[];
  /** 1-based line of the step in the playbook. */
  line: number;
}

/** A normalised step; narrow on `kind` to get typed `params`. */
export type StepSpec = { [K in StepKind]: StepSpecOf<K> }[StepKind];

/** One `targets` entry, normalised. */
export interface TargetSpec {
  /** Domain name or glob (or, with `socket`, a label for the VM). */
  vm: string;
  /** libvirt URI: the target's own, else the playbook's. */
  connect: string;
  channel?: string;
  /** Direct agent socket: no libvirt lookup. */
  socket?: string;
  /** With `socket`: the host the socket is on. */
  ssh?: string;
  exclude: string[];
  /** `vm` is a glob over the connection's running domains. */
  isGlob: boolean;
  line: number;
}

/** A libvirt event `qga-play watch` reacts to. */
export type WatchTrigger = 'resumed' | 'restored' | 'migrated' | 'started' | 'agent-connected';

/** The `watch:` map, normalised: which events run the steps, and how long a burst may settle. */
export interface WatchSpec {
  on: WatchTrigger[];
  settleMs: number;
  /** Extra runs after an event whose run failed or was unreachable. */
  retries: number;
}

/** A loaded, validated and normalised playbook. */
export interface Playbook {
  /** Absolute path of the playbook file. */
  file: string;
  name: string;
  connect: string;
  concurrency: number;
  /** How the standard channel is reached through virsh; `sessions` per connection URI. */
  virsh: { mode: 'session' | 'process'; sessions?: number };
  timeoutMs: number;
  /** `dir` is absolute when given. */
  report: { dir?: string; keep?: number };
  targets: TargetSpec[];
  steps: StepSpec[];
  /** `every:` in ms: how often `watch` runs the whole playbook; absent: never. `run` ignores it. */
  everyMs?: number;
  /** `watch:` with defaults applied, when written. `run` ignores it. */
  watch?: WatchSpec;
}
