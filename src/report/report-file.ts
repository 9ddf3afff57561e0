import type { RunResult } from '../runner/types.js';

/**
 * A file the report directory holds beside each VM's report and `summary.json` (JUnit, say):
 * written atomically after the VM reports and before the summary, and kept in the history.
 * Adding one is this object and a line in `REPORT_DIR_FILES` (report/write.ts).
 */
export interface ReportFile {
  /** The file's name in the report directory. */
  name: string;
  /** The file's content for a run whose secrets are already masked. */
  render(result: RunResult): string;
}
