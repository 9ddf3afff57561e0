import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { link, mkdir, open, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { abortError, LockedError, UsageError, type LockHolder } from '../errors.js';
import { tempPathFor } from '../util/atomic-file.js';

export const LOCK_FILE = '.qga-play.lock';

/** What a lock file holds. */
export interface LockInfo extends LockHolder {
  /** Tells this holder's file from another's with the same pid. */
  token: string;
}

export interface Lock {
  /** The lock file. */
  file: string;
  /** Removes the lock file if it is still this run's. Safe to call twice. */
  release(): Promise<void>;
}

export interface AcquireLockOptions {
  /** How long to wait for another run to finish, in ms (0: do not wait). */
  waitMs: number;
  signal?: AbortSignal;
  /** Time between two tries while waiting (default 100 ms). */
  pollMs?: number;
}

function parseLock(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (typeof v.pid !== 'number' || typeof v.startedAt !== 'string' || typeof v.hostname !== 'string') return undefined;
    return { pid: v.pid, startedAt: v.startedAt, hostname: v.hostname, argv: Array.isArray(v.argv) ? v.argv.map(String) : [], token: String(v.token ?? '') };
  } catch {
    return undefined;
  }
}

async function readLock(file: string): Promise<{ info: LockInfo | undefined; text: string; mtimeMs: number } | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    return { info: parseLock(text), text, mtimeMs: st.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** An unreadable lock file older than this is taken as left behind. */
const UNREADABLE_STALE_MS = 10_000;

function isStale(held: { info: LockInfo | undefined; mtimeMs: number }): boolean {
  if (!held.info) return Date.now() - held.mtimeMs > UNREADABLE_STALE_MS;
  return held.info.hostname === hostname() && held.info.pid !== process.pid && processGone(held.info.pid);
}

/** Creates `file` holding `text`, complete or not at all: written beside it, then hard-linked. */
async function createExclusive(file: string, text: string): Promise<boolean> {
  // A temporary name writeReports recognises, so a leftover from a killed process is cleaned up.
  const tmp = tempPathFor(file);
  await writeFile(tmp, text, { flag: 'wx' });
  try {
    await link(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
    // No hard links on this file system: an exclusive create, then the content.
    try {
      const handle = await open(file, 'wx');
      try {
        await handle.writeFile(text);
      } finally {
        await handle.close();
      }
      return true;
    } catch (inner) {
      if ((inner as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw inner;
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/**
 * Removes a stale lock file, if it is still the one we judged stale. Only one process at a time
 * may do this (an exclusive `.takeover` file), so two runs cannot both take the same stale lock
 * over and end up each holding a lock.
 */
async function removeStale(file: string, staleText: string): Promise<boolean> {
  const guard = `${file}.takeover`;
  let created = false;
  try {
    created = await createExclusive(guard, JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString(), hostname: hostname(), argv: [] }));
    if (!created) {
      const held = await readLock(guard);
      if (held && isStale(held)) await unlink(guard).catch(() => undefined);
      return false;
    }
    const now = await readLock(file);
    if (now && now.text === staleText) await unlink(file).catch(() => undefined);
    return true;
  } finally {
    if (created) await unlink(guard).catch(() => undefined);
  }
}

/**
 * Takes the lock of a report directory: `dir/.qga-play.lock`, created exclusively, holding
 * pid, start time, hostname and argv. While another live run holds it, tries again every
 * `pollMs` for up to `waitMs`, then throws {@link LockedError}. A lock left by a process that
 * is gone (same host, `kill(pid, 0)` says ESRCH) is taken over. The lock is also removed if
 * the process exits without releasing it.
 */
export async function acquireLock(dir: string, options: AcquireLockOptions): Promise<Lock> {
  const { waitMs, signal } = options;
  const pollMs = options.pollMs ?? 100;
  if (!(Number.isFinite(waitMs) && waitMs >= 0)) throw new UsageError(`Expected the \`waitMs\` option to be a non-negative number, got \`${String(waitMs)}\` (${typeof waitMs})`);
  if (!(Number.isFinite(pollMs) && pollMs > 0)) throw new UsageError(`Expected the \`pollMs\` option to be a positive number, got \`${String(pollMs)}\` (${typeof pollMs})`);
  if (signal?.aborted) throw abortError(signal);

  await mkdir(dir, { recursive: true });
  const file = path.join(path.resolve(dir), LOCK_FILE);
  const info: LockInfo = { pid: process.pid, startedAt: new Date().toISOString(), hostname: hostname(), argv: process.argv.slice(1), token: randomBytes(8).toString('hex') };
  const text = `${JSON.stringify(info, null, 2)}\n`;
  const started = Date.now();

  for (;;) {
    if (await createExclusive(file, text)) break;
    const held = await readLock(file);
    if (held === undefined) continue; // Released between our two looks: try again at once.
    if (isStale(held)) {
      // Another process is taking it over right now: give it a moment.
      if (!(await removeStale(file, held.text))) await sleep(10);
      continue;
    }
    const waited = Date.now() - started;
    if (waited >= waitMs) throw new LockedError(file, held.info, waitMs > 0 ? waited : 0);
    try {
      await sleep(Math.min(pollMs, waitMs - waited), undefined, signal ? { signal } : {});
    } catch {
      throw abortError(signal as AbortSignal);
    }
  }

  let released = false;
  const ours = async (): Promise<boolean> => (await readLock(file))?.text === text;
  const onExit = (): void => {
    try {
      if (readFileSync(file, 'utf8') === text) unlinkSync(file);
    } catch {
      // Nothing left to clean.
    }
  };
  process.once('exit', onExit);
  return {
    file,
    async release() {
      if (released) return;
      released = true;
      process.off('exit', onExit);
      if (await ours()) await unlink(file).catch(() => undefined);
    },
  };
}
