// npm run bench -- virsh: the standard channel through virsh, against what users run instead, in
// one run. Needs the lab (npm run lab -- up 8; npm run lab -- sshd for the remote rows).
//  1. per call: `virsh qemu-agent-command` as a process per call (the baseline) vs a qga-play
//     virsh session, on one lab guest locally and through the loopback qemu+ssh:// URI, and
//     locally on every guest in turn;
//  2. fleet time sync on the lab guests: the shell loops users write today (`virsh domtime
//     --sync`, one by one and with xargs -P8) vs `qga-play run fleet-timesync.yaml`: wall time
//     and each guest's offset afterwards, measured independently through its .1 socket;
//  3. request length through a session's stdin vs a process (why long requests take a process).
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { VirshSessionPool } from '../dist/transport/virsh-session.js';
import { SocketTransport } from '../dist/transport/socket.js';
import { call } from '../dist/transport/transport.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LOCAL = 'qemu:///system';
const RUN_DIR = process.env.LAB_RUN_DIR ?? '/run/qga-play-lab';
const GUESTS = Number(process.env.BENCH_GUESTS ?? 8);
const guests = Array.from({ length: GUESTS }, (_, i) => `qgalab-${i + 1}`);
const PING = JSON.stringify({ execute: 'guest-ping' });

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));

async function sshUri() {
  const r = await execa('bash', [`${ROOT}scripts/lab.sh`, 'sshd', 'uri'], { reject: false });
  const uri = r.stdout.trim();
  const probe = await execa('virsh', ['-c', uri, 'version'], { reject: false, timeout: 20_000 });
  return probe.exitCode === 0 ? uri : undefined;
}

async function timed(n, fn) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    times.push(performance.now() - t0);
  }
  return { p50: pct(times, 50), p95: pct(times, 95) };
}

/** Per call on `targets` in turn: one guest (as the issue measures), or every guest in turn. */
async function perCall(uri, label, n, targets) {
  const proc = await timed(n, async (i) => {
    const r = await execa('virsh', ['-c', uri, 'qemu-agent-command', targets[i % targets.length], PING], { reject: false });
    if (r.exitCode !== 0) throw new Error(r.stderr);
  });
  const pool = new VirshSessionPool({ uri, size: 1 });
  await pool.run(`echo warm`, 60_000);
  const session = await timed(n * 4, async (i) => {
    const out = await pool.run(`qemu-agent-command '${targets[i % targets.length]}' '${PING}'`, 30_000);
    if (!out.stdout.includes('"return"')) throw new Error(out.stderr || out.stdout);
  });
  await pool.close();
  return { label, proc, session };
}

/** The guest's offset in ms, independently: best of 15 through its .1 socket (~0.5 ms round trip). */
async function trueOffset(vm) {
  const t = new SocketTransport({ path: `${RUN_DIR}/channels/${vm}.agent1.sock` });
  try {
    let best;
    for (let i = 0; i < 15; i++) {
      const t0 = performance.timeOrigin + performance.now();
      const ns = await call(t, 'guest-get-time', undefined, { timeoutMs: 10_000 });
      const t1 = performance.timeOrigin + performance.now();
      if (!best || t1 - t0 < best.rtt) best = { off: ns / 1e6 - (t0 + t1) / 2, rtt: t1 - t0 };
    }
    return best.off;
  } finally {
    await t.close();
  }
}

async function skewAll() {
  await Promise.all(
    guests.map(async (vm, i) => {
      const t = new SocketTransport({ path: `${RUN_DIR}/channels/${vm}.agent1.sock` });
      try {
        const skewMs = (i % 2 ? -1 : 1) * (1500 + 700 * i) + 0.37;
        await call(t, 'guest-set-time', { time: Math.round((Date.now() + skewMs) * 1e6) }, { timeoutMs: 10_000 });
      } finally {
        await t.close();
      }
    }),
  );
}

async function offsets() {
  const out = [];
  for (const vm of guests) out.push(Math.abs(await trueOffset(vm)));
  return out;
}

const FLEET_ROUNDS = Number(process.env.BENCH_FLEET_ROUNDS ?? 5);
if (!(Number.isInteger(FLEET_ROUNDS) && FLEET_ROUNDS >= 1)) throw new Error(`BENCH_FLEET_ROUNDS must be a whole number >= 1, got ${process.env.BENCH_FLEET_ROUNDS}`);

/** One round of a row: skew every guest, run `fn`, measure every guest's offset through .1. */
async function fleetRound(fn) {
  await skewAll();
  const t0 = performance.now();
  const extra = await fn();
  const wall = performance.now() - t0;
  return { wall, offs: await offsets(), extra };
}

/** The rows' rounds alternate, so a slow spell of the host falls on every row alike. */
async function fleetRows(rows) {
  const rounds = rows.map(() => []);
  for (let r = 0; r < FLEET_ROUNDS; r++) for (const [i, row] of rows.entries()) rounds[i].push(await fleetRound(row.fn));
  return rows.map((row, i) => {
    const offs = rounds[i].flatMap((x) => x.offs);
    const extras = [...new Set(rounds[i].map((x) => x.extra).filter(Boolean))];
    return { label: row.label, wall: pct(rounds[i].map((x) => x.wall), 50), p50: pct(offs, 50), max: Math.max(...offs), extra: extras.join(', ') };
  });
}

export async function benchVirsh() {
  const n = Number(process.env.BENCH_CALLS ?? 30);
  // A guest idle since its last call takes about a millisecond more to answer (its vCPU wakes):
  // the rows over every guest in turn add that to both columns.
  const rows = [await perCall(LOCAL, 'local qemu:///system, one guest', n, guests.slice(0, 1)), await perCall(LOCAL, `local qemu:///system, ${GUESTS} guests in turn`, n, guests)];
  const remote = await sshUri();
  if (remote) rows.push(await perCall(remote, 'qemu+ssh:// (loopback sshd), one guest', Math.max(5, Math.floor(n / 5)), guests.slice(0, 1)));
  else console.log('(no lab sshd: npm run lab -- sshd for the qemu+ssh:// rows)');
  console.log('\nvirsh per call, guest-ping (ms):');
  console.log('| route | virsh process per call p50 / p95 | qga-play session p50 / p95 | ratio (p50) |');
  console.log('|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.label} | ${fmt(r.proc.p50)} / ${fmt(r.proc.p95)} | ${fmt(r.session.p50)} / ${fmt(r.session.p95)} | ${(r.proc.p50 / r.session.p50).toFixed(1)}x |`);
  }

  const limit = `qgalab-[1-${GUESTS}]`;
  const fleetSpecs = [
    {
      label: 'for d in ...; do virsh domtime --sync $d; done',
      fn: async () => {
        for (const vm of guests) await execa('virsh', ['-c', LOCAL, 'domtime', '--sync', vm], { reject: false });
      },
    },
    {
      label: 'xargs -P8 -n1 virsh domtime --sync (guest names on stdin)',
      fn: async () => {
        await execa('xargs', ['-P8', '-n1', 'virsh', '-c', LOCAL, 'domtime', '--sync'], { input: guests.join('\n'), reject: false });
      },
    },
    ...['session', 'process'].map((mode) => ({
      label: `qga-play run fleet-timesync.yaml (virsh ${mode})`,
      fn: async () => {
        const r = await execa('node', [`${ROOT}bin/qga-play.js`, 'run', `${ROOT}playbooks/fleet-timesync.yaml`, '--limit', limit, '--virsh-mode', mode, '--report-dir', '/tmp/qga-bench-virsh', '--quiet'], { reject: false });
        return `exit ${r.exitCode}`;
      },
    })),
  ];
  const fleet = await fleetRows(fleetSpecs);
  const loop = fleet[0].wall;
  console.log(`\nfleet time sync, ${GUESTS} guests skewed 1.5-6.4 s, ${FLEET_ROUNDS} rounds per row (alternating): median wall; offsets after over all rounds, measured through each .1 socket:`);
  console.log('| what | wall (median) | vs domtime loop | offset after p50 | max | exit codes |');
  console.log('|---|---|---|---|---|---|');
  for (const r of fleet) console.log(`| ${r.label} | ${fmt(r.wall)} ms | ${(r.wall / loop).toFixed(2)}x | ${fmt(r.p50)} ms | ${fmt(r.max)} ms | ${r.extra ?? ''} |`);

  console.log('\nrequest length through a session vs a process (guest-ping padded with an unused string):');
  const pool = new VirshSessionPool({ uri: LOCAL, size: 1 });
  for (const bytes of [1024, 4096, 8192, 16384, 32768]) {
    const json = JSON.stringify({ execute: 'guest-ping', pad: 'x'.repeat(bytes) });
    const s = await timed(3, () => pool.run(`qemu-agent-command 'qgalab-1' '${json}'`, 60_000));
    const p = await timed(3, () => execa('virsh', ['-c', LOCAL, 'qemu-agent-command', 'qgalab-1', json], { reject: false }));
    console.log(`  ${String(bytes).padStart(6)} B: session ${fmt(s.p50)} ms, process ${fmt(p.p50)} ms`);
  }
  await pool.close();
}
