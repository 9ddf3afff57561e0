/** Why a domain is run: the events (or passes) that asked for it since its last run began. */
export interface RunRequest<R> {
  /** The first reason and when it came (ms since the epoch): the delay is measured from it. */
  first: R;
  firstAtMs: number;
  /** Every reason coalesced into this run, in order (bounded: see {@link Scheduler}). */
  reasons: R[];
  /** How many requests this run answers (more than reasons.length when some were dropped). */
  count: number;
}

/** Options of {@link Scheduler}. */
export interface SchedulerOptions<K, R> {
  /** Runs at most this many keys at once. */
  concurrency: number;
  /** Runs one key; never called twice at once for the same key. Must not reject. */
  run: (key: K, request: RunRequest<R>) => Promise<void>;
  /** How many reasons one run keeps (the rest are only counted). Default 16. */
  maxReasons?: number;
}

interface Entry<R> {
  pending?: RunRequest<R>;
  /** The settle timer is running, or the key waits in the queue. */
  state: 'idle' | 'settling' | 'queued' | 'running';
  timer?: NodeJS.Timeout;
  /** Asked again while running: goes back to settling when the run ends. */
  again?: { settleMs: number };
}

/**
 * Runs keys (domains) on request: requests for one key that come while it settles, waits or runs
 * are coalesced into one next run; a key never runs twice at once; at most `concurrency` keys run
 * at once, in the order they became ready. Idle keys hold no memory.
 */
export class Scheduler<K, R> {
  private readonly entries = new Map<K, Entry<R>>();
  private readonly queue: K[] = [];
  private active = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  concurrency: number;
  private readonly maxReasons: number;

  constructor(private readonly options: SchedulerOptions<K, R>) {
    this.concurrency = Math.max(1, options.concurrency);
    this.maxReasons = options.maxReasons ?? 16;
  }

  /**
   * Asks for a run of `key` in `settleMs` (0: as soon as a slot is free). Returns true when the
   * request was folded into a run already asked for.
   */
  request(key: K, reason: R, settleMs = 0, atMs = Date.now()): boolean {
    if (this.stopped) return false;
    let entry = this.entries.get(key);
    if (!entry) this.entries.set(key, (entry = { state: 'idle' }));
    const coalesced = entry.pending !== undefined;
    if (entry.pending) {
      entry.pending.count++;
      if (entry.pending.reasons.length < this.maxReasons) entry.pending.reasons.push(reason);
    } else {
      entry.pending = { first: reason, firstAtMs: atMs, reasons: [reason], count: 1 };
    }
    if (entry.state === 'running') {
      entry.again = { settleMs: Math.min(entry.again?.settleMs ?? settleMs, settleMs) };
    } else if (entry.state === 'idle') {
      this.settle(key, entry, settleMs);
    } else if (entry.state === 'settling' && settleMs === 0) {
      // A request that must not wait (a full pass) cuts the settling short.
      clearTimeout(entry.timer);
      this.ready(key, entry);
    }
    return coalesced;
  }

  /** Keys running now. */
  get running(): number {
    return this.active;
  }

  /** Keys with a run settling, queued or running. */
  get size(): number {
    return this.entries.size;
  }

  /** Drops every request not yet running; later requests are ignored. Running ones go on. */
  stop(): void {
    this.stopped = true;
    for (const [key, entry] of this.entries) {
      clearTimeout(entry.timer);
      entry.pending = undefined;
      entry.again = undefined;
      if (entry.state !== 'running') this.entries.delete(key);
    }
    this.queue.length = 0;
    this.wakeIdle();
  }

  /** Resolves when nothing settles, waits or runs. */
  idle(): Promise<void> {
    if (this.entries.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Call after raising `concurrency`. */
  pump(): void {
    while (this.active < this.concurrency && this.queue.length > 0) {
      const key = this.queue.shift()!;
      const entry = this.entries.get(key);
      if (!entry || entry.state !== 'queued' || !entry.pending) continue;
      const request = entry.pending;
      entry.pending = undefined;
      entry.state = 'running';
      this.active++;
      void this.options
        .run(key, request)
        .catch(() => undefined)
        .finally(() => this.finished(key, entry));
    }
  }

  private settle(key: K, entry: Entry<R>, settleMs: number): void {
    if (settleMs <= 0) return this.ready(key, entry);
    entry.state = 'settling';
    entry.timer = setTimeout(() => this.ready(key, entry), settleMs);
  }

  private ready(key: K, entry: Entry<R>): void {
    entry.timer = undefined;
    entry.state = 'queued';
    this.queue.push(key);
    this.pump();
  }

  private finished(key: K, entry: Entry<R>): void {
    this.active--;
    const again = entry.again;
    entry.again = undefined;
    entry.state = 'idle';
    if (again && entry.pending && !this.stopped) this.settle(key, entry, again.settleMs);
    else this.entries.delete(key);
    this.pump();
    this.wakeIdle();
  }

  private wakeIdle(): void {
    if (this.entries.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
