// MB/s through the reply decoder, in 64 KiB chunks as a socket delivers them, against baselines
// run here on the same bytes: splitting at newlines with Buffer.indexOf and JSON.parse of each
// line (what any decoder must at least do), and a bare indexOf scan.
import { ReplyDecoder } from '../dist/qga/decoder.js';

const CHUNK = 64 * 1024;
const MB = 1024 * 1024;

function time(bytes, fn) {
  fn(); // warm-up
  const rounds = 5;
  const started = performance.now();
  for (let i = 0; i < rounds; i++) fn();
  const ms = (performance.now() - started) / rounds;
  return { ms, mbps: bytes / MB / (ms / 1000) };
}

function throughDecoder(buf) {
  const decoder = new ReplyDecoder({ maxReplyBytes: 64 * MB });
  let events = 0;
  for (let i = 0; i < buf.length; i += CHUNK) events += decoder.write(buf.subarray(i, i + CHUNK)).length;
  return events;
}

function splitAndParse(buf) {
  let events = 0;
  for (let start = 0; start < buf.length; ) {
    let end = buf.indexOf(0x0a, start);
    if (end === -1) end = buf.length;
    try {
      JSON.parse(buf.toString('utf8', start, end));
    } catch {
      // junk
    }
    events++;
    start = end + 1;
  }
  return events;
}

function indexOfScan(buf) {
  let n = 0;
  for (let i = buf.indexOf(0x0a); i !== -1; i = buf.indexOf(0x0a, i + 1)) n++;
  return n;
}

export async function benchDecoder() {
  const reply = JSON.stringify({ return: { name: 'Debian GNU/Linux', 'kernel-release': '6.1.0-18-amd64', machine: 'x86_64', id: 'debian', interfaces: [{ name: 'eth0', 'ip-addresses': [{ 'ip-address': '10.0.0.7', prefix: 24 }] }] }, id: 'qga-play-1' }) + '\n';
  const inputs = {
    'valid replies (~230 B each)': Buffer.from(reply.repeat(Math.ceil((8 * MB) / reply.length))),
    'junk lines "x\\n"': Buffer.from('x\n'.repeat(4 * MB)),
    'one 16 MiB reply nested 8M deep': Buffer.from(`{"return":${'['.repeat(8 * MB - 20)}${']'.repeat(8 * MB - 20)}}\n`),
  };
  console.log('reply decoder, 64 KiB chunks (baseline: split at newlines with indexOf + JSON.parse of each line):');
  for (const [name, buf] of Object.entries(inputs)) {
    const decoder = time(buf.length, () => throughDecoder(buf));
    const baseline = time(buf.length, () => splitAndParse(buf));
    const scan = time(buf.length, () => indexOfScan(buf));
    console.log(`  ${name.padEnd(34)} decoder ${decoder.mbps.toFixed(0).padStart(5)} MB/s  baseline ${baseline.mbps.toFixed(0).padStart(5)} MB/s  ratio ${(decoder.mbps / baseline.mbps).toFixed(2)}x  (indexOf scan alone ${scan.mbps.toFixed(0)} MB/s)`);
  }
}
