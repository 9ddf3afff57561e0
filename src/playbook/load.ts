import { defaultUri } from '../util/uri.js';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import { isMap as isYamlMap, isScalar, isSeq, LineCounter, Parser, parseDocument } from 'yaml';
import { errorMessage } from '../errors.js';
import { parseDuration } from './duration.js';
import { formatProblem, PlaybookError, type Problem } from './errors.js';
import { RULES, type RuleContext } from './rules.js';
import { describeValue, schemaProblems } from './schema.js';
import { Source } from './source.js';
import { DEFAULTS, normaliseStep, type NormaliseContext } from './steps.js';
import type { Playbook, TargetSpec } from './types.js';
import { normaliseWatch } from './watch.js';

export interface LoadOptions {
  /** Environment for LIBVIRT_DEFAULT_URI; default process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface LoadResult {
  playbook: Playbook;
  /** Things that are allowed but probably not meant, each `file:line:column: message`. */
  warnings: string[];
}

/** What a valid playbook file holds, before defaults (the schema has the details). */
interface WrittenPlaybook {
  name?: string;
  connect?: string;
  concurrency?: number;
  virsh?: { mode?: 'session' | 'process'; sessions?: number };
  timeout?: string | number;
  report?: { dir?: string; keep?: number };
  targets: { vm: string; connect?: string; channel?: string; socket?: string; ssh?: string; exclude?: string[] }[];
  steps: unknown[];
  every?: string | number;
  watch?: { on?: string[]; settle?: string | number; retries?: number };
}

/** Reads, validates and normalises a playbook file; throws PlaybookError listing every problem. */
export async function loadPlaybook(file: string, options: LoadOptions = {}): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new PlaybookError([{ file, line: 0, column: 0, path: '', message: await unreadable(file, err) }], { cause: err });
  }
  return parsePlaybook(text, file, options);
}

async function unreadable(file: string, err: unknown): Promise<string> {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR': {
      const yamls = (await readdir(file).catch(() => [])).filter((f) => /\.ya?ml$/.test(f)).slice(0, 5);
      return `is a directory, not a playbook file${yamls.length ? ` (it holds ${yamls.join(', ')})` : ''}`;
    }
    case 'EACCES':
      return 'cannot be read: permission denied';
    default:
      return `cannot be read: ${errorMessage(err)}`;
  }
}

/** Same as loadPlaybook, from text; `file` names it in messages and anchors relative paths. */
export function parsePlaybook(text: string, file: string, options: LoadOptions = {}): LoadResult {
  const fail = (message: string, line = 0, column = 0): never => {
    throw new PlaybookError([{ file, line, column, path: '', message }]);
  };
  if (text.trim() === '') fail('empty file: a playbook is a map with at least `targets:` and `steps:`');

  const lines = new LineCounter();
  // prettyErrors off: one-line messages; positions come from the LineCounter.
  // uniqueKeys off: yaml's own check compares each key with every earlier one (20,000 keys took
  // seconds); duplicateKeys below does the same check in one pass.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, merge: true, uniqueKeys: false });
  const src = new Source(file, doc, lines);
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset);
    return { file, line, column: col, path: '' };
  };
  if (doc.errors.length > 0) {
    // The parser stops where it noticed; the mistake is often where a bracket or quote was opened.
    const openers = unclosed(text);
    const opened = (offset: number) =>
      openers
        .filter((o) => o.offset < offset)
        .map((o) => {
          const { line, col } = lines.linePos(o.offset);
          return ` (unclosed ${o.what} opened at line ${line} column ${col})`;
        })
        .join('');
    const message = (e: (typeof doc.errors)[number]) =>
      e.code === 'DUPLICATE_KEY' ? `duplicate key \`${/^[^:\n]*/.exec(text.slice(e.pos[0]))![0].trim()}\`: a key may appear once in a map` : `YAML syntax error: ${e.message}${opened(e.pos[0] + 1)}`;
    throw new PlaybookError(doc.errors.map((e) => ({ ...at(e.pos[0]), message: message(e) })));
  }
  const duplicates = duplicateKeys(doc.contents);
  if (duplicates.length > 0) {
    throw new PlaybookError(duplicates.map((d) => ({ ...at(d.offset), message: `duplicate key \`${d.key}\`: a key may appear once in a map` })));
  }
  const warnings: Problem[] = doc.warnings.map((w) => ({ ...at(w.pos[0]), message: `YAML: ${w.message}` }));

  if (doc.contents === null) fail('empty file: it holds only comments; a playbook is a map with at least `targets:` and `steps:`');
  // toJS throws for what the parser lets through (an alias to no anchor, too many aliases).
  const toJS = (): unknown => {
    try {
      return doc.toJS({ maxAliasCount: 1000 });
    } catch (err) {
      const { line, column } = src.position([]);
      return fail(`YAML: ${errorMessage(err)}`, line, column);
    }
  };
  if (!isYamlMap(doc.contents)) {
    const { line, column } = src.position([]);
    const what = isSeq(doc.contents) ? 'a list' : describeValue(toJS());
    fail(`a playbook is a map of keys (name:, targets:, steps:, ...), not ${what}`, line, column);
  }

  const data = toJS() as Record<string, unknown>;
  const env = options.env ?? process.env;
  const connect = typeof data.connect === 'string' && data.connect !== '' ? data.connect : defaultUri(env);

  const problems = schemaProblems(data, src);
  const ctx: RuleContext = {
    data,
    connect,
    lineOf: (p) => src.position(p).line,
    error: (p, message, where) => problems.push(src.problem(p, message, where)),
    warn: (p, message, where) => warnings.push(src.problem(p, message, where)),
  };
  for (const rule of RULES) rule(ctx);
  const byPosition = (a: Problem, b: Problem) => a.line - b.line || a.column - b.column;
  if (problems.length > 0) throw new PlaybookError(problems.sort(byPosition));

  return { playbook: normalise(data as unknown as WrittenPlaybook, src, connect), warnings: warnings.sort(byPosition).map(formatProblem) };
}

/** Keys that stand twice in one map (merge keys aside), in one pass over the document; a stack, not recursion. */
function duplicateKeys(root: unknown): { key: string; offset: number }[] {
  const found: { key: string; offset: number }[] = [];
  const pending: unknown[] = [root];
  const seen = new Set<unknown>();
  while (pending.length > 0) {
    const node = pending.pop();
    if (seen.has(node)) continue;
    seen.add(node);
    if (isYamlMap(node)) {
      const keys = new Set<string>();
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (key !== '<<' && (isScalar(pair.key) || typeof key !== 'object')) {
          const name = String(key);
          if (keys.has(name)) found.push({ key: name, offset: isScalar(pair.key) ? (pair.key.range?.[0] ?? 0) : 0 });
          keys.add(name);
        }
        pending.push(pair.value);
      }
    } else if (isSeq(node)) pending.push(...node.items);
  }
  return found.sort((a, b) => a.offset - b.offset);
}

/** Flow collections and quoted scalars that the text opens and never closes, from the CST. */
function unclosed(text: string): { what: string; offset: number }[] {
  const found: { what: string; offset: number }[] = [];
  type Token = { type?: string; source?: string; offset?: number; start?: Token; end?: Token[] } & Record<string, unknown>;
  const stack: unknown[] = [...new Parser().parse(text)];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node === null || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      stack.push(...(node as unknown[]));
      continue;
    }
    const t = node as Token;
    if (t.type === 'flow-collection' && t.start?.source) {
      const closer = t.start.source === '[' ? ']' : '}';
      if (!t.end?.some((e) => e.source === closer)) found.push({ what: `'${t.start.source}'`, offset: t.start.offset ?? 0 });
    } else if ((t.type === 'double-quoted-scalar' || t.type === 'single-quoted-scalar') && typeof t.source === 'string') {
      const quote = t.source[0]!;
      const closed = t.source.length >= 2 && t.source.endsWith(quote) && (quote === "'" || !/(^|[^\\])(\\\\)*\\"$/.test(t.source));
      if (!closed) found.push({ what: `quote ${quote}`, offset: t.offset ?? 0 });
    }
    for (const key of ['value', 'key', 'items', 'sep', 'start', 'end']) if (key in t) stack.push(t[key]);
  }
  return found.sort((a, b) => a.offset - b.offset);
}

function normalise(w: WrittenPlaybook, src: Source, connect: string): Playbook {
  const file = path.resolve(src.file);
  const dir = path.dirname(file);
  const ctx: NormaliseContext = { local: (p) => path.resolve(dir, p) };
  const timeoutMs = w.timeout === undefined ? DEFAULTS.timeoutMs : parseDuration(w.timeout)!;
  const targets = w.targets.map(
    (t, i): TargetSpec => ({
      vm: t.vm,
      connect: t.connect ?? connect,
      ...(t.channel !== undefined && { channel: t.channel }),
      ...(t.socket !== undefined && { socket: t.socket }),
      ...(t.ssh !== undefined && { ssh: t.ssh }),
      exclude: t.exclude ?? [],
      isGlob: picomatch.scan(t.vm).isGlob,
      line: src.position(['targets', i]).line,
    }),
  );
  return {
    file,
    name: w.name ?? path.basename(file, path.extname(file)),
    connect,
    concurrency: w.concurrency ?? DEFAULTS.concurrency,
    virsh: { mode: w.virsh?.mode ?? 'session', ...(w.virsh?.sessions !== undefined && { sessions: w.virsh.sessions }) },
    timeoutMs,
    report: {
      ...(w.report?.dir !== undefined && { dir: ctx.local(w.report.dir) }),
      ...(w.report?.keep !== undefined && { keep: w.report.keep }),
    },
    targets,
    steps: w.steps.map((s, i) => normaliseStep(s, { timeoutMs }, src.position(['steps', i]).line, ctx)),
    ...(w.every !== undefined && { everyMs: parseDuration(w.every)! }),
    ...(w.watch !== undefined && { watch: normaliseWatch(w.watch) }),
  };
}
