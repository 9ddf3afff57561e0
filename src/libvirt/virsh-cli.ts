import { abortError, TimeoutError, UnreachableError, type UnreachableCode } from '../errors.js';
import { formatElapsed } from '../util/elapsed.js';
import { hostNowMs } from '../util/clock.js';

/** How virsh's error text is read: an agent error (with its class recovered) or unreachable. */
export type VirshFailure =
  | { kind: 'agent'; command: string; errorClass: string; desc: string }
  | { kind: 'unreachable'; code: UnreachableCode; reason: string };

const UNREACHABLE_PATTERNS: [RegExp, UnreachableCode, string][] = [
  [/QEMU guest agent is not connected/i, 'AGENT_NOT_CONNECTED', 'guest agent is not connected (not running in the guest, or still booting)'],
  [/Guest agent not available for now|guest agent command timed out/i, 'AGENT_TIMEOUT', 'guest agent did not answer in time'],
  [/Guest agent disappeared while executing command|End of file from agent socket/i, 'AGENT_DISAPPEARED', 'guest agent disappeared while executing the command'],
  [/QEMU guest agent is not configured/i, 'AGENT_NOT_CONFIGURED', 'the domain has no guest agent channel configured'],
  [/domain is not running/i, 'DOMAIN_NOT_RUNNING', 'the domain is not running'],
  [/failed to get domain|Domain not found/i, 'NO_SUCH_DOMAIN', 'no such domain'],
  [
    /failed to connect to the hypervisor|Failed to connect socket|no connection driver available|keepalive timeout|Cannot recv data|Cannot write data|End of file while reading data|no valid connection|client socket is closed/i,
    'LIBVIRT_UNAVAILABLE',
    'cannot reach libvirt (hypervisor connection: libvirt or ssh)',
  ],
];

/** Classifies virsh's stderr (libvirt's messages, as listed in qga-facts.md). */
export function classifyVirshError(stderr: string): VirshFailure {
  const agent = /unable to execute QEMU agent command '([^']+)': ([\s\S]*)/.exec(stderr) ?? /guest agent command failed: ()([\s\S]*)/.exec(stderr);
  if (agent) {
    const desc = agent[2]!.trim().split('\n')[0]!.trim();
    return { kind: 'agent', command: agent[1]!, errorClass: recoverErrorClass(desc), desc };
  }
  for (const [pattern, code, reason] of UNREACHABLE_PATTERNS) {
    if (pattern.test(stderr)) return { kind: 'unreachable', code, reason };
  }
  return { kind: 'unreachable', code: 'VIRSH_FAILED', reason: 'virsh failed' };
}

/** virsh drops the agent's error class; recover it where the text allows. */
export function recoverErrorClass(desc: string): string {
  if (/has not been found|has been disabled/.test(desc)) return 'CommandNotFound';
  return 'GenericError';
}

/** The first `error: ...` line virsh printed, for messages. */
export function virshErrorLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const errors = lines.filter((l) => l.startsWith('error:')).map((l) => l.replace(/^error:\s*/, ''));
  return (errors.length > 0 ? errors.join('; ') : lines.join('; ')) || 'no message';
}

/**
 * Ends a virsh we started and whatever it started in turn: virsh runs in a process group of its
 * own (`detached`), so the ssh it opens for a remote URI goes with it instead of living on,
 * orphaned, against a host that never answers.
 */
export function killVirshGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone, with its group.
  }
}

/**
 * One word as virsh's own command-line parser reads it on stdin (single quotes keep it literal),
 * or undefined when it holds a quote or a line break, which no quoting can carry there.
 */
export function virshQuote(word: string): string | undefined {
  return /['\n\r]/.test(word) ? undefined : `'${word}'`;
}

/** Options of {@link runVirsh}. */
export interface VirshRunOptions {
  uri: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** The virsh binary (default: `virsh` on PATH). */
  virsh?: string;
  /** What the call was about, for messages (e.g. `web-1 on qemu:///system`). */
  what: string;
  /**
   * A virsh command line to send on stdin instead of `args`, so that nothing secret shows in
   * the process table. virsh then runs it interactively: its echo and prompts are removed.
   */
  stdinCommand?: string;
}

export interface VirshResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /**
   * Host-clock bracket (epoch ms) around the command: from just before virsh was started (or
   * the command written to a session) until its output was complete. Whatever virsh did, it did
   * inside this window; a window read from virsh's own `-t` timing line is not a bound (its
   * output can reach us long after the fact on a busy host).
   */
  commandWindow?: { startMs: number; endMs: number };
}

/**
 * Runs `virsh -c URI ARGS...` with an argument array, a hard deadline on the subprocess and the
 * caller's AbortSignal. Resolves with the outcome of a run that finished (exit code included);
 * rejects only when virsh could not be run or did not finish.
 */
export async function runVirsh(args: string[], options: VirshRunOptions): Promise<VirshResult> {
  if (options.signal?.aborted) throw abortError(options.signal);
  const interactive = options.stdinCommand !== undefined;
  const argv = [...(interactive ? ['-q'] : []), '-c', options.uri, ...(interactive ? [] : args)];
  // Loaded on the first process: a run through virsh sessions or sockets never needs execa.
  const { execa } = await import('execa');
  const startMs = hostNowMs();
  const subprocess = execa(options.virsh ?? 'virsh', argv, {
    timeout: Math.max(1, Math.round(options.timeoutMs)),
    cancelSignal: options.signal,
    reject: false,
    buffer: false,
    ...(interactive ? { input: `${options.stdinCommand}\n` } : { stdin: 'ignore' as const }),
    // libvirt's messages are matched as text: keep them in English.
    env: { LC_ALL: 'C', LANG: 'C' },
    forceKillAfterDelay: 1000,
    // Its own process group: what virsh started (ssh) is ended with it (killVirshGroup).
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  subprocess.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  subprocess.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const result = await subprocess;
  const endMs = hostNowMs();
  if (result.isCanceled || result.timedOut) killVirshGroup(subprocess.pid);
  if (result.isCanceled) throw abortError(options.signal!);
  if (result.timedOut) {
    throw new TimeoutError(`${options.what}: virsh ${args[0] ?? ''} got no answer within ${formatElapsed(options.timeoutMs)}`, options.timeoutMs);
  }
  const cause = (result as { cause?: unknown }).cause as NodeJS.ErrnoException | undefined;
  if (cause?.code === 'ENOENT') {
    throw new UnreachableError(`virsh not found (${options.virsh ?? 'virsh'}): install libvirt-clients`, 'VIRSH_MISSING', { cause });
  }
  if (result.exitCode === undefined) {
    throw new UnreachableError(`${options.what}: virsh ended by ${result.signal ?? 'a signal'}`, 'VIRSH_FAILED', { cause });
  }
  if (interactive) {
    // Interactive virsh echoes the command after its prompt and exits 0 whatever happened.
    stdout = stdout.split('\n').filter((line) => !line.startsWith('virsh #')).join('\n');
    result.exitCode = /^error:/m.test(stderr) ? 1 : result.exitCode;
  }
  return { exitCode: result.exitCode, stdout, stderr, commandWindow: { startMs, endMs } };
}

/** Turns a failed virsh run that is not an agent error into an UnreachableError. */
export function unreachableFrom(result: VirshResult, what: string, failure = classifyVirshError(result.stderr)): UnreachableError {
  const code = failure.kind === 'unreachable' ? failure.code : 'VIRSH_FAILED';
  const reason = failure.kind === 'unreachable' ? failure.reason : 'virsh failed';
  return new UnreachableError(`${what}: ${reason} (virsh: ${virshErrorLine(result.stderr)})`, code);
}
