import { setMaxListeners } from 'node:events';
import { errorMessage } from '../errors.js';
import { watchSpecOf } from '../playbook/watch.js';
import type { Playbook, TargetSpec } from '../playbook/types.js';
import { collectSecrets, redactText } from '../report/index.js';
import { runPlaybook } from '../runner/run.js';
import { resolveTargets } from '../runner/targets.js';
import { TransportProvider } from '../inventory/provider.js';
import type { PlannedVm, VmReport } from '../runner/types.js';
import type { DomainEvent } from './events.js';
import { EventFollower, type FollowerEvent } from './follower.js';
import { eventRunRecord, formatEventRun, type EventRunRecord } from './log.js';
import { WatchMetrics } from './metrics.js';
import { WatchReports } from './reports.js';
import { Scheduler, type RunRequest } from './scheduler.js';
import { playbookFor, targetOf, watchedUris } from './select.js';

/** Options of {@link WatchService}. */
export interface WatchServiceOptions {
  playbook: Playbook;
  reportDir: string;
  keep?: number;
  metricsFile?: string;
  /** The virsh binary (default: `virsh` on PATH). */
  virsh?: string;
  /** One line per event-triggered run, pass and stream change (no newline). */
  log: (line: string, record?: Record<string, unknown>) => void;
  /** Bound on finishing in-flight runs when stopping, then they are canceled. Default 10 s. */
  stopTimeoutMs?: number;
  /** Deadline of libvirt lookups (virsh list). Default 30 s. */
  lookupTimeoutMs?: number;
  /** Event stream tuning (tests). */
  follower?: { upAfterMs?: number; backoffMinMs?: number; backoffMaxMs?: number };
  /** Summary/metrics rewrite interval (tests). */
  flushIntervalMs?: number;
}

/** A full pass: every target VM once, then the reports rewritten. */
interface Pass {
  why: string;
  startedMs: number;
  outstanding: Set<string>;
  reports: VmReport[];
  done: () => void;
}

/** `attempt` counts an event's runs: one that failed or did not reach the guest is tried again. */
type Reason = { ref: VmRef } & ({ kind: 'event'; event: DomainEvent; attempt?: number } | { kind: 'pass'; pass: Pass });

/** The pause before running again after an event whose run failed or was unreachable. */
export const EVENT_RETRY_DELAY_MS = 1000;

interface VmRef {
  /** libvirt URI, or undefined for a direct socket target. */
  uri?: string;
  name: string;
  socket?: { path: string; ssh?: string };
}

const keyOf = (ref: VmRef): string => JSON.stringify(ref.socket ? ['socket', ref.socket.ssh ?? '', ref.socket.path, ref.name] : ['libvirt', ref.uri, ref.name]);

/**
 * `qga-play watch`: follows the libvirt events of every connection the playbook targets and runs
 * its steps on a domain when an event it cares about arrives (coalesced per domain, never twice
 * at once, at most `concurrency` VMs at once); runs the whole playbook at start, every `every:`
 * and after an event stream reconnects; keeps the report files and metrics current.
 */
export class WatchService {
  private playbook: Playbook;
  private readonly followers = new Map<string, EventFollower>();
  private readonly scheduler: Scheduler<string, Reason>;
  readonly metrics: WatchMetrics;
  readonly reports: WatchReports;
  private readonly runs = new AbortController();
  private everyTimer: NodeJS.Timeout | undefined;
  private passRunning: Promise<void> | undefined;
  private passWanted: { why: string; uris: Set<string> | undefined } | undefined;
  private readonly passes = new Set<Pass>();
  private stopping = false;
  private secrets: string[];
  /** One for the service's life: event runs reuse its virsh sessions (no start-up per event). */
  private readonly provider: TransportProvider;

  constructor(private readonly options: WatchServiceOptions) {
    this.playbook = options.playbook;
    this.secrets = collectSecrets(this.playbook.steps.map((s) => s.params));
    setMaxListeners(0, this.runs.signal);
    this.metrics = new WatchMetrics(() => this.playbook.name);
    this.reports = new WatchReports(
      { dir: options.reportDir, keep: options.keep, metricsFile: options.metricsFile, flushIntervalMs: options.flushIntervalMs },
      () => ({ playbook: this.playbook.name, file: this.playbook.file, secrets: this.secrets, extraMetrics: () => this.metrics.render() }),
    );
    this.scheduler = new Scheduler<string, Reason>({ concurrency: this.playbook.concurrency, run: (key, request) => this.runVm(key, request) });
    this.provider = new TransportProvider(
      { virsh: options.virsh, virshMode: this.playbook.virsh.mode, virshSessions: this.playbook.virsh.sessions },
      Math.max(1, this.playbook.concurrency),
    );
  }

  /** The playbook in use (it changes on reload). */
  get current(): Playbook {
    return this.playbook;
  }

  /** Starts the event streams, then the first full pass, then the `every:` timer. */
  start(): Promise<void> {
    this.syncFollowers();
    const first = this.fullPass('start');
    this.scheduleEvery();
    return first;
  }

  /** Swaps in a new (valid) playbook: streams, concurrency and `every:` follow it. */
  reload(playbook: Playbook): void {
    const was = this.playbook.virsh;
    if (playbook.virsh.mode !== was.mode || playbook.virsh.sessions !== was.sessions) {
      this.options.log('reload: virsh mode and sessions take effect when the service restarts');
    }
    this.playbook = playbook;
    this.secrets = collectSecrets(playbook.steps.map((s) => s.params));
    this.scheduler.concurrency = Math.max(1, playbook.concurrency);
    this.scheduler.pump();
    this.syncFollowers();
    this.scheduleEvery();
  }

  /** Whether every event stream is up, and each one's state (for /healthz). */
  health(): { ok: boolean; body: unknown } {
    const streams = [...this.followers.values()].map((f) => ({ connect: f.uri, up: f.up, starts: f.starts }));
    const ok = !this.stopping && streams.every((s) => s.up);
    return { ok, body: { status: ok ? 'ok' : this.stopping ? 'stopping' : 'degraded', playbook: this.playbook.name, streams, running: this.scheduler.running } };
  }

  /**
   * Stops: no new runs; in-flight ones get `stopTimeoutMs` to finish, then are canceled (their
   * reports say so); every report and the metrics file are written last.
   */
  async stop(): Promise<{ canceled: boolean }> {
    if (this.stopping) return { canceled: false };
    this.stopping = true;
    clearTimeout(this.everyTimer);
    this.scheduler.stop();
    this.passWanted = undefined;
    await Promise.all([...this.followers.values()].map((f) => f.stop()));
    let canceled = false;
    const bound = new Promise<'timeout'>((resolve) => {
      const t = setTimeout(() => resolve('timeout'), this.options.stopTimeoutMs ?? 10_000);
      void this.scheduler.idle().then(() => clearTimeout(t));
    });
    if ((await Promise.race([this.scheduler.idle().then(() => 'idle' as const), bound])) === 'timeout') {
      canceled = true;
      this.options.log(`stopping: ${this.scheduler.running} run(s) still going after ${(this.options.stopTimeoutMs ?? 10_000) / 1000} s: canceling them`);
      this.runs.abort(new Error('watch stopping'));
      await this.scheduler.idle();
    }
    for (const pass of this.passes) pass.done();
    await this.passRunning;
    await this.reports.writeAll();
    await this.reports.settled();
    await this.provider.close();
    return { canceled };
  }

  private syncFollowers(): void {
    if (this.stopping) return;
    const uris = new Set(watchedUris(this.playbook));
    for (const [uri, f] of this.followers) {
      if (uris.has(uri)) continue;
      this.followers.delete(uri);
      this.metrics.forgetStream(uri);
      void f.stop();
    }
    for (const uri of uris) {
      if (this.followers.has(uri)) continue;
      const f = new EventFollower({ uri, virsh: this.options.virsh, onEvent: (e) => this.onStream(f, e), ...this.options.follower });
      this.followers.set(uri, f);
      f.start();
      this.metrics.stream(uri, false, f.starts);
    }
  }

  private onStream(f: EventFollower, e: FollowerEvent): void {
    if (this.stopping || this.followers.get(f.uri) !== f) return;
    if (e.type === 'event') return this.onEvent(e.uri, e.event);
    this.metrics.stream(e.uri, f.up, f.starts);
    if (e.type === 'down') {
      this.options.log(`event stream of ${e.uri} ended: ${e.reason}; reconnecting in ${(e.retryInMs / 1000).toFixed(1)} s`);
    } else if (e.reconnect) {
      // Events were missed while it was away.
      this.options.log(`event stream of ${e.uri} is back: full pass of its VMs`);
      void this.fullPass('reconnect', new Set([e.uri]));
    } else {
      this.options.log(`following the events of ${e.uri}`);
    }
  }

  private onEvent(uri: string, event: DomainEvent): void {
    if (!targetOf(this.playbook, uri, event.domain)) return;
    const on = watchSpecOf(this.playbook);
    if (!event.trigger || !on.on.includes(event.trigger)) {
      this.metrics.event(uri, 'ignored');
      return;
    }
    this.metrics.event(uri, event.trigger);
    this.request({ ref: { uri, name: event.domain }, kind: 'event', event }, on.settleMs, event.atMs);
  }

  private request(reason: Reason, settleMs: number, atMs = Date.now()): void {
    if (this.scheduler.request(keyOf(reason.ref), reason, settleMs, atMs)) this.metrics.coalesced++;
  }

  private targetFor(ref: VmRef): TargetSpec | undefined {
    if (!ref.socket) return targetOf(this.playbook, ref.uri!, ref.name);
    return this.playbook.targets.find((t) => t.socket === ref.socket!.path && (t.ssh ?? '') === (ref.socket!.ssh ?? '') && t.vm === ref.name);
  }

  private async runVm(key: string, request: RunRequest<Reason>): Promise<void> {
    const ref = request.first.ref;
    const passes = request.reasons.flatMap((r) => (r.kind === 'pass' ? [r.pass] : []));
    let report: VmReport | undefined;
    this.metrics.inFlight++;
    try {
      const target = this.targetFor(ref);
      if (!target) {
        this.options.log(`${JSON.stringify(ref.name)} is no longer a target of the playbook: not run`);
        return;
      }
      const result = await runPlaybook(playbookFor(this.playbook, target, ref.name), {
        signal: this.runs.signal,
        provider: this.provider,
        lookupTimeoutMs: this.options.lookupTimeoutMs,
      });
      report = result.vms[0];
      if (!report) return;
      const firstEvent = request.reasons.find((r) => r.kind === 'event');
      this.metrics.run(firstEvent ? 'event' : 'pass', report.status);
      if (firstEvent?.kind === 'event') {
        this.logEventRun(eventRunRecord(report, firstEvent.event, request.reasons.filter((r) => r.kind === 'event').length, firstEvent.attempt ?? 1));
        // A guest just resumed or restored may be busy, and a busy host can make a set land off:
        // the clock is wrong until a run succeeds, so try again a few times.
        const attempt = firstEvent.attempt ?? 1;
        const retries = watchSpecOf(this.playbook).retries;
        if ((report.status === 'failed' || report.status === 'unreachable') && attempt <= retries && !this.stopping) {
          this.options.log(`retrying ${JSON.stringify(ref.name)} in ${EVENT_RETRY_DELAY_MS / 1000} s (attempt ${attempt + 1} of ${retries + 1} for the ${firstEvent.event.trigger} event)`);
          this.request({ ...firstEvent, attempt: attempt + 1 }, EVENT_RETRY_DELAY_MS, firstEvent.event.atMs);
        }
      }
      // Not awaited: writes are queued in order, and a slot waiting on the disk would hold back runs.
      // A run only a full pass asked for is written with the pass's files at its end.
      void this.reports.vmDone(key, report, !firstEvent).catch((err: unknown) => this.options.log(`cannot write the report of ${JSON.stringify(ref.name)}: ${errorMessage(err)}`));
    } catch (err) {
      this.options.log(`internal error running ${JSON.stringify(ref.name)}: ${errorMessage(err)}`);
    } finally {
      this.metrics.inFlight--;
      for (const pass of passes) {
        if (report) pass.reports.push(report);
        pass.outstanding.delete(key);
        if (pass.outstanding.size === 0) pass.done();
      }
    }
  }

  private logEventRun(record: EventRunRecord): void {
    if (record.correctedAfterMs !== undefined) this.metrics.delay(record.correctedAfterMs);
    this.options.log(redactText(formatEventRun(record), this.secrets), { kind: 'event-run', ...record });
  }

  /** Runs every target VM (of `uris` only, when given); one pass at a time, later asks folded into one. */
  private fullPass(why: string, uris?: Set<string>): Promise<void> {
    if (this.stopping) return Promise.resolve();
    if (this.passRunning) {
      const prev = this.passWanted;
      // Two narrowed asks join; anything with the whole playbook wins.
      const joined = prev === undefined ? uris : prev.uris === undefined || uris === undefined ? undefined : new Set([...prev.uris, ...uris]);
      this.passWanted = { why: prev ? `${prev.why}, ${why}` : why, uris: joined };
      return this.passRunning;
    }
    const running = this.onePass(why, uris).finally(() => {
      this.passRunning = undefined;
      const next = this.passWanted;
      this.passWanted = undefined;
      if (next && !this.stopping) void this.fullPass(next.why, next.uris);
    });
    this.passRunning = running;
    return running;
  }

  private async onePass(why: string, uris?: Set<string>): Promise<void> {
    const startedMs = Date.now();
    const playbook = uris ? { ...this.playbook, targets: this.playbook.targets.filter((t) => !t.socket && uris.has(t.connect)) } : this.playbook;
    let vms: PlannedVm[] = [];
    const warnings: string[] = [];
    try {
      const lookup = this.provider.lookup(this.options.lookupTimeoutMs ?? 30_000, this.runs.signal);
      const resolved = await resolveTargets(playbook, { ...lookup, provider: this.provider });
      vms = resolved.vms;
      warnings.push(...resolved.warnings);
      for (const { target, error } of resolved.unresolved) warnings.push(`cannot list the domains of ${target.connect} (line ${target.line}): ${errorMessage(error)}`);
    } catch (err) {
      warnings.push(`cannot resolve the targets: ${errorMessage(err)}`);
    }
    for (const w of warnings) this.options.log(`full pass (${why}): ${w}`);
    if (this.stopping) return;
    this.metrics.passes++;
    this.reports.passStarted();
    const pass: Pass = { why, startedMs, outstanding: new Set(), reports: [], done: () => undefined };
    const finished = new Promise<void>((resolve) => (pass.done = resolve));
    this.passes.add(pass);
    const refs = vms.map((vm): VmRef => (vm.socket ? { name: vm.vm, socket: { path: vm.socket, ...(vm.ssh && { ssh: vm.ssh }) } } : { uri: vm.connect, name: vm.vm }));
    for (const ref of refs) pass.outstanding.add(keyOf(ref));
    for (const ref of refs) this.request({ ref, kind: 'pass', pass }, 0);
    if (refs.length === 0) pass.done();
    await finished;
    this.passes.delete(pass);
    const count = (s: string) => pass.reports.filter((r) => r.status === s).length;
    this.options.log(
      `full pass (${why}): ${pass.reports.length} VM(s) in ${((Date.now() - startedMs) / 1000).toFixed(1)} s: ${count('ok')} ok, ${count('failed')} failed, ${count('unreachable')} unreachable, ${count('canceled')} canceled`,
    );
    // A narrowed pass says nothing about the VMs of other connections: keep their reports.
    if (!uris) await this.reports.passDone(startedMs, warnings).catch((err: unknown) => this.options.log(`cannot write the reports: ${errorMessage(err)}`));
    else await this.reports.narrowPassDone().catch((err: unknown) => this.options.log(`cannot write the reports: ${errorMessage(err)}`));
  }

  private scheduleEvery(): void {
    clearTimeout(this.everyTimer);
    const every = this.playbook.everyMs;
    if (every === undefined || this.stopping) return;
    this.everyTimer = setTimeout(() => {
      this.scheduleEvery();
      void this.fullPass(`every ${every / 1000} s`);
    }, every);
  }
}
