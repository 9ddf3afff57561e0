import path from 'node:path';
import { errorMessage } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import { loadPlaybook } from '../playbook/load.js';
import type { Playbook } from '../playbook/types.js';
import { acquireLock } from '../report/index.js';
import { parseListen, startHttpServer, type HttpEndpoint } from '../watch/http.js';
import { WatchService } from '../watch/service.js';
import { watchedUris } from '../watch/select.js';
import { parseDurationOption, parsePositiveInt, type Io } from './common.js';
import { reportDirOf } from './run.js';
import { applyOverrides } from './playbook-options.js';

export interface WatchArgs {
  playbook: string;
  concurrency?: number;
  connect?: string;
  'virsh-mode'?: 'session' | 'process';
  'report-dir'?: string;
  keep?: number;
  metrics?: string;
  listen?: string;
  'listen-non-loopback'?: boolean;
  'stop-timeout': string;
  'log-format': 'text' | 'json';
  'lock-wait': string;
}

/**
 * `qga-play watch`: runs until SIGTERM/SIGINT, then finishes (or, past --stop-timeout, cancels)
 * in-flight runs, writes the reports and exits 0. SIGHUP re-reads the playbook.
 */
export async function watchCommand(argv: WatchArgs, io: Io, signal: AbortSignal): Promise<number> {
  const concurrency = argv.concurrency === undefined ? undefined : parsePositiveInt(argv.concurrency, 'concurrency');
  const keep = argv.keep === undefined ? undefined : parsePositiveInt(argv.keep, 'keep');
  const stopTimeoutMs = parseDurationOption(argv['stop-timeout'], 'stop-timeout');
  const lockWaitMs = parseDurationOption(argv['lock-wait'], 'lock-wait');
  const listen = argv.listen === undefined ? undefined : parseListen(String(argv.listen), Boolean(argv['listen-non-loopback']));
  const json = argv['log-format'] === 'json';
  const log = (line: string, record?: Record<string, unknown>): void => {
    const time = new Date().toISOString();
    io.stderr(json ? `${JSON.stringify({ time, msg: line, ...record })}\n` : `${time} ${line}\n`);
  };

  const load = async (): Promise<Playbook> => {
    const loaded = await loadPlaybook(argv.playbook, { env: io.env });
    for (const warning of loaded.warnings) log(`warning: ${warning}`);
    const playbook = applyOverrides(loaded.playbook, { connect: argv.connect, concurrency });
    return argv['virsh-mode'] ? { ...playbook, virsh: { ...playbook.virsh, mode: argv['virsh-mode'] } } : playbook;
  };
  const playbook = await load();
  if (signal.aborted) return EXIT.interrupted;
  const dir = reportDirOf(playbook, argv);
  // One watch (or run) per report directory: the lock is held for the whole life of the service.
  const lock = await acquireLock(dir, { waitMs: lockWaitMs, signal });
  let http: HttpEndpoint | undefined;
  let reloading: Promise<void> = Promise.resolve();
  const service = new WatchService({
    playbook,
    reportDir: dir,
    keep: keep ?? playbook.report.keep,
    metricsFile: argv.metrics === undefined ? undefined : path.resolve(argv.metrics),
    stopTimeoutMs,
    log,
  });
  const onHup = (): void => {
    reloading = reloading.then(async () => {
      try {
        const next = await load();
        if (reportDirOf(next, argv) !== dir) log(`reload: report.dir changed; it takes effect only when the service restarts (still writing to ${dir})`);
        service.reload(next);
        log(`reload: playbook ${JSON.stringify(next.name)} from ${next.file}: ${next.targets.length} target(s), ${next.steps.length} step(s), following ${watchedUris(next).join(', ') || 'no libvirt connection'}`);
      } catch (err) {
        log(`reload: ${argv.playbook} is not valid; keeping the playbook in use. ${errorMessage(err)}`);
      }
    });
  };
  process.on('SIGHUP', onHup);
  try {
    if (listen) {
      http = await startHttpServer(listen, { metrics: () => service.reports.metrics(), health: () => service.health() });
      const a = http.address;
      log(`serving /metrics and /healthz on http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`);
    }
    log(`watching with playbook ${JSON.stringify(playbook.name)} (${playbook.file}); reports in ${dir}; pid ${process.pid}`);
    void service.start();
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    log(`stopping (${errorMessage(signal.reason)}): waiting up to ${stopTimeoutMs / 1000} s for runs in flight`);
    const { canceled } = await service.stop();
    log(`stopped${canceled ? ' (runs still going were canceled)' : ''}; reports written to ${dir}`);
    return EXIT.ok;
  } finally {
    process.off('SIGHUP', onHup);
    await reloading;
    await http?.close();
    await lock.release();
  }
}
