import { visible } from '../util/visible.js';
import { UsageError } from '../errors.js';

/** One thing wrong with a playbook, located in its file. */
export interface Problem {
  file: string;
  /** 1-based; 0 when the problem is about the whole file (missing, a directory). */
  line: number;
  column: number;
  /** Where in the playbook, e.g. `steps[2].exec.path`; empty for the whole file. */
  path: string;
  message: string;
}

/** One line per problem; the file name and message quote the playbook, so nothing in them acts on a terminal. */
export function formatProblem(p: Problem): string {
  const file = visible(p.file);
  return p.line > 0 ? `${file}:${p.line}:${p.column}: ${visible(p.message)}` : `${file}: ${visible(p.message)}`;
}

/**
 * The playbook cannot be used: `problems` lists everything wrong at once, and the message has
 * one line per problem. A UsageError, so the command line exits 2 with nothing run.
 */
export class PlaybookError extends UsageError {
  /** Every problem found (the message shows the first {@link SHOWN_PROBLEMS}). */
  readonly problems: Problem[];
  constructor(problems: Problem[], options?: { cause?: unknown }) {
    super(problemLines(problems), 'PLAYBOOK_INVALID', options);
    this.problems = problems;
  }
}

/** How many problems a message lists before it counts the rest, as compilers do. */
export const SHOWN_PROBLEMS = 20;

function problemLines(problems: readonly Problem[]): string {
  const lines = problems.slice(0, SHOWN_PROBLEMS).map(formatProblem);
  const rest = problems.length - SHOWN_PROBLEMS;
  if (rest > 0) lines.push(`${visible(problems[0]!.file)}: ... and ${rest.toLocaleString('en-US')} more problem${rest === 1 ? '' : 's'} (${problems.length.toLocaleString('en-US')} in all; fix these first)`);
  return lines.join('\n');
}
