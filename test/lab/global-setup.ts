/**
 * Jest global setup of the lab project: makes sure the lab guests are up (lab.sh setup, up 3,
 * variants; all idempotent and quick when the lab already runs) and records in .lab/ which
 * guests this run created, so global-teardown.ts removes only those.
 * QGA_PLAY_LAB=off: does nothing; the lab tests skip with the reason printed.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

// Jest loads global setup/teardown without the moduleNameMapper that maps `./x.js` to `./x.ts`,
// so these two files import nothing from the project; the values mirror test/helpers/lab.ts.
const LAB_URI = 'qemu:///system';
const LAB_GUESTS = ['qgalab-1', 'qgalab-2', 'qgalab-3'];
const LAB_VARIANTS = ['qgalab-noagent', 'qgalab-nochannel', 'qgalab-off'];
const LAB_SCRIPT = fileURLToPath(new URL('../../scripts/lab.sh', import.meta.url));
const LAB_CACHE_DIR = fileURLToPath(new URL('../../.lab/', import.meta.url));
/** Written by the setup, read and removed by the teardown: which guests this run created. */
const TEST_RUN_MARKER = `${LAB_CACHE_DIR}test-run.json`;

/** Names of the lab domains defined now (empty when libvirt does not answer). */
async function definedLabGuests(): Promise<string[]> {
  const r = await execa('virsh', ['-c', LAB_URI, 'list', '--all', '--name'], { reject: false, timeout: 30_000, stdin: 'ignore' });
  if (r.exitCode !== 0) return [];
  return r.stdout.split('\n').map((s) => s.trim()).filter((s) => s.startsWith('qgalab-'));
}

async function lab(args: string[]): Promise<void> {
  // Output goes straight to the terminal / CI log (boot times, image build).
  await execa('bash', [LAB_SCRIPT, ...args], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 900_000 });
}

export default async function globalSetup(): Promise<void> {
  if (process.env.QGA_PLAY_LAB === 'off') {
    console.warn('\n[lab] QGA_PLAY_LAB=off: lab guests not started; lab tests that need them are skipped');
    return;
  }
  const wanted = [...LAB_GUESTS, ...LAB_VARIANTS];
  const before = new Set(await definedLabGuests());
  if (wanted.every((g) => before.has(g))) console.log('\n[lab] lab guests already defined; checking they are up');
  else console.log('\n[lab] bringing the lab up (lab.sh setup, up 3, variants)');
  // Guests an earlier run created but never took down (interrupted, or its setup failed) count
  // as ours too; guests that were there otherwise belong to whoever brought them up.
  const leftover = await previousRunCreated();
  const created = wanted.filter((g) => !before.has(g) || leftover.includes(g));
  // Record before starting so a failure half-way still lets the teardown clean up.
  await mkdir(LAB_CACHE_DIR, { recursive: true });
  await writeFile(TEST_RUN_MARKER, JSON.stringify({ created, startedAt: new Date().toISOString() }) + '\n');
  try {
    await lab(['setup']);
    await lab(['up', String(LAB_GUESTS.length)]);
    await lab(['variants']);
  } catch (err) {
    // Jest runs no global teardown when the setup fails: take down what this run created.
    if (created.length > 0 && process.env.QGA_PLAY_LAB_KEEP !== '1') {
      console.error(`[lab] setup failed; removing the guests this run created: ${created.join(' ')}`);
      await execa('bash', [LAB_SCRIPT, 'down', ...created], { stdio: ['ignore', 'inherit', 'inherit'], reject: false, timeout: 300_000 });
    }
    throw err;
  }
}

async function previousRunCreated(): Promise<string[]> {
  try {
    const marker = JSON.parse(await readFile(TEST_RUN_MARKER, 'utf8')) as { created?: unknown };
    return Array.isArray(marker.created) ? marker.created.filter((g): g is string => typeof g === 'string') : [];
  } catch {
    return [];
  }
}
