import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ReportWriteError, UsageError } from '../errors.js';
import type { RunResult } from '../runner/types.js';
import { removeStaleTemps, syncDirectory, writeFileAtomic, writeFilesAtomic } from '../util/atomic-file.js';
import { fsReason } from '../util/fs-check.js';
import { reportFileNames } from './file-names.js';
import { saveHistory } from './history.js';
import { junitReportFile } from './junit.js';
import { redact } from '../playbook/redact.js';
import type { ReportFile } from './report-file.js';
import { lastResult, type Reporter } from './reporter.js';
import { buildSummary, orderedVmReport, type Summary } from './summary.js';

export { JUNIT_FILE } from './junit.js';
export const SUMMARY_FILE = 'summary.json';

/** The files a report directory holds besides the VM reports and `summary.json`, in writing order. */
export const REPORT_DIR_FILES: readonly ReportFile[] = [junitReportFile];

export interface WriteReportsOptions {
  /** The report directory; created when missing. */
  dir: string;
  /** Keep the last N runs' files under `dir/history/<startedAt>/`; 0 removes the history. */
  keep?: number;
  /** Strings to show as `***` in every file. */
  secrets?: string[];
}

export interface WrittenReports {
  /** Absolute paths of the files written in `dir`: each VM's report, `junit.xml`, `summary.json`. */
  files: string[];
  /** Per-VM report files of an earlier run that were removed. */
  removed: string[];
  /** This run's copy under `dir/history/`, when `keep` > 0. */
  history?: string;
}

function validate(options: WriteReportsOptions): void {
  if (typeof options.dir !== 'string' || options.dir === '') {
    throw new UsageError(`Expected the \`dir\` option to be a non-empty string, got \`${String(options.dir)}\` (${typeof options.dir})`);
  }
  const { keep } = options;
  if (keep !== undefined && !(Number.isInteger(keep) && keep >= 0)) {
    throw new UsageError(`Expected the \`keep\` option to be a non-negative integer, got \`${String(keep)}\` (${typeof keep})`);
  }
}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function looksLikeVmReport(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.vm === 'string' && typeof v.status === 'string' && Array.isArray(v.steps);
}

/** Report files of earlier runs: listed in the previous summary, or shaped like a VM report. */
async function staleReports(dir: string, previous: Summary | undefined, current: ReadonlySet<string>): Promise<string[]> {
  const listed = new Set(Array.isArray(previous?.vms) ? previous.vms.map((v) => (v as Partial<Summary['vms'][number]> | null)?.report) : []);
  const stale: string[] = [];
  for (const name of await readdir(dir)) {
    if (!name.endsWith('.json') || name.startsWith('.') || name === SUMMARY_FILE || current.has(name)) continue;
    if (listed.has(name) || looksLikeVmReport(await readJson(path.join(dir, name)))) stale.push(name);
  }
  return stale;
}

/**
 * Writes what a run leaves behind in `dir`: `<vm>.json` per VM, {@link REPORT_DIR_FILES} (`junit.xml`) and, last,
 * `summary.json`, each atomically (a temporary file renamed into place), with secrets as `***`.
 * Then removes the reports of VMs that were not in this run, and keeps history when asked.
 */
export async function writeReports(result: RunResult, options: WriteReportsOptions): Promise<WrittenReports> {
  validate(options);
  return writeRedacted(redact(result, options.secrets ?? []), options);
}

async function writeRedacted(r: RunResult, options: WriteReportsOptions): Promise<WrittenReports> {
  const dir = path.resolve(options.dir);
  await mkdir(dir, { recursive: true });
  await removeStaleTemps(dir);

  const names = reportFileNames(r.vms.map((vm) => vm.vm));
  const previous = (await readJson(path.join(dir, SUMMARY_FILE))) as Summary | undefined;

  // Each VM file is flushed before its rename (in batches); the directory's entries once for
  // all of them. Reports are rendered as they are written: a thousand are not held at once.
  const reports = function* (): Generator<{ file: string; data: string }> {
    for (const [i, vm] of r.vms.entries()) yield { file: path.join(dir, names[i] ?? ''), data: json(orderedVmReport(vm)) };
  };
  await writeFilesAtomic(reports());
  await syncDirectory(dir);
  for (const file of REPORT_DIR_FILES) await writeFileAtomic(path.join(dir, file.name), file.render(r));
  await writeFileAtomic(path.join(dir, SUMMARY_FILE), json(buildSummary(r, names)));

  const current = new Set(names);
  const removed: string[] = [];
  for (const name of await staleReports(dir, previous && typeof previous === 'object' ? previous : undefined, current)) {
    try {
      await unlink(path.join(dir, name));
      removed.push(name);
    } catch {
      // Removed by someone else meanwhile.
    }
  }

  const written = [...names, ...REPORT_DIR_FILES.map((f) => f.name), SUMMARY_FILE];
  const history = options.keep === undefined ? undefined : await saveHistory(dir, r.startedAt, written, options.keep);
  return { files: written.map((n) => path.join(dir, n)), removed, ...(history === undefined ? {} : { history }) };
}

/**
 * The report directory as a {@link Reporter}: when the run has ended, {@link writeReports}'
 * files (the events it gets are already redacted). A failure is a {@link ReportWriteError}.
 */
export function reportDirReporter(options: Omit<WriteReportsOptions, 'secrets'>): Reporter {
  const run = lastResult();
  return {
    onEvent: run.onEvent,
    async finish() {
      try {
        validate(options);
        await writeRedacted(run.get(), options);
      } catch (err) {
        throw new ReportWriteError(`cannot write the reports to ${options.dir}: ${fsReason(err)}`, { cause: err });
      }
    },
  };
}
