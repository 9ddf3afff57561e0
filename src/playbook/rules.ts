import picomatch from 'picomatch';
import { formatDuration, parseDuration } from './duration.js';
import { compileMatcher } from './expect.js';
import { displayPath, type PathSegment } from './source.js';
import { isMap, stepKindOf } from './steps.js';
import { stepDefinition } from '../steps/registry.js';
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

/** Durations the schema accepts but the runner cannot use: a zero deadline or poll interval, or one past setTimeout's range. */
export const durationLimits: Rule = (ctx) => {
  checkDuration(ctx, ['timeout'], ctx.data.timeout, true);
  checkDuration(ctx, ['every'], ctx.data.every, true);
  if (isMap(ctx.data.watch)) checkDuration(ctx, ['watch', 'settle'], ctx.data.watch.settle, false);
  for (const { index, step } of steps(ctx)) {
    checkDuration(ctx, ['steps', index, 'timeout'], step.timeout, true);
    checkDuration(ctx, ['steps', index, 'retry-delay'], step['retry-delay'], false);
  }
};

function checkDuration(ctx: RuleContext, path: PathSegment[], value: unknown, positive: boolean): void {
  if (typeof value !== 'string' && typeof value !== 'number') return;
  const ms = parseDuration(value);
  if (ms === null) return; // the schema reported it
  const written = `\`${displayPath(path)}: ${value}\``;
  if (positive && ms === 0) ctx.error(path, `${written} must be more than 0`);
  if (ms > MAX_DURATION_MS) ctx.error(path, `${written} is too long (at most ${formatDuration(MAX_DURATION_MS)})`);
}

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

/** A target that can stand for more than one VM: a glob, or any entry of a list of two or more. */
function manyVms(ctx: RuleContext): boolean {
  const list = targets(ctx);
  return list.length > 1 || list.some(([t]) => typeof t.vm === 'string' && picomatch.scan(t.vm).isGlob);
}

/** Each step kind's own checks (in its file under src/steps/kinds/). */
export const kindRules: Rule = (ctx) => {
  const list = steps(ctx);
  const many = manyVms(ctx);
  for (const [i, { index, kind, params }] of list.entries()) {
    const rule = kind && stepDefinition(kind).rule;
    if (!rule) continue;
    const next = list[i + 1];
    rule({
      params,
      at: ['steps', index, kind],
      ...(next && { next: ['steps', next.index] }),
      manyVms: many,
      lineOf: ctx.lineOf,
      error: ctx.error,
      warn: ctx.warn,
      duration: (path, value, { positive }) => checkDuration(ctx, path, value, positive),
    });
  }
};

export const RULES: readonly Rule[] = [targetEndpoint, duplicateTargets, durationLimits, expectations, kindRules];
