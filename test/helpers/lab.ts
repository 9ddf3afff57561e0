/**
 * Helpers for the lab tests (test/lab/**): names and paths of the lab's libvirt guests, whether
 * the lab is enabled, and small QGA helpers built on the project's SocketTransport.
 *
 * Paths here must match scripts/lab/guests.sh.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { SocketTransport } from '../../src/transport/socket.js';
import { call, type Transport } from '../../src/transport/transport.js';
import type { GuestExecStatus, QgaCommandName } from '../../src/qga/agent-commands.js';
import type { RawReply } from '../../src/qga/protocol.js';

/** libvirt connection the lab uses. */
export const LAB_URI = 'qemu:///system';
/** Every lab guest is named `${LAB_PREFIX}-...`; `lab.sh down` removes only those. */
export const LAB_PREFIX = 'qgalab';
/** Number of regular guests the test setup brings up (`lab.sh up 3`). */
export const LAB_GUEST_COUNT = 3;
/** The regular guests: both agents running. */
export const LAB_GUESTS: readonly string[] = Array.from({ length: LAB_GUEST_COUNT }, (_, i) => `${LAB_PREFIX}-${i + 1}`);
/** Fault guests (`lab.sh variants`). */
export const LAB_VARIANTS = {
  /** Running, both channels configured, but no agent on .0 (the .1 agent runs). */
  noAgent: `${LAB_PREFIX}-noagent`,
  /** Running, no agent channel at all. */
  noChannel: `${LAB_PREFIX}-nochannel`,
  /** Defined but shut off. */
  off: `${LAB_PREFIX}-off`,
} as const;
/** A domain name that never exists. */
export const LAB_MISSING_GUEST = `${LAB_PREFIX}-does-not-exist`;
/** Channel names every lab guest (except nochannel) has. */
export const AGENT_CHANNEL_0 = 'org.qemu.guest_agent.0';
export const AGENT_CHANNEL_1 = 'org.qemu.guest_agent.1';

/** Project root, scripts/lab.sh, and the lab's cache dir (.lab/). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const LAB_SCRIPT = fileURLToPath(new URL('../../scripts/lab.sh', import.meta.url));
export const LAB_CACHE_DIR = fileURLToPath(new URL('../../.lab/', import.meta.url));
/** Runtime dir of the lab (sockets, consoles); override with LAB_RUN_DIR like lab.sh. */
export const LAB_RUN_DIR = process.env.LAB_RUN_DIR ?? '/run/qga-play-lab';

/** Host path of a guest's unix socket for org.qemu.guest_agent.N (N = 0 or 1). */
export function channelSocket(guest: string, n: 0 | 1 = 1): string {
  return `${LAB_RUN_DIR}/channels/${guest}.agent${n}.sock`;
}
/** Host path of a guest's serial console log. */
export function consoleLog(guest: string): string {
  return `${LAB_RUN_DIR}/console/${guest}.log`;
}

/**
 * Why the lab tests are skipped, or undefined when they run. The only way to skip is explicit:
 * QGA_PLAY_LAB=off. Anything else that is wrong fails the global setup loudly.
 */
export function labSkipReason(): string | undefined {
  if (process.env.QGA_PLAY_LAB === 'off') return 'QGA_PLAY_LAB=off: lab tests skipped (no libvirt guests started)';
  return undefined;
}

/** `describe`, or `describe.skip` with the reason printed once, for suites that need lab guests. */
export function labDescribe(describeFn: { (name: string, fn: () => void): void; skip: (name: string, fn: () => void) => void }): (name: string, fn: () => void) => void {
  const reason = labSkipReason();
  if (reason === undefined) return describeFn;
  return (name, fn) => {
    console.warn(`[lab] skipping "${name}": ${reason}`);
    describeFn.skip(name, fn);
  };
}

/** True when the lab image exists (lab.sh setup has run). */
export function labImageBuilt(): boolean {
  return existsSync(`${LAB_CACHE_DIR}image/initrd.img`);
}

/** Runs scripts/lab.sh with arguments; throws with its stderr on failure. */
export async function runLab(args: string[], timeoutMs = 600_000): Promise<{ stdout: string; stderr: string }> {
  const r = await execa('bash', [LAB_SCRIPT, ...args], { timeout: timeoutMs, stdin: 'ignore' });
  return { stdout: r.stdout, stderr: r.stderr };
}

/** `virsh -c qemu:///system qemu-agent-command DOMAIN JSON` (channel .0, through libvirt). */
export async function virshAgentCommand(guest: string, command: Record<string, unknown>, timeoutMs = 30_000): Promise<unknown> {
  const r = await execa('virsh', ['-c', LAB_URI, 'qemu-agent-command', guest, JSON.stringify(command)], {
    timeout: timeoutMs,
    stdin: 'ignore',
  });
  return (JSON.parse(r.stdout.trim()) as { return: unknown }).return;
}

export type QgaReply = RawReply['reply'];

/** One command over a fresh connection to a socket (resynchronised like every SocketTransport). */
export async function qgaSocketRequest(socketPath: string, execute: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<QgaReply> {
  const t = new SocketTransport({ path: socketPath });
  try {
    const raw = await t.request(args === undefined ? { execute } : { execute, arguments: args }, { timeoutMs });
    if (raw === null) throw new Error(`${execute}: no reply`);
    return raw.reply;
  } finally {
    await t.close();
  }
}

/** Sends one agent command and resolves with its `return` value. */
export type AgentCall = (execute: string, args?: Record<string, unknown>) => Promise<unknown>;

/** An AgentCall through a transport (an error reply rejects as AgentError). */
export function viaTransport(t: Transport, timeoutMs = 30_000): AgentCall {
  return (execute, args) => call(t, execute as QgaCommandName, args as never, { timeoutMs });
}

export interface ExecResult {
  pid: number;
  status: GuestExecStatus;
  exitcode: number | undefined;
  signal: number | undefined;
  stdout: string;
  stderr: string;
}

/**
 * The one guest-exec helper of the lab tests: starts `path args` (output captured unless
 * `capture: false`) and polls guest-exec-status every `pollMs` until it exited; throws when it
 * is still running after `timeoutMs`.
 */
export async function pollGuestExec(
  send: AgentCall,
  path: string,
  args: string[] = [],
  { timeoutMs = 30_000, pollMs = 50, capture = true }: { timeoutMs?: number; pollMs?: number; capture?: boolean } = {},
): Promise<ExecResult> {
  const { pid } = (await send('guest-exec', { path, arg: args, ...(capture && { 'capture-output': true }) })) as { pid: number };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = (await send('guest-exec-status', { pid })) as GuestExecStatus;
    if (status.exited) {
      return {
        pid,
        status,
        exitcode: status.exitcode,
        signal: status.signal,
        stdout: Buffer.from(status['out-data'] ?? '', 'base64').toString('utf8'),
        stderr: Buffer.from(status['err-data'] ?? '', 'base64').toString('utf8'),
      };
    }
    if (Date.now() > deadline) throw new Error(`guest-exec ${[path, ...args].join(' ')}: still running after ${timeoutMs} ms (pid ${pid})`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** guest-exec with captured output over a socket, polling guest-exec-status until exit. */
export async function guestExec(socketPath: string, path: string, args: string[] = [], timeoutMs = 30_000): Promise<ExecResult> {
  const t = new SocketTransport({ path: socketPath });
  try {
    return await pollGuestExec(viaTransport(t, timeoutMs), path, args, { timeoutMs });
  } finally {
    await t.close();
  }
}
