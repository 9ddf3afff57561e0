import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import { UsageError } from '../errors.js';
import type { RunResult } from '../runner/types.js';
import { removeStaleTemps, writeFileAtomic } from '../util/atomic-file.js';
import { reportFileNames } from './file-names.js';
import { saveHistory } from './history.js';
import { renderJunit } from './junit.js';
import { redact } from './redact.js';
import { buildSummary, orderedVmReport, type Summary } from './summary.js';

export const SUMMARY_FILE = 'summary.json';
export const JUNIT_FILE = 'junit.xml';

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
 * Writes what a run leaves behind in `dir`: `<vm>.json` per VM, `junit.xml` and, last,
 * `summary.json`, each atomically (a temporary file renamed into place), with secrets as `***`.
 * Then removes the reports of VMs that were not in this run, and keeps history when asked.
 */
export async function writeReports(result: RunResult, options: WriteReportsOptions): Promise<WrittenReports> {
  validate(options);
  const dir = path.resolve(options.dir);
  const secrets = options.secrets ?? [];
  await mkdir(dir, { recursive: true });
  await removeStaleTemps(dir);

  const r = redact(result, secrets);
  const names = reportFileNames(r.vms.map((vm) => vm.vm));
  const previous = (await readJson(path.join(dir, SUMMARY_FILE))) as Summary | undefined;

  const limit = pLimit(16);
  await Promise.all(r.vms.map((vm, i) => limit(() => writeFileAtomic(path.join(dir, names[i] ?? ''), json(orderedVmReport(vm))))));
  // Already redacted: render without a second pass.
  await writeFileAtomic(path.join(dir, JUNIT_FILE), renderJunit(r));
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

  const written = [...names, JUNIT_FILE, SUMMARY_FILE];
  const history = options.keep === undefined ? undefined : await saveHistory(dir, r.startedAt, written, options.keep);
  return { files: written.map((n) => path.join(dir, n)), removed, ...(history === undefined ? {} : { history }) };
}
