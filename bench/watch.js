// npm run bench -- watch: per-node figures of `qga-play watch` (docs/scaling.md).
//  1. a full pass over N real host agents (lab.sh agents, always -b) through their sockets:
//     VMs per second, peak RSS, CPU seconds, against `qga-play run` of the same playbook in
//     this process (the baseline);
//  2. the event path alone: parsing and scheduling 200,000 event lines (CPU per event).
// N: QGA_PLAY_BENCH_AGENTS (default 1000).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parsePlaybook } from '../dist/playbook/load.js';
import { runPlaybook } from '../dist/runner/run.js';
import { parseEventLine } from '../dist/watch/events.js';
import { Scheduler } from '../dist/watch/scheduler.js';
import { WatchService } from '../dist/watch/service.js';
import { setInterval, clearInterval } from 'node:timers';
import { startAgents } from './agents.js';

const N = Number(process.env.QGA_PLAY_BENCH_AGENTS ?? 1000);

function cpuSeconds(from) {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1e6;
}

async function sampleRss(fn) {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    const value = await fn();
    return { value, peakMiB: peak / 2 ** 20 };
  } finally {
    clearInterval(timer);
  }
}

export async function benchWatch() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'qga-bench-watch-'));
  const t0 = Date.now();
  const agents = await startAgents(N);
  console.log(`watch: ${agents.sockets.length} host agents started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  try {
    const yaml = `name: bench\nconcurrency: 32\ntargets:\n${agents.sockets.map((s, i) => `  - vm: agent-${i}\n    socket: ${s}\n`).join('')}steps:\n  - ping\n  - time-get: { samples: 3 }\n`;
    const file = path.join(dir, 'pb.yaml');
    await writeFile(file, yaml);
    const playbook = parsePlaybook(yaml, file).playbook;
    const baseRss = process.memoryUsage().rss / 2 ** 20;

    // Baseline: one `run` of the same playbook.
    let cpu = process.cpuUsage();
    let start = Date.now();
    const run = await sampleRss(() => runPlaybook(playbook));
    const runS = (Date.now() - start) / 1000;
    const runCpu = cpuSeconds(cpu);
    const runOk = run.value.totals.ok;

    // watch: its first full pass (reports written per VM, summary and metrics kept current).
    cpu = process.cpuUsage();
    start = Date.now();
    let passLine = '';
    const service = new WatchService({ playbook, reportDir: path.join(dir, 'reports'), metricsFile: path.join(dir, 'm.prom'), log: (l) => l.startsWith('full pass') && (passLine = l) });
    const pass = await sampleRss(() => service.start());
    const passS = (Date.now() - start) / 1000;
    const passCpu = cpuSeconds(cpu);
    await service.stop();
    console.log(`watch: ${passLine}`);
    console.log('| what | VMs | ok | wall s | VMs/s | CPU s | CPU ms per VM | peak RSS MiB (start ' + baseRss.toFixed(0) + ') |');
    console.log('|---|---|---|---|---|---|---|---|');
    console.log(`| run (baseline) | ${N} | ${runOk} | ${runS.toFixed(2)} | ${(N / runS).toFixed(0)} | ${runCpu.toFixed(2)} | ${((runCpu * 1000) / N).toFixed(2)} | ${run.peakMiB.toFixed(0)} |`);
    console.log(`| watch full pass | ${N} | ${/(\d+) ok/.exec(passLine)?.[1] ?? '?'} | ${passS.toFixed(2)} | ${(N / passS).toFixed(0)} | ${passCpu.toFixed(2)} | ${((passCpu * 1000) / N).toFixed(2)} | ${pass.peakMiB.toFixed(0)} |`);
    console.log(`watch/run wall ratio: ${(passS / runS).toFixed(2)}`);
  } finally {
    await agents.stop();
    await rm(dir, { recursive: true, force: true });
  }

  // The event path alone: parse + per-domain coalescing, 200k lines over 1,000 domains.
  const lines = Array.from({ length: 200_000 }, (_, i) => `2026-11-29 13:35:16.283+0000: event 'lifecycle' for domain 'vm-${i % 1000}': ${i % 2 ? 'Resumed Unpaused' : 'Suspended Paused'}`);
  let runs = 0;
  const s = new Scheduler({ concurrency: 16, run: async () => void runs++ });
  const cpu = process.cpuUsage();
  const start = Date.now();
  for (const l of lines) {
    const e = parseEventLine(l);
    if (e?.trigger) s.request(e.domain, e, 100, e.atMs);
  }
  const parseMs = Date.now() - start;
  await s.idle();
  console.log(`watch: event path: ${lines.length} lines parsed and scheduled in ${parseMs} ms (${((cpuSeconds(cpu) * 1e6) / lines.length).toFixed(1)} µs CPU per line), ${runs} runs for 1,000 domains`);
}

if (import.meta.url === `file://${process.argv[1]}`) await benchWatch();
