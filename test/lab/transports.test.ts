/**
 * qga-play's two transports against real agents in a lab guest: VirshTransport on
 * org.qemu.guest_agent.0 (libvirt holds it) and SocketTransport on the org.qemu.guest_agent.1
 * unix socket. Every command of issue 3 section 2 through both, then per-call latency medians.
 *
 * Both transports stay open for the whole file; the .1 socket serves one client at a time, so
 * nothing else in this file may connect to it (the clock is restored through the same object).
 */
import { hostNowMs } from '../../src/util/clock.js';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { AgentError } from '../../src/errors.js';
import { SocketTransport } from '../../src/transport/socket.js';
import { call, type Transport } from '../../src/transport/transport.js';
import { VirshTransport } from '../../src/transport/virsh.js';
import { channelSocket, LAB_GUESTS, LAB_URI, labDescribe, pollGuestExec, viaTransport, type ExecResult } from '../helpers/lab.js';

const GUEST = LAB_GUESTS[0]!;
const opts = { timeoutMs: 15_000 };
const virsh = new VirshTransport({ uri: LAB_URI, domain: GUEST });
const sock = new SocketTransport({ path: channelSocket(GUEST, 1) });


/** The guest's clock offset from the host in ms: the sample with the shortest round trip. */
async function measureOffset(t: Transport, samples = 3): Promise<{ offsetMs: number; rttMs: number }> {
  let best: { offsetMs: number; rttMs: number } | undefined;
  for (let i = 0; i < samples; i++) {
    const t0 = hostNowMs();
    const ns = await call(t, 'guest-get-time', undefined, opts);
    const t1 = hostNowMs();
    expect(typeof ns).toBe('number');
    if (!best || t1 - t0 < best.rttMs) best = { offsetMs: ns / 1e6 - (t0 + t1) / 2, rttMs: t1 - t0 };
  }
  return best!;
}

/**
 * Puts the guest clock back on host time through the .1 socket (sub-millisecond round trip).
 * Connected and synced first: the time argument is fixed when the request is made, so a
 * connect + resync (~100 ms) after that would leave the guest that far behind.
 */
async function restoreClock(): Promise<void> {
  await call(sock, 'guest-ping', undefined, opts);
  await call(sock, 'guest-set-time', { time: Math.round(hostNowMs() * 1e6) }, opts);
}

/** guest-exec with captured output, polling guest-exec-status until the process exited. */
async function execCapture(t: Transport, path: string, args: string[]): Promise<ExecResult> {
  const r = await pollGuestExec(viaTransport(t, opts.timeoutMs), path, args, { timeoutMs: 20_000, pollMs: 25 });
  expect(r.pid).toBeGreaterThan(0);
  return r;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

interface Route {
  name: string;
  t: Transport;
  /** Bytes per guest-file-write (virsh: its argv must stay well under 128 KiB per argument). */
  writeChunk: number;
  /** Bytes of the file written and read back. */
  fileBytes: number;
  /** count of each guest-file-read (virsh: at most about 1 MiB). */
  readCount: number;
}

const routes: Route[] = [
  // 64 KiB of data is 87,384 base64 characters: the JSON argument stays under ~90 KiB.
  { name: 'virsh (.0)', t: virsh, writeChunk: 64 * 1024, fileBytes: 256 * 1024, readCount: 1024 * 1024 },
  { name: 'socket (.1)', t: sock, writeChunk: 384 * 1024, fileBytes: 384 * 1024, readCount: 128 * 1024 },
];

labDescribe(describe)(`transports on lab guest ${GUEST}`, () => {
  // Start from a guest on host time: other lab suites set guest clocks (timesync's
  // measure-only test leaves qgalab-1 5 s ahead), and "close to host time" is checked below.
  beforeAll(restoreClock);
  afterAll(async () => {
    await virsh.close();
    await sock.close();
  });

  describe.each(routes)('$name', (route) => {
    const { t } = route;

    test('guest-ping', async () => {
      expect(await call(t, 'guest-ping', undefined, opts)).toEqual({});
    });

    test('guest-info: version and supported_commands', async () => {
      const info = await call(t, 'guest-info', undefined, opts);
      expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
      const names = new Map(info.supported_commands.map((c) => [c.name, c.enabled]));
      for (const c of ['guest-ping', 'guest-get-time', 'guest-set-time', 'guest-exec', 'guest-exec-status', 'guest-file-open', 'guest-network-get-interfaces']) {
        expect([c, names.get(c)]).toEqual([c, true]);
      }
      expect(names.get('guest-sync-delimited')).toBe(true);
    });

    test('guest-get-time is close to host time', async () => {
      const { offsetMs } = await measureOffset(t);
      expect(Math.abs(offsetMs)).toBeLessThan(1000);
    });

    test('guest-set-time +10 s reads back, then back to host time', async () => {
      await call(t, 'guest-ping', undefined, opts); // connected: the time below is sent when taken
      try {
        await call(t, 'guest-set-time', { time: Math.round((hostNowMs() + 10_000) * 1e6) }, opts);
        const skewed = await measureOffset(t);
        expect(Math.abs(skewed.offsetMs - 10_000)).toBeLessThan(1000);
        await call(t, 'guest-set-time', { time: Math.round(hostNowMs() * 1e6) }, opts);
        const back = await measureOffset(t);
        expect(Math.abs(back.offsetMs)).toBeLessThan(1000);
      } finally {
        await restoreClock();
      }
      // The guest is left on host time, measured independently through the .1 socket.
      const final = await measureOffset(sock, 5);
      expect(Math.abs(final.offsetMs)).toBeLessThan(50);
    });

    test('guest-network-get-interfaces lists lo with 127.0.0.1', async () => {
      const ifaces = await call(t, 'guest-network-get-interfaces', undefined, opts);
      const lo = ifaces.find((i) => i.name === 'lo');
      expect(lo).toBeDefined();
      expect(lo!['ip-addresses']).toEqual(expect.arrayContaining([expect.objectContaining({ 'ip-address-type': 'ipv4', 'ip-address': '127.0.0.1' })]));
    });

    test('guest-exec + guest-exec-status capture stdout, stderr and the exit code', async () => {
      const hello = await execCapture(t, '/bin/busybox', ['echo', 'hello']);
      expect(hello.status.exitcode).toBe(0);
      expect(hello.stdout).toBe('hello\n');
      expect(hello.stderr).toBe('');

      const both = await execCapture(t, '/bin/sh', ['-c', 'echo out; echo err >&2; exit 3']);
      expect(both.status.exitcode).toBe(3);
      expect(both.stdout).toBe('out\n');
      expect(both.stderr).toBe('err\n');

      // The status was reaped by the read that reported exited: an agent error, kept as such.
      const again = call(t, 'guest-exec-status', { pid: both.pid }, opts);
      await expect(again).rejects.toBeInstanceOf(AgentError);
      await expect(again).rejects.toMatchObject({ code: 'AGENT_ERROR', errorClass: 'GenericError', desc: expect.stringContaining("Invalid parameter 'pid'") });
    });

    test(`guest-file-open/write/read/close on /tmp round-trips the bytes`, async () => {
      const path = `/tmp/qga-play-transports-${t.kind}.bin`;
      const data = randomBytes(route.fileBytes);
      const w = await call(t, 'guest-file-open', { path, mode: 'w' }, opts);
      try {
        let written = 0;
        let writes = 0;
        while (written < data.length) {
          const chunk = data.subarray(written, written + route.writeChunk);
          const r = await call(t, 'guest-file-write', { handle: w, 'buf-b64': chunk.toString('base64') }, opts);
          expect(r.count).toBeGreaterThan(0); // writes can be short: continue from what was written
          written += r.count;
          writes++;
        }
        expect(written).toBe(data.length);
        expect(writes).toBeGreaterThanOrEqual(Math.ceil(data.length / route.writeChunk));
      } finally {
        await call(t, 'guest-file-close', { handle: w }, opts);
      }

      const r = await call(t, 'guest-file-open', { path, mode: 'r' }, opts);
      const parts: Buffer[] = [];
      try {
        for (let i = 0; ; i++) {
          const chunk = await call(t, 'guest-file-read', { handle: r, count: route.readCount }, opts);
          const bytes = Buffer.from(chunk['buf-b64'], 'base64');
          expect(bytes.length).toBe(chunk.count);
          expect(chunk.count).toBeLessThanOrEqual(route.readCount);
          parts.push(bytes);
          if (chunk.eof) break;
          if (i > 100) throw new Error('guest-file-read: no eof after 100 reads');
        }
      } finally {
        await call(t, 'guest-file-close', { handle: r }, opts);
      }
      expect(Buffer.concat(parts).equals(data)).toBe(true);

      const rm = await execCapture(t, '/bin/rm', ['-f', path]);
      expect(rm.status.exitcode).toBe(0);
      // A closed handle is gone: the agent says so, through either transport.
      await expect(call(t, 'guest-file-close', { handle: r }, opts)).rejects.toBeInstanceOf(AgentError);
    });
  });

  test('per-call latency: 20 guest-ping through virsh, 200 through one kept socket connection', async () => {
    const timeCalls = async (t: Transport, n: number): Promise<number[]> => {
      const ms: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        expect(await call(t, 'guest-ping', undefined, opts)).toEqual({});
        ms.push(performance.now() - t0);
      }
      return ms;
    };
    await call(sock, 'guest-ping', undefined, opts); // connected and synced before timing
    const v = await timeCalls(virsh, 20);
    const s = await timeCalls(sock, 200);
    const fmt = (xs: number[]): string => `median ${median(xs).toFixed(2)} ms (min ${Math.min(...xs).toFixed(2)}, max ${Math.max(...xs).toFixed(2)})`;
    console.log(`[lab] ${GUEST} guest-ping latency: virsh (.0, one process per call, n=20) ${fmt(v)}; socket (.1, kept connection, n=200) ${fmt(s)}`);
    expect(v).toHaveLength(20);
    expect(s).toHaveLength(200);
  }, 60_000);
});
