import { CUT_MARK } from '../util/excerpt.js';
import { isSecret } from './secret.js';

/** What a secret shows as, everywhere. */
export const MASK = '***';

/**
 * Deepest nesting `redact` copies; anything deeper shows as {@link TOO_DEEP}. Replies are
 * bounded far below this by the protocol layer; this keeps the walk (and JSON.stringify after
 * it) off the end of the stack whatever a result holds.
 */
export const MAX_REDACT_DEPTH = 256;
export const TOO_DEEP = '[nested too deep]';

/**
 * The secrets worth replacing, longest first (so a secret that contains another goes whole):
 * each one as written, as it reads inside a JSON string (once and twice escaped: a message that
 * quotes a reply, a report that quotes that message) and inside base64 (file contents, binary
 * output), at each of the three byte alignments.
 */
function prepare(secrets: readonly string[]): string[] {
  const plain = secrets.filter((s) => typeof s === 'string' && s.length > 0);
  return [...new Set([...plain, ...plain.flatMap(escapedForms), ...plain.flatMap(base64Forms)])].sort((a, b) => b.length - a.length);
}

function escapedForms(secret: string): string[] {
  const once = JSON.stringify(secret).slice(1, -1);
  return [once, JSON.stringify(once).slice(1, -1)];
}

// What cuts in messages end with (excerpt's, and the `...` of older or other text): the text before one may end in part of a secret.
const CUT_MARKS = [CUT_MARK, '...'] as const;
// A shorter head of a secret before a cut mark is left: it says too little, and masks innocent text by chance.
const MIN_CUT_HEAD = 3;

// Marks looked at per text and mark: a message of ours holds a few cuts; a guest's text full of
// marks is not a message, and must not make redaction cost more than a pass per secret.
const MAX_MARKS = 256;

/** Masks the head of a secret that a cut left just before a cut mark. */
function maskCutHeads(text: string, list: readonly string[]): string {
  let out = text;
  for (const mark of CUT_MARKS) {
    let marks = 0;
    for (let at = out.indexOf(mark); at !== -1 && marks < MAX_MARKS; at = out.indexOf(mark, at + mark.length), marks++) {
      let longest = 0;
      for (const secret of list) {
        for (let k = Math.min(secret.length - 1, at); k >= Math.max(MIN_CUT_HEAD, longest + 1); k--) {
          // The head starts with the secret's first character: most lengths are ruled out by one comparison.
          if (out.charCodeAt(at - k) === secret.charCodeAt(0) && out.startsWith(secret.slice(0, k), at - k)) {
            longest = k;
            break;
          }
        }
      }
      if (longest > 0) {
        out = `${out.slice(0, at - longest)}${MASK}${out.slice(at)}`;
        at += MASK.length - longest;
      }
    }
  }
  return out;
}

function replaceAll(text: string, list: readonly string[]): string {
  if (list.length === 0) return text;
  let out = text;
  for (const secret of list) if (out.includes(secret)) out = out.split(secret).join(MASK);
  return CUT_MARKS.some((m) => out.includes(m)) ? maskCutHeads(out, list) : out;
}

/** The base64 characters that encode only `secret`'s bytes, wherever it starts in a stream. */
function base64Forms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const forms: string[] = [];
  for (let k = 0; k < 3; k++) {
    const encoded = Buffer.concat([Buffer.alloc(k), bytes]).toString('base64');
    const core = encoded.slice(Math.ceil((8 * k) / 6), Math.floor((8 * (k + bytes.length)) / 6));
    // Too short a core would mask innocent base64 by chance.
    if (core.length >= 6) forms.push(core);
  }
  return forms;
}

/**
 * Replaces every occurrence of each secret in `text` with `***`, escaped or not, and the head
 * of one that a cut left before its mark.
 */
export function redactText(text: string, secrets: readonly string[]): string {
  return replaceAll(text, prepare(secrets));
}

/**
 * `value` with every occurrence of each secret string, in any string (object keys included),
 * replaced with `***`: the parts that change are copied, the rest is shared with `value`. A
 * `Secret` (`{secret: true, value}`) becomes `***` whole; an Error becomes `{name, message,
 * code?}`; other objects go through `toJSON` when they have one, else field by field. Cycles
 * become `"[Circular]"`; what is nested deeper than {@link MAX_REDACT_DEPTH} becomes
 * `"[nested too deep]"`.
 */
export function redact<T>(value: T, secrets: readonly string[]): T {
  const list = prepare(secrets);
  const text = (s: string): string => replaceAll(s, list);
  const seen = new Set<object>();
  // Copy on write: a part with nothing to change is returned as it is (no secrets, the common
  // case, copies nothing), so the copy costs what it replaces.
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return text(v);
    if (v === null || typeof v !== 'object') return v;
    if (isSecret(v)) return MASK;
    if (seen.has(v)) return '[Circular]';
    if (depth >= MAX_REDACT_DEPTH) return TOO_DEEP;
    seen.add(v);
    try {
      if (Array.isArray(v)) {
        let out: unknown[] | undefined;
        for (let i = 0; i < v.length; i++) {
          const inner: unknown = v[i];
          const walked = walk(inner, depth + 1);
          if (out === undefined && walked !== inner) out = v.slice(0, i);
          out?.push(walked);
        }
        return out ?? v;
      }
      if (v instanceof Error) {
        const code = (v as { code?: unknown }).code;
        return { name: text(v.name), message: text(v.message), ...(code === undefined ? {} : { code: walk(code, depth + 1) }) };
      }
      if (v instanceof Date) return v;
      if (ArrayBuffer.isView(v)) return v;
      const toJSON = (v as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') return walk(toJSON.call(v), depth);
      const record = v as Record<string, unknown>;
      let out: Record<string, unknown> | undefined;
      for (const key in record) {
        if (!Object.hasOwn(record, key)) continue;
        const inner = record[key];
        const k = text(key);
        const walked = walk(inner, depth + 1);
        if (out === undefined && (walked !== inner || k !== key)) {
          out = {};
          // The keys before this one, unchanged.
          for (const earlier in record) {
            if (earlier === key) break;
            if (Object.hasOwn(record, earlier)) out[earlier] = record[earlier];
          }
        }
        if (out !== undefined) out[k] = walked;
      }
      return out ?? v;
    } finally {
      seen.delete(v);
    }
  };
  return walk(value, 0) as T;
}

/**
 * The values of every `Secret` found in `value` (a playbook, its steps, a step's params), for
 * `redact`'s `secrets` list.
 */
export function collectSecrets(value: unknown): string[] {
  const found = new Set<string>();
  const seen = new Set<object>();
  // A stack, not recursion: no nesting can overflow it.
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const v = pending.pop();
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    if (isSecret(v)) {
      if (v.value.length > 0) found.add(v.value);
      continue;
    }
    for (const inner of Array.isArray(v) ? v : Object.values(v)) pending.push(inner);
  }
  return [...found];
}
