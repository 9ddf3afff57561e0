// The floor for bench/fleet-floor.js: a minimal QGA client with no checks, no reports, no CLI.
// For each socket (a fresh connection: no 0xFF flush needed): guest-sync-delimited, guest-ping, then 5 guest-get-time; CONCURRENCY at once.
// With RAW_REPORT_DIR set it also writes each agent's replies as a JSON file there, a temporary
// file renamed into place as qga-play writes its VM reports: the share of the job that is files.
import { closeSync, mkdirSync, openSync, renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';

const sockets = process.argv.slice(3);
const concurrency = Number(process.argv[2]);

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
        closeSync(fd);
        renameSync(`${reportDir}/.agent-${i}.json.tmp`, file);
      }
      ok++;
    }
  }),
);
if (ok !== sockets.length) process.exit(1);
