// Startup cost of the CLI against `node -e 0`, paired: every round runs the baseline and each
// command back to back, so machine load hits both alike. Targets (issue 11): --version within
// 150 ms of the baseline, check of each shipped playbook within 250 ms.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BIN = path.join(ROOT, 'bin/qga-play.js');

function once(args) {
  const started = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - started;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function benchStartup(rounds = Number(process.env.BENCH_ROUNDS ?? 15)) {
  const playbooks = readdirSync(path.join(ROOT, 'playbooks')).filter((f) => f.endsWith('.yaml')).map((f) => `playbooks/${f}`);
  const cases = [
    { name: '--version', args: [BIN, '--version'], target: 150 },
    { name: 'run --help', args: [BIN, 'run', '--help'] },
    ...playbooks.map((p) => ({ name: `check ${path.basename(p)}`, args: [BIN, 'check', p], target: 250 })),
  ];
  const base = [];
  const extra = new Map(cases.map((c) => [c.name, []]));
  once(['-e', '0']);
  for (const c of cases) once(c.args);
  for (let i = 0; i < rounds; i++) {
    const b = once(['-e', '0']);
    base.push(b);
    for (const c of cases) extra.get(c.name).push(once(c.args) - b);
  }
  const b = median(base);
  console.log(`startup, ${rounds} paired rounds: node -e 0 (baseline) median ${b.toFixed(0)} ms`);
  let ok = true;
  for (const c of cases) {
    const d = median(extra.get(c.name));
    const verdict = c.target === undefined ? '' : d <= c.target ? `  target +${c.target} ms: met` : `  target +${c.target} ms: MISSED`;
    if (c.target !== undefined && d > c.target) ok = false;
    console.log(`  ${c.name.padEnd(28)} +${d.toFixed(0).padStart(4)} ms over the baseline (${((b + d) / b).toFixed(2)}x)${verdict}`);
  }
  return ok;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) benchStartup();
