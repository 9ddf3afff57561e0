// A playbook of ping + info on many real host agents at concurrency 1 (the baseline), 16 and 64.
import { parsePlaybook } from '../dist/playbook/index.js';
import { runPlaybook } from '../dist/runner/run.js';
import { startAgents } from './agents.js';

export async function benchFleet(n = Number(process.env.BENCH_AGENTS ?? 200)) {
  const agents = await startAgents(n);
  try {
    const targets = agents.sockets.map((s, i) => `  - vm: agent-${i}\n    socket: ${s}\n`).join('');
    const { playbook } = parsePlaybook(`name: bench\ntimeout: 10s\ntargets:\n${targets}steps:\n  - ping\n  - info\n`, '/tmp/bench.yaml');
    console.log(`fleet: ping + info on ${n} host agents`);
    let baseline;
    for (const concurrency of [1, 16, 64]) {
      const rssBefore = process.memoryUsage().rss;
      const started = performance.now();
      const result = await runPlaybook(playbook, { concurrency });
      const ms = performance.now() - started;
      if (result.totals.ok !== n) throw new Error(`only ${result.totals.ok}/${n} ok at concurrency ${concurrency}`);
      baseline ??= ms;
      const rss = (process.memoryUsage().rss - rssBefore) / 1048576;
      console.log(`  concurrency ${String(concurrency).padStart(2)}: ${ms.toFixed(0)} ms  (${(ms / n).toFixed(2)} ms/VM)  speed-up ${(baseline / ms).toFixed(1)}x vs concurrency 1  rss +${rss.toFixed(1)} MiB`);
    }
  } finally {
    await agents.stop();
  }
}
