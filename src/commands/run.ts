import path from 'node:path';
import { loadPlaybook } from '../playbook/load.js';
import type { Playbook } from '../playbook/types.js';
import { planRun, runPlaybook } from '../runner/run.js';
import type { RunResult } from '../runner/types.js';
import { EXIT } from '../exit-codes.js';
import { acquireLock, createHumanReporter, redact, renderJsonSummary, readPreviousSuccess, renderMetrics, wantColor, writeMetrics, writeReports } from '../report/index.js';
import { parseDurationOption, parsePositiveInt, type Io } from './common.js';
import { applyOverrides, secretsOf } from './playbook-options.js';
import { formatPlan } from './check.js';

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
  for (const warning of loaded.warnings) io.stderr(`qga-play: warning: ${warning}\n`);
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
  const lock = await acquireLock(dir, { waitMs: lockWaitMs, signal });
  try {
    const humanStream = argv.format === 'json' ? io.stderrStream : (process.stdout as NodeJS.WritableStream & { isTTY?: boolean });
    const tty = Boolean(humanStream.isTTY);
    const color = wantColor({ tty, flag: argv.color, env: io.env });
    const human = createHumanReporter({ stream: humanStream, tty, color, quiet: Boolean(argv.quiet), verbose: argv.verbose, secrets });
    const result = await runPlaybook(playbook, { signal, limit: argv.limit, listener: human.listener, ...reach });
    await writeReports(result, { dir, keep: keep ?? playbook.report.keep, secrets });
    if (argv.metrics) {
      const file = path.resolve(argv.metrics);
      // A failed run keeps the previous last-success time: the alert on its age keeps counting.
      const previousSuccessSeconds = await readPreviousSuccess(file, { playbook: playbook.name, secrets });
      await writeMetrics(file, renderMetrics(result, { playbook: playbook.name, secrets, previousSuccessSeconds }));
    }
    human.finish(result);
    if (argv.format === 'json') io.stdout(renderJsonSummary(result, { secrets }) + '\n');
    else if (!argv.quiet) io.stdout(`Reports: ${dir}\n`);
    return exitCodeOf(result);
  } finally {
    await lock.release();
  }
}
