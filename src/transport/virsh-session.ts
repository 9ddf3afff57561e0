import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { abortError, TimeoutError, UnreachableError } from '../errors.js';
import { formatElapsed } from '../util/elapsed.js';
import { hostNowMs } from '../util/clock.js';
import { classifyVirshError, killVirshGroup, virshErrorLine, type VirshResult } from '../libvirt/virsh-cli.js';

/** Why virsh could not be started, as the error a session reports. */
function spawnFailure(virsh: string, cause: unknown): UnreachableError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return new UnreachableError(`virsh not found (${virsh}): install libvirt-clients`, 'VIRSH_MISSING', { cause });
  return new UnreachableError(`cannot run virsh (${virsh}): ${(cause as Error | undefined)?.message ?? String(cause)}`, 'VIRSH_FAILED', { cause });
}

/** The virsh process ended under a command: what the command did is not known. */
export class VirshSessionEndedError extends UnreachableError {}

/** What one command run in a session printed, and the host-clock bracket around it. */
export interface SessionOutput {
  stdout: string;
  stderr: string;
  /** From just before the command was written to virsh until its output was complete (epoch ms). */
  window: { startMs: number; endMs: number };
}

/** A session's output read as a virsh run: it failed when it printed an `error:` line. */
export function asVirshResult(out: SessionOutput): VirshResult {
  return { exitCode: /^error:/m.test(out.stderr) ? 1 : 0, stdout: out.stdout, stderr: out.stderr, commandWindow: out.window };
}

/** Options of {@link VirshSession} and {@link VirshSessionPool}. */
export interface VirshSessionOptions {
  uri: string;
  /** The virsh binary (default: `virsh` on PATH). */
  virsh?: string;
  /** libvirt keepalive `[interval s, count]`, so a dead hypervisor is noticed (remote URIs). */
  keepalive?: [number, number];
  /** Largest output one command may print, in bytes (a guest's reply is hostile input). */
  maxOutputBytes?: number;
}

const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;
// virsh's prompt, printed (with readline's echo of the command) before each command it reads.
const PROMPT = 'virsh # ';
// readline scrolls an echoed line longer than the screen with carriage returns: no scrolling.
const WIDE_SCREEN = { COLUMNS: '1000000', LINES: '1000' };

interface Pending {
  stdoutMark: string;
  stderrMark: string;
  stdoutEnd: number;
  stderrEnd: number;
  /** The lines virsh may echo into this command's output (its own, and the last marker's). */
  echoes: Set<string>;
  startMs: number;
  endMs: number;
  resolve: (out: SessionOutput) => void;
  reject: (err: Error) => void;
}

/**
 * One long-lived interactive `virsh -c URI` reading commands on stdin: one command in flight.
 * After each command it is told to echo a marker on stdout and on stderr
 * (`echo --split N,,K` prints `N,K`, which its own echoed command line never contains), so each
 * pipe is cut at its own marker and output and errors are attributed to the command that caused
 * them. N is random per session and never leaves this host, so a guest cannot forge it.
 */
export class VirshSession {
  readonly uri: string;
  private readonly child: ChildProcess | null;
  private readonly ended: Promise<void>;
  private readonly nonce = `qgaplay${randomBytes(12).toString('hex')}`;
  private readonly maxOutput: number;
  private seq = 0;
  private out = '';
  private err = '';
  private pending: Pending | null = null;
  private lastLines: string[] = [];
  private deadReason: UnreachableError | null = null;
  private startSettled = false;
  /** When the start began (Date.now()): a pool tells a hung start from a fresh one by it. */
  readonly startedAt = Date.now();
  /** Resolves when the session has connected (its first marker came back). */
  readonly ready: Promise<void>;

  constructor(options: VirshSessionOptions) {
    this.uri = options.uri;
    this.maxOutput = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    const keepalive = options.keepalive ? ['-k', String(options.keepalive[0]), '-K', String(options.keepalive[1])] : [];
    // node's spawn rather than execa (an argument array all the same, no shell): a session is a
    // stream for the run's life, not a command's result, and the session path of a run then
    // never loads execa's sixty modules.
    const virsh = options.virsh ?? 'virsh';
    let child: ChildProcess | null = null;
    let failure: unknown;
    try {
      child = spawn(virsh, [...keepalive, '-c', options.uri], {
        stdio: ['pipe', 'pipe', 'pipe'],
        // libvirt's messages are matched as text: keep them in English.
        env: { ...process.env, LC_ALL: 'C', LANG: 'C', ...WIDE_SCREEN },
        // Its own process group, so that a kill also ends the ssh it runs for a remote URI.
        detached: true,
      });
    } catch (err) {
      // Thrown, not emitted: an argument node refuses (a NUL byte), a path that cannot be one.
      failure = err;
    }
    this.child = child;
    this.ended = new Promise<void>((resolve) => {
      if (!child) return resolve();
      // First of all: an 'error' event nobody listens to ends the whole process.
      child.on('error', (cause: NodeJS.ErrnoException) => {
        this.die(spawnFailure(virsh, cause));
        resolve();
      });
      child.once('close', (exitCode: number | null, signal: NodeJS.Signals | null) => {
        const failure = classifyVirshError(this.err);
        // The connection itself failed (libvirtd gone, ssh refused): the hypervisor's fault.
        const code = failure.kind === 'unreachable' ? failure.code : 'VIRSH_FAILED';
        this.die(new VirshSessionEndedError(`virsh session on ${this.uri} ended (${signal ?? `exit ${String(exitCode)}`}): ${virshErrorLine(this.err)}`, code));
        resolve();
      });
    });
    if (child?.stdin && child.stdout && child.stderr) {
      child.stdin.on('error', () => undefined);
      child.stdout.on('error', () => undefined);
      child.stderr.on('error', () => undefined);
      child.stdout.setEncoding('utf8');
      child.stderr.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => this.onData('out', chunk));
      child.stderr.on('data', (chunk: string) => this.onData('err', chunk));
    } else {
      // No process, or no pipes to it (out of file descriptors: its 'error' event follows).
      this.die(spawnFailure(virsh, failure ?? new Error('no pipes to the process (out of file descriptors?)')));
    }
    // The first marker proves the connection: virsh connects before reading commands.
    this.ready = this.send('').then((o) => {
      if (/^error:/m.test(o.stderr)) {
        const failure = classifyVirshError(o.stderr);
        const code = failure.kind === 'unreachable' ? failure.code : 'LIBVIRT_UNAVAILABLE';
        throw new UnreachableError(`cannot connect to ${this.uri} (virsh: ${virshErrorLine(o.stderr)})`, code === 'VIRSH_FAILED' ? 'LIBVIRT_UNAVAILABLE' : code);
      }
    });
    this.ready.catch(() => this.kill());
    const settle = (): void => {
      this.startSettled = true;
    };
    this.ready.then(settle, settle);
  }

  /** True once the session has connected or failed to: a command sent now does not wait for its start. */
  get settled(): boolean {
    return this.startSettled;
  }

  /** Why the session can no longer be used, or null while it can. */
  get dead(): UnreachableError | null {
    return this.deadReason;
  }

  /**
   * Runs one virsh command line (a function: built once the session is ready, and whatever it
   * throws is the rejection). Rejects with TimeoutError at the deadline (the session is then
   * killed: virsh cannot abandon a command), with CanceledError on abort (killed too), and with
   * UnreachableError when the session dies.
   */
  async run(command: string | (() => string), timeoutMs: number, signal?: AbortSignal, what = this.uri, budgetMs = timeoutMs): Promise<SessionOutput> {
    if (signal?.aborted) throw abortError(signal);
    const deadline = Date.now() + timeoutMs;
    await this.waitReady(deadline, budgetMs, signal);
    // A line built now, not when the caller asked: see RequestOptions.atSend.
    const line = typeof command === 'function' ? command() : command;
    const sent = this.send(line);
    return this.bounded(sent, deadline, signal, `${what}: virsh ${line.split(' ')[0] ?? ''} got no answer within ${formatElapsed(budgetMs)}`, budgetMs);
  }

  private async waitReady(deadline: number, budgetMs: number, signal?: AbortSignal): Promise<void> {
    await this.bounded(this.ready, deadline, signal, `${this.uri} did not answer within ${formatElapsed(budgetMs)} (hypervisor connection: libvirt or ssh)`, budgetMs, 'LIBVIRT_UNAVAILABLE');
  }

  private bounded<T>(work: Promise<T>, deadline: number, signal: AbortSignal | undefined, message: string, timeoutMs: number, code?: 'LIBVIRT_UNAVAILABLE'): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const finish = (err: Error | null, value?: T): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(value as T);
      };
      const onAbort = (): void => {
        this.kill();
        finish(abortError(signal!));
      };
      const timer = setTimeout(() => {
        this.kill();
        finish(code ? new UnreachableError(message, code) : new TimeoutError(message, timeoutMs));
      }, Math.max(0, deadline - Date.now()));
      signal?.addEventListener('abort', onAbort, { once: true });
      work.then((v) => finish(null, v), (e: Error) => finish(e));
    });
  }

  private send(line: string): Promise<SessionOutput> {
    if (this.deadReason) return Promise.reject(this.deadReason);
    if (this.pending) return Promise.reject(new UnreachableError(`virsh session on ${this.uri} is busy`, 'VIRSH_FAILED'));
    const id = ++this.seq;
    const split = `${this.nonce},,${id}`;
    const lines = [...(line ? [line] : []), `echo --split ${split}`, `echo --err --split ${split}`];
    const echoes = new Set([...this.lastLines, ...lines]);
    this.lastLines = lines;
    return new Promise<SessionOutput>((resolve, reject) => {
      this.out = '';
      this.err = '';
      this.pending = {
        echoes,
        stdoutMark: `${this.nonce},${id}\n`,
        stderrMark: `error: ${this.nonce},${id}\n`,
        stdoutEnd: -1,
        stderrEnd: -1,
        startMs: hostNowMs(),
        endMs: 0,
        resolve,
        reject,
      };
      this.child!.stdin!.write(lines.map((l) => `${l}\n`).join(''));
    });
  }

  private onData(which: 'out' | 'err', chunk: string): void {
    const p = this.pending;
    if (!p) return;
    const before = which === 'out' ? this.out.length : this.err.length;
    if (which === 'out') this.out += chunk;
    else this.err += chunk;
    const buffer = which === 'out' ? this.out : this.err;
    const mark = which === 'out' ? p.stdoutMark : p.stderrMark;
    // Look only at what is new (and a marker's length back): linear in the bytes received.
    const found = buffer.indexOf(mark, Math.max(0, before - mark.length));
    if (found >= 0) {
      if (which === 'out') {
        p.stdoutEnd = found;
        p.endMs = hostNowMs();
      } else p.stderrEnd = found;
    } else if (buffer.length > this.maxOutput) {
      this.die(new UnreachableError(`virsh on ${this.uri} printed more than ${this.maxOutput} bytes for one command; session dropped`, 'VIRSH_FAILED'));
      return;
    }
    if (p.stdoutEnd >= 0 && p.stderrEnd >= 0) {
      this.pending = null;
      const stdout = this.out
        .slice(0, p.stdoutEnd)
        .split('\n')
        .filter((l) => !isEcho(l, p.echoes))
        .join('\n');
      const stderr = this.err.slice(0, p.stderrEnd);
      this.out = '';
      this.err = '';
      p.resolve({ stdout, stderr, window: { startMs: p.startMs, endMs: p.endMs } });
    }
  }

  private die(reason: UnreachableError): void {
    if (!this.deadReason) this.deadReason = reason;
    const p = this.pending;
    this.pending = null;
    p?.reject(this.deadReason);
    this.kill();
  }

  /** Ends the virsh process and its process group (ssh for a remote URI). */
  kill(): void {
    if (!this.deadReason) this.deadReason = new UnreachableError(`virsh session on ${this.uri} was closed`, 'VIRSH_FAILED');
    const p = this.pending;
    this.pending = null;
    p?.reject(this.deadReason);
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) killVirshGroup(this.child.pid);
  }

  /** Resolves when the process has exited. */
  async exited(): Promise<void> {
    await this.ended;
  }
}

/** A command waiting for a free session of a pool. */
interface Waiter {
  give(session: VirshSession): void;
  drop(err: Error): void;
}

/** A line that is virsh's prompt and echo of a command we sent, not output. */
function isEcho(line: string, echoes: Set<string>): boolean {
  let rest = line;
  while (rest.startsWith(PROMPT.trimEnd())) rest = rest.slice(PROMPT.length);
  return rest.trim() === '' ? line !== rest || line === '' : echoes.has(rest);
}

/**
 * Long-lived virsh sessions for one connection URI, shared by every VM of that URI: started on
 * demand (or ahead, by {@link VirshSessionPool.warm}), at most `size` at once, one command in
 * flight per session; a session that died or was killed at a deadline is dropped and a new one
 * started on demand.
 */
export class VirshSessionPool {
  readonly uri: string;
  readonly size: number;
  private readonly options: VirshSessionOptions;
  private readonly idle: VirshSession[] = [];
  private readonly all = new Set<VirshSession>();
  private readonly waiting: Waiter[] = [];
  private closed = false;
  private warmTarget = 0;
  /** Sessions started over the pool's life (for diagnostics and tests). */
  started = 0;

  constructor(options: VirshSessionOptions & { size: number }) {
    this.uri = options.uri;
    this.size = Math.max(1, options.size);
    this.options = options;
  }

  /** Runs a command line on a free session (a function: built once the session is free); see {@link VirshSession.run}. */
  async run(line: string | (() => string), timeoutMs: number, signal?: AbortSignal, what?: string): Promise<SessionOutput> {
    const deadline = Date.now() + timeoutMs;
    const session = await this.acquire(deadline, timeoutMs, signal);
    try {
      // Messages name the caller's budget, not what was left of it after waiting for a session.
      return await session.run(line, Math.max(0, deadline - Date.now()), signal, what, timeoutMs);
    } finally {
      this.release(session);
    }
  }

  /**
   * Starts sessions until `count` (at most the pool's size) are running, without waiting for
   * them: a run starts the ones it will need while it still looks up its targets.
   */
  warm(count: number): void {
    this.warmTarget = Math.min(count, this.size);
    this.warmNext();
  }

  /** Ends a {@link warm} still starting sessions (the run is over). */
  stopWarming(): void {
    this.warmTarget = 0;
  }

  private warmNext(): void {
    if (this.closed || this.all.size >= this.warmTarget) return;
    this.idle.unshift(this.startSession());
    // One start per turn of the event loop: a spawn blocks until virsh has exec'd (milliseconds
    // on a busy host), and the first session's command must not wait behind all of them.
    setImmediate(() => this.warmNext());
  }

  /**
   * A new session counted in the pool. Until it has connected it waits in `idle`; the first
   * waiter gets it when its start settles (a failed start too: that waiter reports the failure).
   */
  private startSession(): VirshSession {
    const s = new VirshSession(this.options);
    const settled = (): void => {
      const i = this.idle.indexOf(s);
      if (i < 0 || this.waiting.length === 0) return;
      this.idle.splice(i, 1);
      this.waiting.shift()!.give(s);
    };
    s.ready.then(settled, settled);
    this.started++;
    this.all.add(s);
    return s;
  }

  /** Starts one more session when the starts under way are all spoken for by waiters (and there is room). */
  private topUp(): void {
    if (this.closed || this.all.size >= this.size) return;
    const starting = this.idle.filter((s) => !s.settled).length;
    if (starting < this.waiting.length) this.idle.unshift(this.startSession());
  }

  private acquire(deadline: number, budgetMs: number, signal?: AbortSignal): Promise<VirshSession> {
    if (this.closed) return Promise.reject(new UnreachableError(`virsh sessions on ${this.uri} are closed`, 'VIRSH_FAILED'));
    if (signal?.aborted) return Promise.reject(abortError(signal));
    // The session that connected first, not one still starting: on a busy host the sessions of
    // a run connect tens of milliseconds apart, and a command bound to a late one waits for it
    // while others sit idle.
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const s = this.idle[i]!;
      if (!s.settled) continue;
      this.idle.splice(i, 1);
      if (!s.dead) return Promise.resolve(s);
      this.all.delete(s);
    }
    // No connected session free: wait for the first start to settle or the first release.
    const waitStart = Date.now();
    return new Promise<VirshSession>((resolve, reject) => {
      const waiter: Waiter = {
        give: (s) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(s);
        },
        drop: (err) => {
          const i = this.waiting.indexOf(waiter);
          if (i >= 0) this.waiting.splice(i, 1);
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      const onAbort = (): void => waiter.drop(abortError(signal!));
      const ms = Math.max(0, deadline - Date.now());
      const timer = setTimeout(() => {
        // A start pending through (nearly) all of this wait is the hypervisor connection's fault
        // (libvirtd or ssh hung), as a command on that session would have reported: that start
        // ends with the wait. A younger one (a replacement just begun) is left to connect.
        const slackMs = ms / 10;
        const hung = this.idle.filter((s) => !s.settled && s.startedAt <= waitStart + slackMs).sort((a, b) => a.startedAt - b.startedAt)[0];
        if (!hung) return waiter.drop(new TimeoutError(`all ${this.size} virsh sessions on ${this.uri} stayed busy for ${formatElapsed(ms)}`, ms));
        this.idle.splice(this.idle.indexOf(hung), 1);
        this.all.delete(hung);
        hung.kill();
        waiter.drop(new UnreachableError(`${this.uri} did not answer within ${formatElapsed(budgetMs)} (hypervisor connection: libvirt or ssh)`, 'LIBVIRT_UNAVAILABLE'));
        // Whoever still waits needs a start of its own.
        this.topUp();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
      this.topUp();
    });
  }

  private release(session: VirshSession): void {
    if (session.dead || this.closed) {
      this.all.delete(session);
      session.kill();
      // A slot came free: a new session for the first waiter, handed over once it has connected.
      this.topUp();
      return;
    }
    const next = this.waiting.shift();
    if (next) next.give(session);
    else this.idle.push(session);
  }

  /** Ends every session and waits for the processes to exit. */
  async close(): Promise<void> {
    this.closed = true;
    // Commands still waiting for a session end now, not at their deadlines.
    for (const w of this.waiting.splice(0)) w.drop(new UnreachableError(`virsh sessions on ${this.uri} are closed`, 'VIRSH_FAILED'));
    const sessions = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    for (const s of sessions) s.kill();
    await Promise.all(sessions.map((s) => s.exited()));
  }
}
