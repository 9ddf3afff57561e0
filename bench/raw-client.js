// The floor for bench/fleet-floor.js: a minimal QGA client with no checks, no reports, no CLI.
// For each socket (a fresh connection: no 0xFF flush needed): guest-sync-delimited, guest-ping, then 5 guest-get-time; CONCURRENCY at once.
// With RAW_REPORT_DIR set it also writes each agent's replies as a JSON file there, a temporary
// file renamed into place as qga-play writes its VM reports: the share of the job that is files
// (RAW_FLUSH=1: each flushed before its rename, and the directory after, as qga-play does).
// With RAW_PLAYBOOK it takes the sockets and the concurrency from that playbook, read with the
// same YAML library: the least a tool that reads a playbook must do.
import { closeSync, fdatasyncSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';

let sockets = process.argv.slice(3);
let concurrency = Number(process.argv[2]);
if (process.env.RAW_PLAYBOOK) {
  const { parse } = await import('yaml');
  const playbook = parse(readFileSync(process.env.RAW_PLAYBOOK, 'utf8'));
  sockets = playbook.targets.map((t) => t.socket);
  concurrency = playbook.concurrency;
}
const flush = process.env.RAW_FLUSH === '1';

function session(path) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path);
    let buf = '';
    const queue = [];
    sock.setEncoding('latin1');
    sock.on('data', (chunk) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).replace(/^\xff/, '');
        buf = buf.slice(nl + 1);
        queue.shift()?.(JSON.parse(line));
      }
    });
    sock.on('error', reject);
    const ask = (execute, args) =>
      new Promise((res) => {
        queue.push(res);
        sock.write(JSON.stringify(args ? { execute, arguments: args } : { execute }), 'latin1');
      });
    sock.on('connect', async () => {
      const id = Math.floor(Math.random() * 2 ** 31);
      const sync = await ask('guest-sync-delimited', { id });
      if (sync.return !== id) return reject(new Error('sync'));
      const replies = [await ask('guest-ping')];
      for (let i = 0; i < 5; i++) replies.push(await ask('guest-get-time'));
      sock.end();
      resolve(replies);
    });
  });
}

const reportDir = process.env.RAW_REPORT_DIR;
if (reportDir) mkdirSync(reportDir, { recursive: true });
let next = 0;
let ok = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < sockets.length) {
      const i = next++;
      const replies = await session(sockets[i]);
      if (reportDir) {
        const file = `${reportDir}/agent-${i}.json`;
        const fd = openSync(`${reportDir}/.agent-${i}.json.tmp`, 'w');
        writeFileSync(fd, `${JSON.stringify({ socket: sockets[i], replies }, null, 2)}\n`);
        if (flush) fdatasyncSync(fd);
        closeSync(fd);
        renameSync(`${reportDir}/.agent-${i}.json.tmp`, file);
      }
      ok++;
    }
  }),
);
if (reportDir && flush) {
  const fd = openSync(reportDir, 'r');
  fsyncSync(fd);
  closeSync(fd);
}
if (ok !== sockets.length) process.exit(1);
