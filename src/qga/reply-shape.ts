/**
 * Checks of a reply's `return` against the shape qga-play reads from it (QEMU's
 * qga/qapi-schema.json). Guest data is hostile: a reply of the wrong shape is refused where it
 * arrives, with a message that names what was wrong, instead of being read as something else.
 * No I/O; each check is one pass over the value.
 */

/** Says what is wrong with `value` at `where` (a path such as `return[0].name`), or nothing. */
export type Shape = (value: unknown, where: string) => string | undefined;

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return Number.isFinite(value) ? 'a number' : 'not a finite number';
  return `a ${typeof value}`;
}

const wrong = (where: string, wanted: string, value: unknown): string => `${where} is ${kindOf(value)}, not ${wanted}`;

export const str: Shape = (v, where) => (typeof v === 'string' ? undefined : wrong(where, 'a string', v));
export const bool: Shape = (v, where) => (typeof v === 'boolean' ? undefined : wrong(where, 'true or false', v));
/** A finite number (1e400 parses as Infinity: a number, but no value). */
export const num: Shape = (v, where) => (typeof v === 'number' && Number.isFinite(v) ? undefined : wrong(where, 'a number', v));
export const int: Shape = (v, where) => (Number.isInteger(v) ? undefined : wrong(where, 'a whole number', v));
/** Any object (its members are not read). */
export const anyObject: Shape = (v, where) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? undefined : wrong(where, 'an object', v));
/** Any list (its items are passed on as they are). */
export const anyList: Shape = (v, where) => (Array.isArray(v) ? undefined : wrong(where, 'a list', v));

/** One of the given strings. */
export function oneOf(...values: readonly string[]): Shape {
  // The guest's string is not echoed: it may hold anything, a secret included.
  return (v, where) => (typeof v === 'string' && values.includes(v) ? undefined : `${where} is ${typeof v === 'string' ? 'another string' : kindOf(v)}, not one of ${values.map((x) => JSON.stringify(x)).join(', ')}`);
}

export function listOf(item: Shape): Shape {
  return (v, where) => {
    if (!Array.isArray(v)) return wrong(where, 'a list', v);
    for (let i = 0; i < v.length; i++) {
      const problem = item(v[i], `${where}[${i}]`);
      if (problem !== undefined) return problem;
    }
    return undefined;
  };
}

/** A member that may be absent; when present it must have `shape`. */
export interface Optional {
  optional: Shape;
}
export const optional = (shape: Shape): Optional => ({ optional: shape });

const member = (where: string, key: string): string => (/^[a-z_][a-z0-9_]*$/i.test(key) ? `${where}.${key}` : `${where}[${JSON.stringify(key)}]`);

/** An object with these members (others are ignored: newer agents add members). */
export function object(members: Record<string, Shape | Optional>): Shape {
  const entries = Object.entries(members);
  const wanted = `an object with ${entries.filter(([, s]) => typeof s === 'function').map(([k]) => k).join(', ') || 'members'}`;
  return (v, where) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return wrong(where, wanted, v);
    const record = v as Record<string, unknown>;
    for (const [key, spec] of entries) {
      const present = Object.hasOwn(record, key);
      if (typeof spec === 'function') {
        if (!present) return `${where} has no ${key}`;
        const problem = spec(record[key], member(where, key));
        if (problem !== undefined) return problem;
      } else if (present) {
        const problem = spec.optional(record[key], member(where, key));
        if (problem !== undefined) return problem;
      }
    }
    return undefined;
  };
}
