// Starts and stops real host qemu-ga agents through the lab script (with its -b blocklist).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const LAB = fileURLToPath(new URL('../scripts/lab.sh', import.meta.url));

export async function startAgents(n) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'qga-bench-'));
  const { stdout } = await execa('bash', [LAB, 'agents', 'start', String(n), dir], { timeout: 120_000 });
  return {
    sockets: stdout.split('\n').filter(Boolean),
    stop: async () => {
      await execa('bash', [LAB, 'agents', 'stop', dir], { timeout: 30_000 }).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
