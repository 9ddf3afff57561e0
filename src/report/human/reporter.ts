import type { RunEvent, RunListener, RunResult, StepReport, VmReport, VmStatus } from '../../runner/types.js';
import { padEnd, printable, textWidth, truncate, wrap } from '../format.js';
import { formatElapsed } from '../../util/elapsed.js';
import { isProblem, stepDetail, stepWarning, vmDetail } from '../key-result.js';
import { redact } from '../../playbook/redact.js';
import type { Reporter } from '../reporter.js';
import { LiveRegion } from './live.js';
import { createStyle, type Style } from './style.js';

export interface HumanReporterOptions {
  stream: NodeJS.WritableStream;
  /** A terminal: live progress redrawn in place, then a table. Else one plain line per step and VM. */
  tty: boolean;
  color: boolean;
  /** Only problems and the final line. */
  quiet: boolean;
  /** Also a line when a step starts, and every finished step above the live progress. */
  verbose?: boolean;
  /** Strings to show as `***`, for a reporter used alone (behind `reporters()` events come masked already). */
  secrets?: string[];
  /** Terminal width (default: the stream's `columns`, else 80). */
  columns?: number;
  /** Terminal height (default: the stream's `rows`, else 24). */
  rows?: number;
  /** Redraws per second of the live progress (default 10). */
  fps?: number;
  /** Clock for elapsed time, in ms (default `Date.now`). */
  now?: () => number;
}

export interface HumanReporter extends Reporter {
  /** Subscribe this to the runner's events (the same as `onEvent`). */
  listener: RunListener;
  onEvent: RunListener;
  /** Ends the live progress and prints the table (on a terminal) and the final line: of `result`, else of the run-end event's. */
  finish(result?: RunResult): void;
}

interface VmState {
  step?: string;
  index: number;
  attempt: number;
  done?: VmStatus;
}

const STATUS_WIDTH = 'unreachable'.length;
const NAME_CAP = 32;

/** `12 VMs: 10 ok, 1 failed, 1 unreachable in 2.3 s`. */
export function finalLine(result: RunResult): string {
  const t = result.totals;
  const parts = [`${t.ok} ok`];
  if (t.failed > 0) parts.push(`${t.failed} failed`);
  if (t.unreachable > 0) parts.push(`${t.unreachable} unreachable`);
  if (t.canceled > 0) parts.push(`${t.canceled} canceled`);
  const warnings = warningCount(result);
  if (warnings > 0) parts.push(`${warnings} warning${warnings === 1 ? '' : 's'}`);
  return `${t.vms} VM${t.vms === 1 ? '' : 's'}: ${parts.join(', ')} in ${formatElapsed(result.durationMs)}${result.canceled ? ' (run canceled)' : ''}`;
}

function warned(step: StepReport): boolean {
  return stepWarning(step) !== undefined;
}

/** An exec's stdout and stderr for -v, one indented line per output line (like ansible -v). */
function outputLines(step: StepReport): string[] {
  if (step.kind !== 'exec' || typeof step.result !== 'object' || step.result === null) return [];
  const r = step.result as { stdout?: unknown; stderr?: unknown };
  const lines: string[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    const text = r[stream];
    if (typeof text !== 'string' || text === '') continue;
    lines.push(`    ${stream}:`);
    for (const l of text.replace(/\n$/, '').split('\n')) lines.push(`      ${printable(l)}`);
  }
  return lines;
}

/** A step a person should see even in --quiet: a problem, or an ok with a warning. */
function needsLook(step: StepReport): boolean {
  return isProblem(step.status) || warned(step);
}

function warningCount(result: RunResult): number {
  return result.vms.reduce((n, vm) => n + vm.steps.filter(warned).length, 0);
}

function allOk(result: RunResult): boolean {
  return result.totals.ok === result.totals.vms && !result.canceled && warningCount(result) === 0;
}

function elapsed(ms: number): string {
  return ms < 60_000 ? `${(Math.max(0, ms) / 1000).toFixed(1)} s` : formatElapsed(ms);
}

/**
 * What a person sees of a run. It only listens: the runner's events update its state, and on a
 * terminal a timer redraws the live progress at most `fps` times a second.
 */
export function createHumanReporter(options: HumanReporterOptions): HumanReporter {
  const { stream, tty, quiet } = options;
  const verbose = options.verbose === true && !quiet;
  const secrets = options.secrets ?? [];
  const style: Style = createStyle(options.color);
  const now = options.now ?? Date.now;
  // Read at each frame: the terminal may be resized during the run.
  // A pty may report 0 columns or rows (unknown): then the classic 80x24.
  const columns = () => Math.max(20, options.columns || (stream as { columns?: number }).columns || 80);
  const rows = () => Math.max(5, options.rows || (stream as { rows?: number }).rows || 24);
  const live = tty && !quiet;
  const region = new LiveRegion(stream);

  let vms: string[] = [];
  let steps: string[] = [];
  let vmWidth = 0;
  let stepWidth = 0;
  const state = new Map<string, VmState>();
  const counts = { done: 0, ok: 0, failed: 0, unreachable: 0, canceled: 0 };
  let startMs = now();
  let timer: ReturnType<typeof globalThis.setInterval> | undefined;
  let dirty = false;
  let finished = false;

  const clean = <T>(value: T): T => (secrets.length > 0 ? redact(value, secrets) : value);
  const name = (text: string) => printable(text);
  const widen = (vm: string, step?: string) => {
    vmWidth = Math.max(vmWidth, Math.min(NAME_CAP, textWidth(name(vm))));
    if (step !== undefined) stepWidth = Math.max(stepWidth, Math.min(NAME_CAP, textWidth(name(step))));
  };

  const line = (vm: string, what: string, status: StepReport['status'] | VmStatus, rest: string[]): string => {
    const details = rest.filter((r) => r !== '').map(name);
    const padded = details.length > 0 ? padEnd(status, STATUS_WIDTH) : status;
    // An ok with a warning is shown in the warning color, so it is not read as plain ok.
    const shownStatus = status === 'ok' && details[0]?.includes('WARNING:') ? style.yellow(padded) : style.status(status, padded);
    return [padEnd(name(vm), vmWidth), padEnd(name(what), stepWidth), shownStatus, ...details].join('  ');
  };
  const stepLine = (vm: string, report: StepReport): string => {
    const attempts = report.attempts > 1 ? `${report.attempts} attempts` : '';
    const duration = report.status === 'skipped' ? '' : formatElapsed(report.durationMs);
    return line(vm, report.name, report.status, [stepDetail(report), attempts, duration]);
  };
  const vmLine = (report: VmReport): string => line(report.vm, '=>', report.status, [vmDetail(report), formatElapsed(report.durationMs)]);

  const frame = (): string[] => {
    const width = columns();
    const total = Math.max(vms.length, state.size);
    const barWidth = Math.max(10, Math.min(30, width - 70));
    const filled = total === 0 ? 0 : Math.round((counts.done / total) * barWidth);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]`;
    const pieces: [string, (t: string) => string][] = [
      [`${bar} ${counts.done}/${total} VMs`, (t) => t],
      [`ok ${counts.ok}`, style.green],
      [`failed ${counts.failed}`, counts.failed > 0 ? style.red : (t) => t],
      [`unreachable ${counts.unreachable}`, counts.unreachable > 0 ? style.yellow : (t) => t],
      ...(counts.canceled > 0 ? [[`canceled ${counts.canceled}`, style.yellow] as [string, (t: string) => string]] : []),
      [elapsed(now() - startMs), style.dim],
    ];
    const plainHeader = pieces.map(([t]) => t).join('  ');
    const header = textWidth(plainHeader) < width ? pieces.map(([t, f]) => f(t)).join('  ') : truncate(plainHeader, width - 1);
    const running = [...state.entries()].filter(([, s]) => s.done === undefined && s.step !== undefined);
    const room = Math.max(1, Math.min(10, rows() - 3));
    const shown = running.length > room ? running.slice(0, room - 1) : running;
    const lines = shown.map(([vm, s]) => {
      const where = `${s.index + 1}/${steps.length || '?'}${s.attempt > 1 ? `, attempt ${s.attempt}` : ''}`;
      return truncate(`  ${padEnd(name(vm), vmWidth)}  ${name(s.step ?? '')} (${where})`, width - 1);
    });
    if (shown.length < running.length) lines.push(`  ... and ${running.length - shown.length} more running`);
    return [header, ...lines];
  };

  const draw = () => {
    if (!live || finished) return;
    dirty = false;
    region.render(frame());
  };
  const above = (text: string) => {
    if (live) region.print(`${text}\n`, frame());
    else stream.write(`${text}\n`);
  };
  const startTimer = () => {
    if (!live || timer) return;
    const fps = options.fps ?? 10;
    // The global timers, so that tests' fake timers drive the redraw too.
    timer = globalThis.setInterval(draw, Math.max(1, Math.round(1000 / fps)));
    timer.unref();
  };
  const stopTimer = () => {
    if (timer) globalThis.clearInterval(timer);
    timer = undefined;
  };

  let ended: RunResult | undefined;
  const listener: RunListener = (raw: RunEvent) => {
    if (finished) return;
    if (raw.type === 'run-end') {
      ended = raw.result;
      stopTimer();
      return;
    }
    const event = clean(raw);
    switch (event.type) {
      case 'run-start':
        vms = event.vms.map((v) => v.vm);
        steps = event.steps.map((s) => s.name);
        startMs = Date.parse(event.startedAt) || now();
        for (const vm of vms) widen(vm);
        for (const s of steps) stepWidth = Math.max(stepWidth, Math.min(NAME_CAP, textWidth(name(s))));
        stepWidth = Math.max(stepWidth, 2);
        startTimer();
        dirty = true;
        break;
      case 'warning':
        above(style.yellow(`warning: ${name(event.message)}`));
        break;
      case 'vm-start':
        widen(event.vm);
        if (!state.has(event.vm)) state.set(event.vm, { index: 0, attempt: 0 });
        dirty = true;
        break;
      case 'step-start': {
        widen(event.vm, event.step);
        state.set(event.vm, { ...state.get(event.vm), step: event.step, index: event.index, attempt: event.attempt });
        if (verbose && !live) above(line(event.vm, event.step, 'ok', []).replace(/ok\s*$/, `started${event.attempt > 1 ? ` (attempt ${event.attempt})` : ''}`));
        dirty = true;
        break;
      }
      case 'step-end':
        widen(event.vm, event.report.name);
        if (!live ? !quiet || needsLook(event.report) : verbose || needsLook(event.report)) above(stepLine(event.vm, event.report));
        if (verbose) for (const l of outputLines(event.report)) above(l);
        break;
      case 'vm-end': {
        const report = event.report;
        widen(report.vm);
        const s = state.get(report.vm) ?? { index: 0, attempt: 0 };
        if (s.done === undefined) {
          counts.done++;
          counts[report.status]++;
        }
        state.set(report.vm, { ...s, done: report.status });
        if (!live ? !quiet || report.status !== 'ok' || report.steps.some(warned) : verbose) above(vmLine(report));
        dirty = true;
        break;
      }
    }
    if (dirty && live && !timer) draw();
  };

  const table = (result: RunResult): string[] => {
    const rowsOut = result.vms.map((vm) => ({
      vm: name(vm.vm),
      status: vm.status,
      steps: `${vm.steps.filter((s) => s.status === 'ok').length}/${vm.steps.length}`,
      time: formatElapsed(vm.durationMs),
      result: name(vmDetail(vm)),
    }));
    const w = {
      vm: Math.min(40, Math.max(2, ...rowsOut.map((r) => textWidth(r.vm)))),
      steps: Math.max(5, ...rowsOut.map((r) => r.steps.length)),
      time: Math.max(4, ...rowsOut.map((r) => r.time.length)),
    };
    const fixed = w.vm + STATUS_WIDTH + w.steps + w.time + 8;
    const resultWidth = Math.max(10, columns() - 1 - fixed);
    const head = [padEnd('VM', w.vm), padEnd('STATUS', STATUS_WIDTH), padEnd('STEPS', w.steps), padEnd('TIME', w.time), 'RESULT'].join('  ');
    const indent = ' '.repeat(fixed);
    return [
      style.bold(head),
      ...rowsOut.flatMap((r) => {
        // The whole result, wrapped under its column: the table is where a person reads errors.
        const [first = '', ...more] = wrap(r.result, resultWidth);
        const row = [padEnd(truncate(r.vm, w.vm), w.vm), style.status(r.status, padEnd(r.status, STATUS_WIDTH)), r.steps.padStart(w.steps), r.time.padStart(w.time), first].join('  ').trimEnd();
        return [row, ...more.map((l) => indent + l)];
      }),
    ];
  };

  const finish = (given?: RunResult): void => {
    const raw = given ?? ended;
    if (finished || raw === undefined) return;
    stopTimer();
    finished = true;
    const result = clean(raw);
    const last = result.totals.failed > 0 ? style.red : result.totals.unreachable + result.totals.canceled + warningCount(result) > 0 ? style.yellow : style.green;
    if (live) {
      region.clear();
      const out = result.vms.length > 0 ? [...table(result), ''] : [];
      stream.write(`${[...out, last(finalLine(result))].join('\n')}\n`);
    } else if (!options.quiet || !allOk(result)) {
      // Quiet and all well: nothing at all, so cron sends no mail.
      stream.write(`${last(finalLine(result))}\n`);
    }
  };

  return { listener, onEvent: listener, finish };
}
