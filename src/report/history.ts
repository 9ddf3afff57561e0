import { copyFile, mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { removeStaleTemps, tempPathFor } from '../util/atomic-file.js';

/** `2024-05-01T12-00-00.000Z`: a run's start time as a directory name. */
export function historyName(startedAt: string): string {
  const name = startedAt.replace(/:/g, '-').replace(/[^A-Za-z0-9._-]/g, '_');
  return name === '' || name.startsWith('.') ? `_${name}` : name;
}

/**
 * Copies this run's `files` (names in `dir`) to `dir/history/<startedAt>/`, complete or not at
 * all (copied into a temporary directory, then renamed), then keeps only the newest `keep`
 * run directories. `keep: 0` keeps none and copies nothing. Returns the new directory, if any.
 */
export async function saveHistory(dir: string, startedAt: string, files: readonly string[], keep: number): Promise<string | undefined> {
  const root = path.join(dir, 'history');
  await mkdir(root, { recursive: true });
  await removeStaleTemps(root);
  let target: string | undefined;
  if (keep > 0) {
    const base = historyName(startedAt);
    const existing = new Set(await readdir(root));
    let name = base;
    for (let n = 2; existing.has(name); n++) name = `${base}-${n}`;
    target = path.join(root, name);
    const tmp = tempPathFor(target);
    await mkdir(tmp);
    try {
      for (const file of files) await copyFile(path.join(dir, file), path.join(tmp, file));
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }
  await pruneHistory(root, keep);
  return target;
}

/** Removes all but the newest `keep` run directories of `root` (by name: ISO times sort in time order). */
export async function pruneHistory(root: string, keep: number): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true });
  const runs = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  const old = runs.slice(0, Math.max(0, runs.length - keep));
  for (const name of old) await rm(path.join(root, name), { recursive: true, force: true });
  return old;
}
