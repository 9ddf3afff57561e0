/**
 * Jest global teardown of the lab project: removes only the lab guests that this run's global
 * setup created (recorded in .lab/test-run.json); lab.sh down stops libvirt only if the lab
 * started it and no lab guest is left. A lab that was already up is left running.
 */
import { readFile, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

// No project imports here (see global-setup.ts); these mirror test/helpers/lab.ts.
const LAB_SCRIPT = fileURLToPath(new URL('../../scripts/lab.sh', import.meta.url));
const TEST_RUN_MARKER = fileURLToPath(new URL('../../.lab/test-run.json', import.meta.url));

export default async function globalTeardown(): Promise<void> {
  if (process.env.QGA_PLAY_LAB === 'off') return;
  if (process.env.QGA_PLAY_LAB_KEEP === '1') {
    console.log('[lab] QGA_PLAY_LAB_KEEP=1: leaving the lab up (npm run lab -- down removes it)');
    return;
  }
  let created: string[];
  try {
    created = (JSON.parse(await readFile(TEST_RUN_MARKER, 'utf8')) as { created: string[] }).created;
  } catch {
    return; // this run did not set up anything
  }
  if (created.length > 0) {
    console.log(`[lab] taking down the guests this run created: ${created.join(' ')}`);
    await execa('bash', [LAB_SCRIPT, 'down', ...created], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 });
  }
  await rm(TEST_RUN_MARKER, { force: true });
}
