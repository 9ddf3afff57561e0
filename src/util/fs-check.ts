import { mkdir, open, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { tempPathFor } from './atomic-file.js';

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  EEXIST: 'exists and is not a directory',
  ENOENT: 'no such directory',
  ENAMETOOLONG: 'name too long',
  EIO: 'input/output error',
};

/** A file-system failure in words: `no space left on device (ENOSPC, writing /x/.a.tmp)`. */
export function fsReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const reason = (e.code && REASONS[e.code]) ?? e.message ?? String(err);
  const detail = [e.code, e.syscall && e.path ? `${e.syscall} ${e.path}` : undefined].filter(Boolean).join(', ');
  return detail ? `${reason} (${detail})` : reason;
}

/**
 * Makes sure files can be created in `dir` (creating it when missing): a probe file is written
 * and removed. Returns what is wrong, or undefined.
 */
export async function probeWritableDir(dir: string): Promise<string | undefined> {
  try {
    await mkdirWithCause(dir);
    const probe = tempPathFor(path.join(dir, 'probe'));
    const handle = await open(probe, 'wx');
    try {
      await handle.writeFile('probe\n');
    } finally {
      await handle.close();
      await unlink(probe).catch(() => undefined);
    }
    return undefined;
  } catch (err) {
    return fsReason(err);
  }
}

/** mkdir -p, failing with the real reason: a recursive mkdir says ENOENT where it meant EROFS or EACCES. */
async function mkdirWithCause(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    let missing = path.resolve(dir);
    while (path.dirname(missing) !== missing && !(await stat(path.dirname(missing)).catch(() => undefined))) missing = path.dirname(missing);
    await mkdir(missing);
    throw err;
  }
}

/** Makes sure `file` can be written atomically: not a directory, in a writable directory. */
export async function probeWritableFile(file: string): Promise<string | undefined> {
  const st = await stat(file).catch(() => undefined);
  if (st?.isDirectory()) return 'is a directory';
  const dir = path.dirname(file);
  const dirStat = await stat(dir).catch((err: unknown) => err as Error);
  if (dirStat instanceof Error) return `its directory ${dir}: ${fsReason(dirStat)}`;
  if (!dirStat.isDirectory()) return `${dir} is not a directory`;
  const problem = await probeWritableDir(dir);
  return problem === undefined ? undefined : `its directory ${dir}: ${problem}`;
}
