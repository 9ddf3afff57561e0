/**
 * Helpers for the lab tests (test/lab/**): names and paths of the lab's libvirt guests, whether
 * the lab is enabled, and a minimal raw QGA client used to check the lab itself (independent of
 * src/transport, which the lab tests exercise separately).
 *
 * Paths here must match scripts/lab/guests.sh.
 */
import net from 'node:net';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

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

export interface QgaError {
  class: string;
  desc: string;
}
export type QgaReply = { return: unknown } | { error: QgaError };

/**
 * A raw QGA connection to a unix socket (a guest's .1 channel or a host agent). Resynchronises
 * on connect with 0xFF + guest-sync-delimited (discarding any stale bytes), then runs calls one
 * at a time. Never half-closes (QEMU treats SHUT_WR as a disconnect).
 */
export class RawQga {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;

  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    const fail = (err: Error): void => {
      this.failure ??= err;
      this.waiter?.();
    };
    sock.on('error', fail);
    sock.on('close', () => fail(new Error('QGA socket closed')));
  }

  static async connect(socketPath: string, timeoutMs = 10_000): Promise<RawQga> {
    const sock = net.createConnection(socketPath);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        sock.destroy();
        reject(new Error(`connect ${socketPath}: timeout after ${timeoutMs} ms`));
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(t);
        resolve();
      });
      sock.once('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
    const qga = new RawQga(sock);
    try {
      await qga.sync(timeoutMs);
    } catch (e) {
      qga.close();
      throw e;
    }
    return qga;
  }

  private async waitFor<T>(take: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = take();
      if (v !== undefined) return v;
      if (this.failure) throw this.failure;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`QGA ${what}: no reply within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  private takeLine(): string | undefined {
    const nl = this.buf.indexOf(0x0a);
    if (nl < 0) return undefined;
    const line = this.buf.subarray(0, nl).toString('utf8');
    this.buf = this.buf.subarray(nl + 1);
    return line;
  }

  private async sync(timeoutMs: number): Promise<void> {
    const id = Math.floor(Math.random() * 2 ** 31);
    this.sock.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(JSON.stringify({ execute: 'guest-sync-delimited', arguments: { id } }))]));
    let afterMarker = false;
    await this.waitFor(
      () => {
        for (;;) {
          if (!afterMarker) {
            const ff = this.buf.indexOf(0xff);
            if (ff < 0) {
              this.buf = Buffer.alloc(0);
              return undefined;
            }
            this.buf = this.buf.subarray(ff + 1);
            afterMarker = true;
          }
          const line = this.takeLine();
          if (line === undefined) return undefined;
          afterMarker = false;
          try {
            if ((JSON.parse(line) as { return?: unknown }).return === id) return true;
          } catch {
            // stale or partial reply: keep looking
          }
        }
      },
      timeoutMs,
      'guest-sync-delimited',
    );
  }

  /** Sends one command and returns the agent's raw reply ({return} or {error}). */
  async request(execute: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<QgaReply> {
    this.sock.write(JSON.stringify(args === undefined ? { execute } : { execute, arguments: args }) + '\n');
    return this.waitFor(
      () => {
        for (;;) {
          const line = this.takeLine();
          if (line === undefined) return undefined;
          if (line.trim() === '') continue;
          return JSON.parse(line) as QgaReply;
        }
      },
      timeoutMs,
      execute,
    );
  }

  /** Like request(), but throws on an error reply. */
  async call<T = unknown>(execute: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<T> {
    const reply = await this.request(execute, args, timeoutMs);
    if ('error' in reply) throw new Error(`${execute}: ${reply.error.class}: ${reply.error.desc}`);
    return reply.return as T;
  }

  close(): void {
    this.sock.destroy();
  }
}

/** One command over a fresh raw connection. */
export async function qgaSocketRequest(socketPath: string, execute: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<QgaReply> {
  const qga = await RawQga.connect(socketPath, timeoutMs);
  try {
    return await qga.request(execute, args, timeoutMs);
  } finally {
    qga.close();
  }
}

export interface ExecResult {
  exitcode: number | undefined;
  signal: number | undefined;
  stdout: string;
  stderr: string;
}

/** guest-exec with captured output through a raw socket, polling guest-exec-status until exit. */
export async function guestExec(socketPath: string, path: string, args: string[] = [], timeoutMs = 30_000): Promise<ExecResult> {
  const qga = await RawQga.connect(socketPath, timeoutMs);
  try {
    const { pid } = await qga.call<{ pid: number }>('guest-exec', { path, arg: args, 'capture-output': true }, timeoutMs);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const st = await qga.call<{ exited: boolean; exitcode?: number; signal?: number; 'out-data'?: string; 'err-data'?: string }>(
        'guest-exec-status',
        { pid },
        timeoutMs,
      );
      if (st.exited) {
        return {
          exitcode: st.exitcode,
          signal: st.signal,
          stdout: Buffer.from(st['out-data'] ?? '', 'base64').toString('utf8'),
          stderr: Buffer.from(st['err-data'] ?? '', 'base64').toString('utf8'),
        };
      }
      if (Date.now() > deadline) throw new Error(`guest-exec ${path}: still running after ${timeoutMs} ms (pid ${pid})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    qga.close();
  }
}
