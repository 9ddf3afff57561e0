import { beforeAll, describe, expect, test } from '@jest/globals';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireLock, LOCK_FILE, LockedError } from '../../src/report/index.js';
import { CanceledError, QgaPlayError } from '../../src/errors.js';
import { buildReportModule } from '../../fixtures/report/build.js';

const HOLD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/report/hold-lock.mjs');
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'lock-'));

/** A real second process holding the lock file the way a run does, until it is told to go. */
async function holder(dir: string, startedAt: string, holdMs: number) {
  const script = `
    const fs = require('node:fs'), os = require('node:os');
    fs.writeFileSync(process.argv[1], JSON.stringify({ pid: process.pid, startedAt: process.argv[2], hostname: os.hostname(), argv: ['qga-play', 'run', 'x.yaml'], token: 't' }), { flag: 'wx' });
    process.stdout.write('ready\\n');
    setTimeout(() => { fs.unlinkSync(process.argv[1]); process.exit(0); }, Number(process.argv[3]));`;
  const child = execa(process.execPath, ['-e', script, path.join(dir, LOCK_FILE), startedAt, String(holdMs)]);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.catch(reject);
  });
  // Wrapped: the subprocess is a promise, and returning it bare would wait for it to end.
  return { child };
}

async function deadPid(): Promise<number> {
  const child = execa(process.execPath, ['-e', '']);
  const pid = child.pid ?? 999_999;
  await child;
  return pid;
}

describe('acquireLock', () => {
  test('creates DIR/.qga-play.lock with pid, start time, hostname and argv; release removes it', async () => {
    const dir = path.join(tmp(), 'new', 'dir');
    const lock = await acquireLock(dir, { waitMs: 0 });
    expect(lock.file).toBe(path.join(dir, LOCK_FILE));
    const info = JSON.parse(readFileSync(lock.file, 'utf8')) as Record<string, unknown>;
    expect(info).toMatchObject({ pid: process.pid, hostname: os.hostname(), argv: process.argv.slice(1) });
    expect(Date.parse(String(info.startedAt))).toBeGreaterThan(Date.now() - 10_000);
    await lock.release();
    expect(existsSync(lock.file)).toBe(false);
    expect(readdirSync(dir)).toEqual([]); // nothing else left behind
    await lock.release(); // twice is fine
    await (await acquireLock(dir, { waitMs: 0 })).release();
  });

  test('a second run in the same process is refused while the first holds it', async () => {
    const dir = tmp();
    const first = await acquireLock(dir, { waitMs: 0 });
    await expect(acquireLock(dir, { waitMs: 0 })).rejects.toBeInstanceOf(LockedError);
    await first.release();
  });

  test('held by another live process: LockedError (code LOCKED) naming the file, pid and start time', async () => {
    const dir = tmp();
    const { child } = await holder(dir, '2024-05-01T12:00:00.000Z', 10_000);
    try {
      const err = await acquireLock(dir, { waitMs: 0 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LockedError);
      expect(err).toBeInstanceOf(QgaPlayError);
      const locked = err as LockedError;
      expect(locked.code).toBe('LOCKED');
      expect(locked.message).toContain(path.join(dir, LOCK_FILE));
      expect(locked.message).toContain(`pid ${child.pid}`);
      expect(locked.message).toContain('started 2024-05-01T12:00:00.000Z');
      expect(locked.holder).toMatchObject({ pid: child.pid, hostname: os.hostname(), argv: ['qga-play', 'run', 'x.yaml'] });
      expect(locked.message).toMatch(/^Another qga-play run is using this report directory: .* is held by pid \d+ on .*, started 2024-05-01T12:00:00.000Z \(qga-play run x.yaml\)\. If no such run is going on, remove the lock file\.$/);

      const started = Date.now();
      await expect(acquireLock(dir, { waitMs: 400, pollMs: 50 })).rejects.toThrow(/after waiting 0\.4 s/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    } finally {
      child.kill();
      await child.catch(() => undefined);
    }
  });

  test('waits for the holder to finish, then takes the lock', async () => {
    const dir = tmp();
    const { child } = await holder(dir, new Date().toISOString(), 400);
    const started = Date.now();
    const lock = await acquireLock(dir, { waitMs: 10_000, pollMs: 50 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(Date.now() - started).toBeLessThan(5000);
    expect((JSON.parse(readFileSync(lock.file, 'utf8')) as { pid: number }).pid).toBe(process.pid);
    await lock.release();
    await child;
  });

  test('a lock left by a dead process on this host is taken over', async () => {
    const dir = tmp();
    const pid = await deadPid();
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid, startedAt: '2024-01-01T00:00:00.000Z', hostname: os.hostname(), argv: [] }));
    const lock = await acquireLock(dir, { waitMs: 0 });
    expect((JSON.parse(readFileSync(lock.file, 'utf8')) as { pid: number }).pid).toBe(process.pid);
    await lock.release();
  });

  test('a dead pid on another host is not taken over (it may be alive there)', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: await deadPid(), startedAt: '2024-01-01T00:00:00.000Z', hostname: 'other-host.example', argv: [] }));
    await expect(acquireLock(dir, { waitMs: 0 })).rejects.toThrow(/on other-host\.example, started 2024-01-01T00:00:00\.000Z/);
  });

  test('many takers of one stale lock: exactly one gets it', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: await deadPid(), startedAt: '2024-01-01T00:00:00.000Z', hostname: os.hostname(), argv: [] }));
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => acquireLock(dir, { waitMs: 0 })));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(LockedError);
    await (won[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
  });

  test('an abort while waiting rejects with CanceledError', async () => {
    const dir = tmp();
    const first = await acquireLock(dir, { waitMs: 0 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new CanceledError('interrupted by SIGINT')), 100);
    await expect(acquireLock(dir, { waitMs: 10_000, signal: controller.signal })).rejects.toThrow(new CanceledError('interrupted by SIGINT'));
    await expect(acquireLock(dir, { waitMs: 0, signal: controller.signal })).rejects.toBeInstanceOf(CanceledError);
    await first.release();
  });

  test('bad options are refused', async () => {
    await expect(acquireLock(tmp(), { waitMs: -1 })).rejects.toThrow('Expected the `waitMs` option to be a non-negative number, got `-1` (number)');
  });
});

describe('acquireLock across processes (compiled src/report)', () => {
  let mod = '';
  beforeAll(async () => {
    mod = await buildReportModule();
  }, 60_000);

  test('processes racing for a stale lock: exactly one gets it, the others are told who holds it', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: await deadPid(), startedAt: '2024-01-01T00:00:00.000Z', hostname: os.hostname(), argv: [] }));
    const outs = await Promise.all(Array.from({ length: 4 }, () => execa(process.execPath, [HOLD, mod, dir, '1500'])));
    const lines = outs.map((o) => String(o.stdout).trim());
    const got = lines.filter((l) => l.startsWith('got '));
    expect(got).toHaveLength(1);
    const winner = got[0]?.split(' ')[1];
    for (const l of lines.filter((x) => !x.startsWith('got '))) expect(l).toMatch(new RegExp(`^locked LOCKED .*held by pid ${winner} `));
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
  });

  test('a process that exits without releasing leaves no lock behind', async () => {
    const dir = tmp();
    const out = await execa(process.execPath, [HOLD, mod, dir, '10', 'exit']);
    expect(String(out.stdout)).toMatch(/^got \d+/);
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
  });

  test('a process killed with SIGKILL leaves its lock, which the next run takes over', async () => {
    const dir = tmp();
    const child = execa(process.execPath, [HOLD, mod, dir, '60000']);
    await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
    child.kill('SIGKILL');
    await child.catch(() => undefined);
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(true);
    const lock = await acquireLock(dir, { waitMs: 0 });
    await lock.release();
  });
});
