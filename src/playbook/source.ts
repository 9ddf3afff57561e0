import { isAlias, isMap, isNode, isScalar, isSeq, type Document, type LineCounter, type Pair, type YAMLMap } from 'yaml';
import type { Problem } from './errors.js';

export type PathSegment = string | number;

/** `steps[2].exec.path`, `steps[0].expect["return.version"]`. */
export function displayPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (!/^[A-Za-z_][\w-]*$/.test(seg)) out += `[${JSON.stringify(seg)}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

/** A parsed playbook text: turns paths into the YAML nodes' line and column. */
export class Source {
  // Each map's pairs by key, built once: a position is looked up for every problem, and a map may hold thousands of keys.
  private readonly pairsOf = new WeakMap<object, Map<string, Pair>>();

  constructor(
    readonly file: string,
    readonly doc: Document,
    readonly lines: LineCounter,
  ) {}

  /** Line and column of the value at `path` (or of its key), else of the nearest enclosing node. */
  position(path: readonly PathSegment[], at: 'value' | 'key' = 'value'): { line: number; column: number } {
    let node: unknown = this.doc.contents;
    let offset = isNode(node) && node.range ? node.range[0] : 0;
    for (const [i, seg] of path.entries()) {
      if (isAlias(node)) node = node.resolve(this.doc);
      if (isMap(node)) {
        const pair = this.pairs(node as YAMLMap).get(String(seg));
        if (!pair) break;
        const keyStart = isNode(pair.key) && pair.key.range ? pair.key.range[0] : offset;
        const value = pair.value;
        // An empty value (`ping:`) has no text of its own: point at its key.
        const valueStart = isNode(value) && value.range && value.range[1] > value.range[0] ? value.range[0] : keyStart;
        offset = at === 'key' && i === path.length - 1 ? keyStart : valueStart;
        node = value;
      } else if (isSeq(node) && typeof seg === 'number' && isNode(node.items[seg])) {
        node = node.items[seg];
        offset = (node as { range?: [number, number, number] }).range?.[0] ?? offset;
      } else break;
    }
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  private pairs(map: YAMLMap): Map<string, Pair> {
    let byKey = this.pairsOf.get(map);
    if (!byKey) {
      byKey = new Map();
      for (const p of map.items as Pair[]) {
        const key = isScalar(p.key) ? String(p.key.value) : String(p.key);
        if (!byKey.has(key)) byKey.set(key, p);
      }
      this.pairsOf.set(map, byKey);
    }
    return byKey;
  }

  problem(path: readonly PathSegment[], message: string, at: 'value' | 'key' = 'value'): Problem {
    return { file: this.file, ...this.position(path, at), path: displayPath(path), message };
  }
}
