import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, openSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { chmod, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * Temporary files are `.<name>.<pid>.<random>.tmp` beside their target: hidden, never ending in
 * `.json`, `.xml` or `.prom` (node_exporter's textfile collector reads only `*.prom`), and
 * carrying the writer's pid so a later run can tell a dead writer's leftovers.
 */
const TEMP_RE = /^\..+\.(\d+)\.[0-9a-f]{12}\.tmp$/;

// One random draw per process, then a counter: unique within the process ('wx' refuses a clash
// with anyone else), and a thousand reports do not cost a thousand draws.
let tempSerial = randomBytes(6).readUIntBE(0, 6);

export function tempPathFor(file: string): string {
  tempSerial = (tempSerial + 1) % 2 ** 48;
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${tempSerial.toString(16).padStart(12, '0')}.tmp`);
}

/** True for a name `writeFileAtomic` uses while writing. */
export function isTempName(name: string): boolean {
  return TEMP_RE.test(name);
}

/**
 * Writes `data` to `file` so that readers see either the old complete file or the new complete
 * one: a temporary file in the same directory, flushed to disk, then renamed over `file`. An
 * existing file's mode is kept. On failure the temporary file is removed.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, options: { syncDir?: boolean } = {}): Promise<void> {
  const tmp = tempPathFor(file);
  let mode: number | undefined;
  try {
    mode = (await stat(file)).mode & 0o7777;
  } catch {
    mode = undefined;
  }
  let renamed = false;
  try {
    const handle = await open(tmp, 'wx');
    try {
      await handle.writeFile(data);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    if (mode !== undefined) await chmod(tmp, mode);
    await rename(tmp, file);
    renamed = true;
    // A caller writing many files to one directory flushes its entries once, at the end.
    if (options.syncDir !== false) await syncDirectory(path.dirname(file));
  } finally {
    if (!renamed) await unlink(tmp).catch(() => undefined);
  }
}

/**
 * {@link writeFileAtomic} for many small files at once, synchronously and without flushing each
 * file's data: a reader still sees the old or the new complete file (the rename is atomic), and
 * a thousand reports cost a few syscalls each instead of a disk flush each. The caller flushes
 * the directory's entries once. Stops at the first failure, leaving no temporary file behind.
 */
export function writeFilesAtomicSync(files: ReadonlyArray<{ file: string; data: string }>): void {
  for (const { file, data } of files) {
    const tmp = tempPathFor(file);
    const mode = statSync(file, { throwIfNoEntry: false })?.mode;
    let renamed = false;
    try {
      const fd = openSync(tmp, 'wx');
      try {
        writeFileSync(fd, data);
        if (mode !== undefined) fchmodSync(fd, mode & 0o7777);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, file);
      renamed = true;
    } finally {
      if (!renamed) {
        try {
          unlinkSync(tmp);
        } catch {
          // Never created.
        }
      }
    }
  }
}

/** Flushes a directory's entries (the rename) to disk; not every platform allows it. */
export async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Opening or syncing a directory is not supported everywhere (Windows): the rename stands.
  }
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Removes temporary files (and directories) in `dir` left by writers that are no longer running. Returns their names. */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const match = TEMP_RE.exec(name);
    if (!match || alive(Number(match[1]))) continue;
    try {
      await rm(path.join(dir, name), { recursive: true, force: true });
      removed.push(name);
    } catch {
      // Gone already, or not ours to remove.
    }
  }
  return removed;
}
