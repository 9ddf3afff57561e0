// Calls per second over one kept socket connection, against a new connection per call (the
// baseline), to one real host qemu-ga.
import { SocketTransport } from '../dist/transport/socket.js';
import { call } from '../dist/transport/transport.js';
import { startAgents } from './agents.js';

async function perSecond(n, fn) {
  const started = performance.now();
  for (let i = 0; i < n; i++) await fn();
  const ms = performance.now() - started;
  return { n, ms, perSecond: (n * 1000) / ms };
}

export async function benchSocket() {
  const agents = await startAgents(1);
  const path = agents.sockets[0];
  try {
    const opts = { timeoutMs: 5000 };
    const baseline = await perSecond(40, async () => {
      const t = new SocketTransport({ path });
      await call(t, 'guest-ping', undefined, opts);
      await t.close();
    });
    const kept = new SocketTransport({ path });
    await call(kept, 'guest-ping', undefined, opts);
    const sequential = await perSecond(3000, () => call(kept, 'guest-ping', undefined, opts));
    const timeCalls = await perSecond(3000, () => call(kept, 'guest-get-time', undefined, opts));
    await kept.close();
    console.log('socket transport, one host qemu-ga:');
    console.log(`  new connection per call (baseline): ${baseline.perSecond.toFixed(0)} calls/s (${(baseline.ms / baseline.n).toFixed(2)} ms/call)`);
    console.log(`  kept connection, guest-ping:        ${sequential.perSecond.toFixed(0)} calls/s (${(sequential.ms / sequential.n).toFixed(3)} ms/call)  ratio ${(sequential.perSecond / baseline.perSecond).toFixed(1)}x`);
    console.log(`  kept connection, guest-get-time:    ${timeCalls.perSecond.toFixed(0)} calls/s  ratio ${(timeCalls.perSecond / baseline.perSecond).toFixed(1)}x`);
  } finally {
    await agents.stop();
  }
}
