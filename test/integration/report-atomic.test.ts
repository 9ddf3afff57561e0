import { beforeAll, describe, expect, test } from '@jest/globals';
import { execa } from 'execa';
import { XMLValidator } from 'fast-xml-parser';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isTempName, writeReports } from '../../src/report/index.js';
import { buildReportModule } from '../../fixtures/report/build.js';
import { makeResult } from '../../fixtures/report/run-result.js';

const LOOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/report/rewrite-loop.mjs');
const VMS = 12;
const STDOUT_BYTES = 400_000;

/** Every report in `dir` is complete: JSON parses whole, junit.xml is well-formed, the summary's files exist. */
function checkComplete(dir: string): { temps: string[]; gens: Set<string> } {
  const names = readdirSync(dir);
  const temps = names.filter((n) => n.startsWith('.'));
  // Leftovers are hidden temporary files, never named like a report.
  for (const t of temps) expect(isTempName(t)).toBe(true);
  const reports = names.filter((n) => !n.startsWith('.'));
  expect(reports.sort()).toEqual([...Array.from({ length: VMS }, (_, i) => `vm-${i}.json`), 'junit.xml', 'summary.json'].sort());
  const gens = new Set<string>();
  for (const name of reports) {
    const text = readFileSync(path.join(dir, name), 'utf8');
    if (name === 'junit.xml') {
      expect(XMLValidator.validate(text)).toBe(true);
      expect(text.trimEnd().endsWith('</testsuites>')).toBe(true);
      continue;
    }
    const value = JSON.parse(text) as { vm?: string; steps?: { result: { stdout: string } }[]; vms?: { report: string }[] };
    if (name === 'summary.json') {
      expect(value.vms).toHaveLength(VMS);
      for (const v of value.vms ?? []) expect(reports).toContain(v.report);
    } else {
      const stdout = value.steps?.[0]?.result.stdout ?? '';
      expect(stdout).toHaveLength(STDOUT_BYTES);
      gens.add(stdout.split(' ')[1] ?? '');
    }
  }
  return { temps, gens };
}

describe('a run killed with SIGKILL while writing reports', () => {
  let mod = '';
  beforeAll(async () => {
    mod = await buildReportModule();
  }, 60_000);

  test('leaves every report complete, and the next run removes the dead writer’s temporary files', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'atomic-'));
    let killedMidWrite = 0;
    let mixed = 0;
    // Kill at different moments until at least 3 kills landed mid-write (temporary files left), at most 20 times.
    let trials = 0;
    for (let trial = 0; trial < 20 && killedMidWrite < 3; trial++) {
      trials++;
      const child = execa(process.execPath, [LOOP, mod, dir], { reject: false });
      let gens = 0;
      await new Promise<void>((resolve, reject) => {
        child.stdout?.on('data', (chunk: Buffer) => {
          gens += String(chunk).split('\n').filter((l) => l.startsWith('gen ') || l === 'ready').length;
          // Let it get some sets further, then kill it at a different moment each time.
          if (gens >= 2) setTimeout(resolve, 7 + ((trial * 23) % 150));
        });
        child.catch(reject);
      });
      child.kill('SIGKILL');
      const end = await child;
      expect(end.signal).toBe('SIGKILL');
      const { temps, gens: seen } = checkComplete(dir);
      if (temps.length > 0) killedMidWrite++;
      if (seen.size > 1) mixed++;
    }
    // Killed mid-write is the point of the test; say how often it happened.
    console.log(`atomicity: ${trials} kills, ${killedMidWrite} left temporary files behind (killed mid-write), ${mixed} left reports of two generations`);
    expect(killedMidWrite).toBeGreaterThan(0);

    // A new run in this process: the dead writers' temporary files are gone afterwards.
    await writeReports({ ...makeResult(), vms: [] }, { dir });
    expect(readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);
});
