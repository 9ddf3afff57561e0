import { execa, type ResultPromise } from 'execa';
import { LineSplitter, parseEventLine, type DomainEvent } from './events.js';

/** What a follower tells its owner. */
export type FollowerEvent =
  | { type: 'event'; uri: string; event: DomainEvent }
  /** The stream has stayed up long enough to count as connected (`reconnect`: not the first time). */
  | { type: 'up'; uri: string; reconnect: boolean }
  /** The stream ended; the next attempt starts after `retryInMs`. */
  | { type: 'down'; uri: string; reason: string; retryInMs: number };

/** Options of {@link EventFollower}. */
export interface FollowerOptions {
  uri: string;
  /** The virsh binary (default: `virsh` on PATH). */
  virsh?: string;
  onEvent: (event: FollowerEvent) => void;
  /** How long a new stream must live to count as connected (virsh prints nothing on connect). Default 1 s. */
  upAfterMs?: number;
  /** First and largest pause between attempts. Defaults 500 ms and 30 s. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
}

/**
 * Follows one libvirt connection's domain events through one long-lived
 * `virsh -c URI event --all --loop --timestamp`; when it ends (libvirtd restarted, ssh dropped,
 * hypervisor unreachable), starts it again after an exponential backoff with jitter.
 */
export class EventFollower {
  private child: ResultPromise | undefined;
  private stopped = false;
  private everUp = false;
  private failures = 0;
  private upTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** Streams started so far (the first included). */
  starts = 0;
  up = false;

  constructor(private readonly options: FollowerOptions) {}

  get uri(): string {
    return this.options.uri;
  }

  /** The pid of the current virsh, if one runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.stopped || this.child) return;
    const { uri } = this.options;
    this.starts++;
    let stderrTail = '';
    const child = execa(this.options.virsh ?? 'virsh', ['-c', uri, 'event', '--all', '--loop', '--timestamp'], {
      stdin: 'ignore',
      buffer: false,
      reject: false,
      // virsh translates event names: its parser expects the C locale's words.
      env: { LC_ALL: 'C', LANG: 'C' },
    });
    this.child = child;
    const splitter = new LineSplitter((line) => {
      const event = parseEventLine(line);
      if (event) this.options.onEvent({ type: 'event', uri, event });
    });
    child.stdout.on('data', (chunk: Buffer) => splitter.write(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      // Only the last words matter (why it ended): keep a bounded tail.
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-2000);
    });
    this.upTimer = setTimeout(() => {
      this.up = true;
      this.failures = 0;
      const reconnect = this.everUp;
      this.everUp = true;
      this.options.onEvent({ type: 'up', uri, reconnect });
    }, this.options.upAfterMs ?? 1000);
    this.exited = child.then(
      (result) => this.ended(child, result.exitCode, result.signal, stderrTail),
      (err: unknown) => this.ended(child, undefined, undefined, `${stderrTail}${(err as Error).message}`),
    );
  }

  private ended(child: ResultPromise, exitCode: number | undefined, signal: string | undefined, stderr: string): void {
    if (this.child !== child) return;
    clearTimeout(this.upTimer);
    this.child = undefined;
    this.up = false;
    if (this.stopped) return;
    const last = stderr
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .slice(-2)
      .join(' ');
    const how = signal ? `killed by ${signal}` : `exit code ${exitCode ?? '?'}`;
    const reason = last ? `${last} (${how})` : `virsh event ended (${how})`;
    const min = this.options.backoffMinMs ?? 500;
    const max = this.options.backoffMaxMs ?? 30_000;
    const base = Math.min(max, min * 2 ** Math.min(this.failures, 16));
    this.failures++;
    // Jitter: many watches restarting with one libvirtd must not reconnect in step.
    const retryInMs = Math.round(base * (0.75 + Math.random() * 0.5));
    this.options.onEvent({ type: 'down', uri: this.options.uri, reason, retryInMs });
    this.retryTimer = setTimeout(() => this.start(), retryInMs);
  }

  /** Stops following: kills the current virsh by its pid and waits until it is gone. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.upTimer);
    clearTimeout(this.retryTimer);
    const child = this.child;
    if (child?.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
      const kill = setTimeout(() => {
        try {
          process.kill(child.pid!, 'SIGKILL');
        } catch {
          // Gone.
        }
      }, 2000);
      await this.exited;
      clearTimeout(kill);
    }
    this.child = undefined;
    this.up = false;
  }
}
