import picomatch from 'picomatch';
import { checkRequest } from '../qga/protocol.js';
import { formatDuration, parseDuration } from './duration.js';
import { compileMatcher } from './expect.js';
import { displayPath, type PathSegment } from './source.js';
import { isMap, stepKindOf } from './steps.js';
import { didYouMean } from './suggest.js';
import type { StepKind } from './types.js';

/** What a rule sees: the written playbook (maybe invalid in places: check types) and where to report. */
export interface RuleContext {
  data: Record<string, unknown>;
  /** The connection of targets without their own `connect`. */
  connect: string;
  lineOf(path: PathSegment[]): number;
  error(path: PathSegment[], message: string, at?: 'value' | 'key'): void;
  warn(path: PathSegment[], message: string, at?: 'value' | 'key'): void;
}

/** A check the schema cannot express. */
export type Rule = (ctx: RuleContext) => void;

// setTimeout fires at once beyond 2^31-1 ms.
const MAX_DURATION_MS = 2 ** 31 - 1;

// QGA commands of QEMU's qga/qapi-schema.json: an unknown `agent` command is only a warning (newer agents add some).
const QGA_COMMANDS = [
  'guest-sync', 'guest-sync-delimited', 'guest-ping', 'guest-info', 'guest-get-time', 'guest-set-time',
  'guest-shutdown', 'guest-suspend-disk', 'guest-suspend-ram', 'guest-suspend-hybrid',
  'guest-file-open', 'guest-file-close', 'guest-file-read', 'guest-file-write', 'guest-file-seek', 'guest-file-flush',
  'guest-fsfreeze-status', 'guest-fsfreeze-freeze', 'guest-fsfreeze-freeze-list', 'guest-fsfreeze-thaw', 'guest-fstrim',
  'guest-network-get-interfaces', 'guest-network-get-route', 'guest-get-vcpus', 'guest-set-vcpus',
  'guest-get-memory-blocks', 'guest-set-memory-blocks', 'guest-get-memory-block-info', 'guest-get-disks',
  'guest-get-fsinfo', 'guest-get-diskstats', 'guest-get-cpustats', 'guest-get-load', 'guest-set-user-password',
  'guest-ssh-get-authorized-keys', 'guest-ssh-add-authorized-keys', 'guest-ssh-remove-authorized-keys',
  'guest-get-host-name', 'guest-get-users', 'guest-get-timezone', 'guest-get-osinfo', 'guest-get-devices',
  'guest-exec', 'guest-exec-status',
];

function targets(ctx: RuleContext): [Record<string, unknown>, number][] {
  const list = Array.isArray(ctx.data.targets) ? ctx.data.targets : [];
  return list.flatMap((t, i) => (isMap(t) ? [[t, i] as [Record<string, unknown>, number]] : []));
}

interface WrittenStep {
  index: number;
  kind: StepKind | undefined;
  step: Record<string, unknown>;
  /** The kind's parameters when they are a map. */
  params: Record<string, unknown> | undefined;
}

function steps(ctx: RuleContext): WrittenStep[] {
  const list = Array.isArray(ctx.data.steps) ? ctx.data.steps : [];
  return list.map((s, index) => {
    const kind = stepKindOf(s);
    const step = isMap(s) ? s : {};
    const params = kind && isMap(step[kind]) ? (step[kind] as Record<string, unknown>) : undefined;
    return { index, kind, step, params };
  });
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** How a target is reached: `channel`/`socket`/`ssh` combinations that make sense. */
export const targetEndpoint: Rule = (ctx) => {
  for (const [t, i] of targets(ctx)) {
    const vm = str(t.vm);
    if (t.channel !== undefined && t.socket !== undefined) {
      ctx.error(['targets', i, 'channel'], 'a target has `channel` (found through libvirt) or `socket` (used directly), not both', 'key');
    }
    if (t.ssh !== undefined && t.socket === undefined) {
      ctx.error(['targets', i, 'ssh'], '`ssh` needs `socket` (the agent socket on that host); for a remote libvirt use `connect: qemu+ssh://HOST/system`', 'key');
    }
    if (t.socket !== undefined && vm && picomatch.scan(vm).isGlob) {
      ctx.error(['targets', i, 'vm'], `a \`socket\` target is one VM: \`vm\` names it and can't be a glob (\`${vm}\`)`);
    }
    if (Array.isArray(t.exclude) && t.exclude.length > 0 && vm && !picomatch.scan(vm).isGlob) {
      ctx.warn(['targets', i, 'exclude'], `\`exclude\` only applies to a glob \`vm\`; \`${vm}\` is a plain name`, 'key');
    }
  }
};

/** The same VM listed twice would run every step on it twice, concurrently. */
export const duplicateTargets: Rule = (ctx) => {
  const first = new Map<string, number>();
  for (const [t, i] of targets(ctx)) {
    const vm = str(t.vm);
    if (!vm) continue;
    const socket = str(t.socket);
    const ssh = str(t.ssh);
    const connect = str(t.connect) ?? ctx.connect;
    const key = socket ? `socket\0${ssh ?? ''}\0${socket}` : `libvirt\0${connect}\0${vm}`;
    const where = socket ? `socket ${ssh ? `${ssh}:` : ''}${socket}` : `\`${vm}\` on ${connect}`;
    const seen = first.get(key);
    if (seen === undefined) first.set(key, i);
    else ctx.error(['targets', i, 'vm'], `duplicate target: ${where} is already listed at line ${ctx.lineOf(['targets', seen])}`);
  }
};

/** file-write takes its bytes from exactly one place. */
export const fileWriteSource: Rule = (ctx) => {
  for (const { index, kind, params } of steps(ctx)) {
    if (kind !== 'file-write' || !params) continue;
    const hasFrom = params.from !== undefined;
    const hasContent = params.content !== undefined;
    if (hasFrom && hasContent) ctx.error(['steps', index, 'file-write', 'content'], 'file-write takes `from` (a local file) or `content` (text), not both', 'key');
    if (!hasFrom && !hasContent) ctx.error(['steps', index, 'file-write'], 'file-write needs `from` (a local file) or `content` (text)');
  }
};

/** Durations the schema accepts but the runner cannot use: a zero deadline or poll interval, or one past setTimeout's range. */
export const durationLimits: Rule = (ctx) => {
  const check = (path: PathSegment[], value: unknown, positive: boolean) => {
    if (typeof value !== 'string' && typeof value !== 'number') return;
    const ms = parseDuration(value);
    if (ms === null) return; // the schema reported it
    const written = `\`${displayPath(path)}: ${value}\``;
    if (positive && ms === 0) ctx.error(path, `${written} must be more than 0`);
    if (ms > MAX_DURATION_MS) ctx.error(path, `${written} is too long (at most ${formatDuration(MAX_DURATION_MS)})`);
  };
  check(['timeout'], ctx.data.timeout, true);
  check(['every'], ctx.data.every, true);
  if (isMap(ctx.data.watch)) check(['watch', 'settle'], ctx.data.watch.settle, false);
  for (const { index, kind, step, params } of steps(ctx)) {
    check(['steps', index, 'timeout'], step.timeout, true);
    check(['steps', index, 'retry-delay'], step['retry-delay'], false);
    if (kind === 'wait-agent') check(['steps', index, kind, 'interval'], params?.interval, true);
    if (kind === 'time-sync' && params) {
      check(['steps', index, kind, 'threshold'], params.threshold, false);
      check(['steps', index, kind, 'tolerance'], params.tolerance, false);
    }
  }
};

/** `expect` keys must be dot paths and `matches` operands regular expressions. */
export const expectations: Rule = (ctx) => {
  for (const { index, step } of steps(ctx)) {
    if (!isMap(step.expect)) continue;
    for (const [key, spec] of Object.entries(step.expect)) {
      const path = ['steps', index, 'expect', key];
      if (key.split('.').includes('')) ctx.error(path, `\`${key}\` in \`${displayPath(path.slice(0, -1))}\` is not a dot path into the result (like \`exitCode\` or \`return.version\`)`, 'key');
      if (!isMap(spec) || typeof spec.matches !== 'string') continue;
      try {
        compileMatcher(spec.matches);
      } catch (err) {
        ctx.error([...path, 'matches'], `\`${displayPath([...path, 'matches'])}: ${spec.matches}\` is not a regular expression: ${(err as Error).message}`);
      }
    }
  }
};

/** An `agent` step is a QGA request; an unknown command name is likely a typo. */
export const agentRequests: Rule = (ctx) => {
  for (const { index, kind, params } of steps(ctx)) {
    if (kind !== 'agent' || typeof params?.execute !== 'string' || params.execute === '') continue;
    if (params.arguments !== undefined && !isMap(params.arguments)) continue; // the schema reported it
    const request = checkRequest({ execute: params.execute, ...(params.arguments !== undefined && { arguments: params.arguments }) });
    if (typeof request === 'string') ctx.error(['steps', index, 'agent'], request);
    else if (!QGA_COMMANDS.includes(params.execute)) {
      ctx.warn(['steps', index, 'agent', 'execute'], `\`${params.execute}\` is not a QGA command known to qga-play${didYouMean(params.execute, QGA_COMMANDS)}`);
    }
  }
};

/** After shutdown the VM is off. (A reboot step itself waits until the agent is back.) */
export const powerSteps: Rule = (ctx) => {
  const list = steps(ctx);
  for (const [i, { index, kind }] of list.entries()) {
    const next = list[i + 1];
    if (!next) break;
    if (kind === 'shutdown') ctx.warn(['steps', next.index], `steps after \`shutdown\` (line ${ctx.lineOf(['steps', index])}) will find the VM off`);
  }
};

export const RULES: readonly Rule[] = [targetEndpoint, duplicateTargets, fileWriteSource, durationLimits, expectations, agentRequests, powerSteps];
