/**
 * Real host qemu-ga agents for tests and benchmarks (scripts/lab.sh agents).
 *
 * A host agent runs on THIS machine: guest-exec runs here and guest-file-* writes here. The lab
 * script always starts it with `-b` blocking every host-changing command (HOST_AGENT_BLOCKED),
 * and restarts it when it exits (a host qemu-ga exits when a client leaves mid-reply).
 * Keep guest-exec to harmless commands and file writes to temp dirs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { HOST_CHANGING_COMMANDS } from '../../src/qga/agent-commands.js';

export interface HostAgents {
  /** Temp dir holding the sockets, state dirs, logs and pids. Removed by stop(). */
  dir: string;
  /** One unix socket per agent (`DIR/agent-K.sock`), in order. */
  sockets: string[];
  /** Stops exactly these agents (restart loops and their qemu-ga) and removes dir. Idempotent. */
  stop(): Promise<void>;
}

/** Commands every host agent blocks (answering CommandNotFound "Command X has been disabled"). */
export const HOST_AGENT_BLOCKED: readonly string[] = HOST_CHANGING_COMMANDS;

/** Absolute path of scripts/lab.sh. */
export const LAB_SCRIPT = fileURLToPath(new URL('../../scripts/lab.sh', import.meta.url));

/** Starts n host agents in a fresh temp dir; resolves once every socket exists. */
export async function startHostAgents(n: number): Promise<HostAgents> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`startHostAgents: n must be a positive integer, got ${n}`);
  // Short prefix: unix socket paths are limited to 107 bytes.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'qga-ha-'));
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    try {
      await execa('bash', [LAB_SCRIPT, 'agents', 'stop', dir], { timeout: 30_000 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  try {
    const { stdout } = await execa('bash', [LAB_SCRIPT, 'agents', 'start', String(n), dir], { timeout: 120_000 });
    const sockets = stdout.split('\n').filter((line) => line.length > 0);
    if (sockets.length !== n) throw new Error(`lab.sh agents start printed ${sockets.length} sockets, expected ${n}`);
    return { dir, sockets, stop };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
