// qga-play run (ping + time-get with 5 samples) over N real host agents, against a minimal raw
// client (bench/raw-client.js) doing the same calls over the same sockets: wall time and peak
// RSS of each process, measured by /usr/bin/time, alternating. Target (issue 11): 1.3x.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAgents } from './agents.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

function measure(args, env = process.env) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, ...args], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
  const out = String(r.stderr);
  if (r.status !== 0) throw new Error(`node ${args[0]} exited ${r.status}: ${out.slice(-2000)}`);
  const [s, kb] = out.trim().split('\n').pop().split(' ').map(Number);
  return { ms: s * 1000, rssMiB: kb / 1024 };
}

export async function benchFleetFloor(n = Number(process.env.BENCH_FLOOR_AGENTS ?? 500), rounds = Number(process.env.BENCH_ROUNDS_FLOOR ?? 3)) {
  const concurrency = 64;
  const agents = await startAgents(n);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qga-floor-'));
  try {
    const targets = agents.sockets.map((s, i) => `  - vm: agent-${i}\n    socket: ${s}\n`).join('');
    const playbook = path.join(dir, 'floor.yaml');
    writeFileSync(playbook, `name: floor\nconcurrency: ${concurrency}\ntimeout: 30s\ntargets:\n${targets}steps:\n  - ping\n  - time-get: { samples: 5 }\n`);
    const raw = [];
    const rawFiles = [];
    const rawTool = [];
    const cli = [];
    for (let i = 0; i < rounds; i++) {
      raw.push(measure(['bench/raw-client.js', String(concurrency), ...agents.sockets]));
      rawFiles.push(measure(['bench/raw-client.js', String(concurrency), ...agents.sockets], { ...process.env, RAW_REPORT_DIR: path.join(dir, 'raw-reports') }));
      rawTool.push(measure(['bench/raw-client.js', '0'], { ...process.env, RAW_REPORT_DIR: path.join(dir, 'raw-tool-reports'), RAW_FLUSH: '1', RAW_PLAYBOOK: playbook }));
      cli.push(measure(['bin/qga-play.js', 'run', playbook, '--quiet', '--report-dir', path.join(dir, 'reports')]));
    }
    const med = (xs, k) => xs.map((x) => x[k]).sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const r = { ms: med(raw, 'ms'), rss: med(raw, 'rssMiB') };
    const rf = { ms: med(rawFiles, 'ms'), rss: med(rawFiles, 'rssMiB') };
    const rt = { ms: med(rawTool, 'ms'), rss: med(rawTool, 'rssMiB') };
    const c = { ms: med(cli, 'ms'), rss: med(cli, 'rssMiB') };
    console.log(`fleet vs floor: ping + time-get (5 samples) on ${n} host agents, concurrency ${concurrency}, median of ${rounds}`);
    console.log(`  raw client (baseline): ${r.ms.toFixed(0)} ms, peak RSS ${r.rss.toFixed(0)} MiB`);
    console.log(`  raw client + a JSON file per agent (temp + rename): ${rf.ms.toFixed(0)} ms, peak RSS ${rf.rss.toFixed(0)} MiB`);
    console.log(`  raw client reading the playbook (yaml) + a flushed JSON file per agent: ${rt.ms.toFixed(0)} ms, peak RSS ${rt.rss.toFixed(0)} MiB (${(rt.ms / r.ms).toFixed(2)}x / ${(rt.rss / r.rss).toFixed(2)}x the raw client)`);
    console.log(`  qga-play run:          ${c.ms.toFixed(0)} ms, peak RSS ${c.rss.toFixed(0)} MiB  ratio wall ${(c.ms / r.ms).toFixed(2)}x, memory ${(c.rss / r.rss).toFixed(2)}x (target 1.3x); against the raw client with files: wall ${(c.ms / rf.ms).toFixed(2)}x, memory ${(c.rss / rf.rss).toFixed(2)}x; against the one reading the playbook with flushed files: wall ${(c.ms / rt.ms).toFixed(2)}x, memory ${(c.rss / rt.rss).toFixed(2)}x`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await agents.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await benchFleetFloor();
