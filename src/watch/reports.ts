import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { buildSummary, JUNIT_FILE, redact, renderJunit, renderMetrics, reportFileNames, safeBaseName, SUMMARY_FILE, writeFileAtomic, writeMetrics, writeReports } from '../report/index.js';
import { RESERVED_NAMES } from '../report/file-names.js';
import { orderedVmReport } from '../report/summary.js';
import { totalsOf } from '../runner/run.js';
import type { RunResult, VmReport } from '../runner/types.js';

/** Options of {@link WatchReports}. */
export interface WatchReportsOptions {
  dir: string;
  keep?: number;
  metricsFile?: string;
  /** At most one summary/junit/metrics rewrite per this many ms while runs keep ending. Default 500. */
  flushIntervalMs?: number;
}

/** What {@link WatchReports} needs to know about the playbook now (it may be reloaded). */
export interface ReportContext {
  playbook: string;
  file: string;
  secrets: string[];
  /** The watch's own metrics, appended to the run metrics. */
  extraMetrics: () => string;
}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/**
 * The latest report of every VM the watch has run, and the files that show them: a VM's
 * `<vm>.json` is rewritten (atomically) as soon as its run ends; `summary.json`, `junit.xml`
 * and the metrics file follow, at most every `flushIntervalMs`. A full pass ends with the
 * run's own writer over every VM, which also removes reports of VMs no longer there.
 */
export class WatchReports {
  private readonly vms = new Map<string, VmReport>();
  private readonly finishedAt = new Map<string, number>();
  /** Each VM's file name, fixed when it is first seen (recomputing them all per run is O(n²)). */
  private readonly fileOf = new Map<string, string>();
  private readonly usedNames = new Set<string>(RESERVED_NAMES);
  private writes: Promise<unknown> = Promise.resolve();
  private flushTimer: NodeJS.Timeout | undefined;
  private lastFlushMs = 0;
  private startedAt = new Date();
  private durationMs = 0;
  private warnings: string[] = [];

  constructor(
    private readonly options: WatchReportsOptions,
    private readonly context: () => ReportContext,
  ) {}

  /** Every VM's latest report, as one run result (what `summary.json` and the metrics show). */
  result(): RunResult {
    const c = this.context();
    const vms = [...this.vms.values()];
    return { playbook: c.playbook, file: c.file, startedAt: this.startedAt.toISOString(), durationMs: this.durationMs, totals: totalsOf(vms), vms, warnings: this.warnings, canceled: false };
  }

  /** The text served on /metrics and written to the metrics file. */
  metrics(): string {
    const c = this.context();
    return renderMetrics(this.result(), { playbook: c.playbook, secrets: c.secrets }) + c.extraMetrics();
  }

  /** Full passes going on: their end writes every file, so runs meanwhile only record. */
  private passes = 0;

  passStarted(): void {
    this.passes++;
  }

  /**
   * Records a VM's run; unless `deferred` (a full pass's run: the pass's end writes every file),
   * rewrites its report file now and the summary soon.
   */
  vmDone(key: string, report: VmReport, deferred = false): Promise<void> {
    this.vms.set(key, report);
    this.finishedAt.set(key, Date.now());
    if (deferred) return Promise.resolve();
    const name = this.nameFor(key, report.vm);
    const secrets = this.context().secrets;
    const write = this.enqueue(async () => {
      await mkdir(this.options.dir, { recursive: true });
      await writeFileAtomic(path.join(this.options.dir, name), json(orderedVmReport(redact(report, secrets))));
    });
    if (this.passes === 0) this.scheduleFlush();
    return write;
  }

  /** The run writer names every file; VMs seen later take names next to those. */
  private adoptWriterNames(): void {
    const names = reportFileNames([...this.vms.values()].map((v) => v.vm));
    this.fileOf.clear();
    this.usedNames.clear();
    for (const n of RESERVED_NAMES) this.usedNames.add(n);
    [...this.vms.keys()].forEach((key, i) => {
      this.fileOf.set(key, names[i]!);
      this.usedNames.add(names[i]!.toLowerCase());
    });
  }

  /** Like reportFileNames, one VM at a time: its safe name, else `-2`, `-3`... on a clash. */
  private nameFor(key: string, vm: string): string {
    let name = this.fileOf.get(key);
    if (name) return name;
    const base = safeBaseName(vm);
    name = `${base}.json`;
    for (let n = 2; this.usedNames.has(name.toLowerCase()); n++) name = `${base}-${n}.json`;
    this.usedNames.add(name.toLowerCase());
    this.fileOf.set(key, name);
    return name;
  }

  /**
   * A full pass that began at `startedMs` has ended: VMs it did not run and no event run since
   * are gone (shut off, undefined, no longer targeted); every file is rewritten by the run writer.
   */
  passDone(startedMs: number, warnings: string[]): Promise<void> {
    this.passes = Math.max(0, this.passes - 1);
    for (const [key, at] of this.finishedAt) {
      if (at < startedMs) {
        this.finishedAt.delete(key);
        this.vms.delete(key);
      }
    }
    this.startedAt = new Date(startedMs);
    this.durationMs = Date.now() - startedMs;
    this.warnings = warnings;
    return this.writeAll();
  }

  /** A narrowed pass ended: nothing is dropped, every file is written. */
  narrowPassDone(): Promise<void> {
    this.passes = Math.max(0, this.passes - 1);
    return this.writeAll();
  }

  /** Writes every file now (at the end of a pass, and when the watch stops). */
  writeAll(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    return this.enqueue(async () => {
      const c = this.context();
      this.adoptWriterNames();
      await writeReports(this.result(), { dir: this.options.dir, keep: this.options.keep, secrets: c.secrets });
      await this.writeMetricsFile();
      this.lastFlushMs = Date.now();
    });
  }

  /** Waits for every write queued so far. */
  async settled(): Promise<void> {
    await this.writes;
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    const wait = Math.max(0, this.lastFlushMs + (this.options.flushIntervalMs ?? 500) - Date.now());
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      void this.enqueue(() => this.flush());
    }, wait);
  }

  private async flush(): Promise<void> {
    const c = this.context();
    const r = redact(this.result(), c.secrets);
    const names = [...this.vms.keys()].map((key, i) => this.fileOf.get(key) ?? this.nameFor(key, r.vms[i]!.vm));
    await mkdir(this.options.dir, { recursive: true });
    await writeFileAtomic(path.join(this.options.dir, JUNIT_FILE), renderJunit(r));
    await writeFileAtomic(path.join(this.options.dir, SUMMARY_FILE), json(buildSummary(r, names)));
    await this.writeMetricsFile();
    this.lastFlushMs = Date.now();
  }

  private async writeMetricsFile(): Promise<void> {
    if (this.options.metricsFile) await writeMetrics(this.options.metricsFile, this.metrics());
  }

  /** Writes run one at a time, in order; one that fails does not stop the next. */
  private enqueue(write: () => Promise<void>): Promise<void> {
    const next = this.writes.then(write);
    this.writes = next.catch(() => undefined);
    return next;
  }
}
