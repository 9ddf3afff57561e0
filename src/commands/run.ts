import path from 'node:path';
import { loadPlaybook } from '../playbook/load.js';
import type { Playbook } from '../playbook/types.js';
import { planRun, runPlaybook } from '../runner/run.js';
import type { RunResult } from '../runner/types.js';
import { EXIT } from '../exit-codes.js';
import { acquireLock, createHumanReporter, jsonReporter, metricsReporter, redact, reportDirReporter, reporters, wantColor } from '../report/index.js';
import { parseDurationOption, parsePositiveInt, type Io } from './common.js';
import { applyOverrides, secretsOf } from './playbook-options.js';
import { formatPlan } from './check.js';
import { UsageError } from '../errors.js';
import { probeWritableDir, probeWritableFile } from '../util/fs-check.js';
import { visible } from '../util/visible.js';

export interface RunArgs {
  playbook: string;
  limit?: string;
  concurrency?: number;
  connect?: string;
  'dry-run'?: boolean;
  'virsh-mode'?: 'session' | 'process';
  'virsh-sessions'?: number;
  'report-dir'?: string;
  keep?: number;
  format: 'human' | 'json';
  metrics?: string;
  'lock-wait': string;
  quiet?: boolean;
  color?: boolean;
  verbose?: boolean;
}

export { applyOverrides, secretsOf } from './playbook-options.js';

/** Where root's runs leave their reports by default: `<this>/<playbook file name>`. */
export const ROOT_REPORT_BASE = '/var/lib/qga-play';

export function exitCodeOf(result: RunResult): number {
  if (result.canceled) return EXIT.interrupted;
  if (result.totals.failed > 0) return EXIT.failed;
  if (result.totals.unreachable > 0) return EXIT.unreachable;
  return EXIT.ok;
}

export function reportDirOf(playbook: Playbook, argv: Pick<RunArgs, 'report-dir'>, cwd = process.cwd(), uid = process.getuid?.()): string {
  if (argv['report-dir']) return path.resolve(cwd, argv['report-dir']);
  if (playbook.report.dir) return playbook.report.dir;
  const name = path.basename(playbook.file).replace(/\.ya?ml$/i, '');
  // Root runs from cron or systemd, whose working directory is / or $HOME: the FHS place for state.
  if (uid === 0) return path.join(ROOT_REPORT_BASE, name);
  return path.resolve(cwd, 'qga-reports', name);
}

export async function runCommand(argv: RunArgs, io: Io, signal: AbortSignal): Promise<number> {
  const concurrency = argv.concurrency === undefined ? undefined : parsePositiveInt(argv.concurrency, 'concurrency');
  const keep = argv.keep === undefined ? undefined : parsePositiveInt(argv.keep, 'keep');
  const lockWaitMs = parseDurationOption(argv['lock-wait'], 'lock-wait');
  const loaded = await loadPlaybook(argv.playbook, { env: io.env });
  for (const warning of loaded.warnings) io.stderr(`qga-play: warning: ${visible(warning)}\n`);
  const playbook = applyOverrides(loaded.playbook, { connect: argv.connect, concurrency });
  const secrets = secretsOf(playbook);
  const virshSessions = argv['virsh-sessions'] === undefined ? undefined : parsePositiveInt(argv['virsh-sessions'], 'virsh-sessions');
  const reach = { virshMode: argv['virsh-mode'], virshSessions };

  if (argv['dry-run']) {
    const plan = await planRun(playbook, { signal, limit: argv.limit, ...reach });
    io.stdout(redact(formatPlan(playbook, plan.vms, plan.warnings, { dryRun: true }), secrets));
    return plan.vms.some((v) => v.problem) ? EXIT.unreachable : EXIT.ok;
  }

  const dir = reportDirOf(playbook, argv);
  const metricsFile = argv.metrics ? path.resolve(argv.metrics) : undefined;
  // Before anything runs: a run whose results cannot be kept is not started.
  const dirProblem = await probeWritableDir(dir);
  if (dirProblem) throw new UsageError(`cannot write reports to ${visible(dir)}: ${visible(dirProblem)}; nothing was run (choose another with --report-dir)`, 'REPORT_DIR_UNUSABLE');
  const metricsProblem = metricsFile && (await probeWritableFile(metricsFile));
  if (metricsProblem) throw new UsageError(`cannot write the metrics file ${visible(metricsFile!)}: ${visible(metricsProblem)}; nothing was run`, 'METRICS_FILE_UNUSABLE');
  const lock = await acquireLock(dir, { waitMs: lockWaitMs, signal });
  try {
    const humanStream = argv.format === 'json' ? io.stderrStream : (process.stdout as NodeJS.WritableStream & { isTTY?: boolean });
    const tty = Boolean(humanStream.isTTY);
    const color = wantColor({ tty, flag: argv.color, env: io.env });
    // In finishing order: the files first, then what is shown. One line per output format.
    const outputs = reporters(
      [
        reportDirReporter({ dir, keep: keep ?? playbook.report.keep }),
        ...(metricsFile ? [metricsReporter({ file: metricsFile })] : []),
        createHumanReporter({ stream: humanStream, tty, color, quiet: Boolean(argv.quiet), verbose: argv.verbose }),
        ...(argv.format === 'json' ? [jsonReporter({ write: io.stdout })] : []),
      ],
      { secrets },
    );
    const result = await runPlaybook(playbook, { signal, limit: argv.limit, listener: outputs.listener, ...reach });
    // The disk can still fill up or turn read-only during the run: the results are shown anyway.
    const failures = await outputs.finish();
    if (argv.format !== 'json' && !argv.quiet && failures.length === 0) io.stdout(`Reports: ${visible(dir)}\n`);
    for (const failure of failures) io.stderr(`qga-play: ${visible(failure.message)}\n`);
    if (failures.length > 0 && !result.canceled) return EXIT.reportWrite;
    return exitCodeOf(result);
  } finally {
    await lock.release();
  }
}
