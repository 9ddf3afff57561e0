import picomatch from 'picomatch';
import { UsageError } from '../errors.js';

/**
 * A `--limit` value, as Ansible reads one: comma-separated globs, a VM matching any of them is
 * kept; `!GLOB` removes what matches; `&GLOB` keeps only what also matches. Only exclusions:
 * every VM but those. Throws a UsageError for an empty pattern.
 */
export function parseLimit(limit: string): (name: string) => boolean {
  const include: string[] = [];
  const exclude: string[] = [];
  const require: string[] = [];
  for (const raw of limit.split(',')) {
    const part = raw.trim();
    const glob = /^[!&]/.test(part) ? part.slice(1).trim() : part;
    if (glob === '') throw new UsageError(`--limit ${JSON.stringify(limit)} has an empty pattern; give globs separated by commas, \`!GLOB\` to exclude, \`&GLOB\` to require`);
    (part.startsWith('!') ? exclude : part.startsWith('&') ? require : include).push(glob);
  }
  const included = include.length > 0 ? picomatch(include) : () => true;
  const excluded = exclude.length > 0 ? picomatch(exclude) : () => false;
  const required = require.map((g) => picomatch(g));
  return (name) => included(name) && !excluded(name) && required.every((r) => r(name));
}
