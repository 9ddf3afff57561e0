import { RE2JS } from 're2js';
import { excerpt } from '../util/excerpt.js';
import { redact } from './redact.js';
import type { ExpectOp, Expectation } from './types.js';

const SYMBOL: Record<ExpectOp, string> = { eq: '==', ne: '!=', lt: '<', le: '<=', gt: '>', ge: '>=', matches: 'matches', contains: 'contains' };
const ALIASES: Record<string, string> = { 'exit-code': 'exitCode' };

/** `return.version` -> ['return', 'version']; `exit-code` -> ['exitCode']. */
export function expectPath(key: string): string[] {
  return key.split('.').map((s) => ALIASES[s] ?? s);
}

/** Turns a validated `expect` map into expectations: a plain value means `eq`. */
export function parseExpect(written: Record<string, unknown> | null | undefined): Expectation[] {
  const out: Expectation[] = [];
  for (const [key, spec] of Object.entries(written ?? {})) {
    const path = expectPath(key);
    const ops = spec !== null && typeof spec === 'object' && !Array.isArray(spec) ? Object.entries(spec) : [['eq', spec] as const];
    for (const [op, value] of ops) {
      out.push({ path, op: op as ExpectOp, value, text: `${path.join('.')} ${SYMBOL[op as ExpectOp]} ${show(value)}` });
    }
  }
  return out;
}

/** A compiled `matches` operand. */
export interface Matcher {
  test(text: string): boolean;
}

const FLAGS: Record<string, number> = { i: RE2JS.CASE_INSENSITIVE, m: RE2JS.MULTILINE, s: RE2JS.DOTALL };
const compiled = new Map<string, Matcher>();

/**
 * A `matches` operand, `^ok` or `/^ok/i` (flags i, m, s), in RE2 syntax: the text is guest
 * data, so the engine must run in time linear in it whatever the pattern (no backreferences,
 * no lookaround). Throws SyntaxError when it is not such a regular expression.
 */
export function compileMatcher(source: string): Matcher {
  const cached = compiled.get(source);
  if (cached) return cached;
  const m = /^\/(.*)\/([a-z]*)$/s.exec(source);
  let flags = 0;
  for (const flag of m?.[2] ?? '') {
    if (FLAGS[flag] === undefined) throw new SyntaxError(`flag ${flag} is not supported (only i, m and s)`);
    flags |= FLAGS[flag];
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(m ? m[1]! : source, flags);
  } catch (err) {
    throw new SyntaxError((err as Error).message.replace(/^error parsing regexp: /, ''), { cause: err });
  }
  const matcher: Matcher = { test: (text) => re.matcher(text).find() };
  compiled.set(source, matcher);
  return matcher;
}

/**
 * Checks expectations against a step's result; returns one message per expectation that does
 * not hold. What a message quotes of the result has `secrets` masked before it is quoted and
 * cut, so that neither the escaping nor the cut can leave part of one.
 */
export function evaluateExpectations(exps: readonly Expectation[], result: unknown, secrets: readonly string[] = []): string[] {
  const messages: string[] = [];
  for (const x of exps) {
    const failure = check(x, result, secrets);
    if (failure !== undefined) messages.push(failure);
  }
  return messages;
}

function check(x: Expectation, result: unknown, secrets: readonly string[]): string | undefined {
  const name = x.path.join('.');
  const wanted = expected(x);
  const found = lookup(result, x.path);
  if (!found) return `${name}: expected ${wanted}, got nothing (no such field in the result)`;
  const actual = found.value;
  const fail = (note = '') => `${name}: expected ${wanted}, got ${show(redact(actual, secrets))}${note}`;
  switch (x.op) {
    case 'eq':
      return equal(actual, x.value) ? undefined : fail();
    case 'ne':
      return equal(actual, x.value) ? fail() : undefined;
    case 'lt':
    case 'le':
    case 'gt':
    case 'ge': {
      if (typeof actual !== 'number' || typeof x.value !== 'number') return fail(' (not a number)');
      const ok = { lt: actual < x.value, le: actual <= x.value, gt: actual > x.value, ge: actual >= x.value }[x.op];
      return ok ? undefined : fail();
    }
    case 'matches': {
      if (typeof actual !== 'string' && typeof actual !== 'number' && typeof actual !== 'boolean') return fail(' (not text)');
      let re: Matcher;
      try {
        re = compileMatcher(String(x.value));
      } catch (err) {
        return `${name}: ${(err as Error).message}`;
      }
      return re.test(String(actual)) ? undefined : fail();
    }
    case 'contains':
      if (typeof actual === 'string') return actual.includes(String(x.value)) ? undefined : fail();
      if (Array.isArray(actual)) return actual.some((item) => equal(item, x.value)) ? undefined : fail();
      return fail(' (not a string or a list)');
  }
}

function expected(x: Expectation): string {
  switch (x.op) {
    case 'eq':
      return show(x.value);
    case 'ne':
      return `not ${show(x.value)}`;
    case 'matches': {
      const source = String(x.value);
      return `to match ${/^\/.*\/[a-z]*$/s.test(source) ? source : `/${source}/`}`;
    }
    case 'contains':
      return `to contain ${show(x.value)}`;
    default:
      return `${SYMBOL[x.op]} ${show(x.value)}`;
  }
}

function lookup(value: unknown, path: readonly string[]): { value: unknown } | undefined {
  let cur = value;
  for (const seg of path) {
    if ((Array.isArray(cur) || typeof cur === 'string') && seg === 'length') cur = cur.length;
    else if (Array.isArray(cur) && /^\d+$/.test(seg) && Number(seg) < cur.length) cur = cur[Number(seg)];
    else if (cur !== null && typeof cur === 'object' && !Array.isArray(cur) && Object.hasOwn(cur, seg)) cur = (cur as Record<string, unknown>)[seg];
    else return undefined;
  }
  return { value: cur };
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** JSON, shortened (the value's secrets already masked); Secrets show as *** through their toJSON. */
function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 80 ? excerpt(text, 79) : text;
}
