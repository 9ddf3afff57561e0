import { describe, expect, test } from '@jest/globals';
import { execa } from 'execa';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isTempName, renderJunit, reportFileNames, safeBaseName, writeFileAtomic, writeReports } from '../../src/report/index.js';
import { writeFilesAtomic } from '../../src/util/atomic-file.js';
import { UsageError } from '../../src/errors.js';
import type { RunResult } from '../../src/runner/types.js';
import { makeResult } from '../../fixtures/report/run-result.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'reports-'));
const readJson = (file: string): unknown => JSON.parse(readFileSync(file, 'utf8'));
const at = (result: RunResult, startedAt: string): RunResult => ({ ...result, startedAt });
async function deadPid(): Promise<number> {
  const child = execa(process.execPath, ['-e', '']);
  const pid = child.pid ?? 999_999;
  await child;
  return pid;
}

describe('report file names', () => {
  test('safe names keep their name; others are made safe and never clash', () => {
    expect(reportFileNames(['web-1', 'db_2.example.com'])).toEqual(['web-1.json', 'db_2.example.com.json']);
    expect(reportFileNames(['a/b', 'a_b', 'A_B', 'a b'])).toEqual(['a_b-2.json', 'a_b.json', 'A_B-3.json', 'a_b-4.json']);
    expect(reportFileNames(['summary', 'junit.xml', 'junit'])).toEqual(['summary-2.json', 'junit.xml.json', 'junit.json']);
    expect(reportFileNames(['web', 'web'])).toEqual(['web.json', 'web-2.json']);
    expect(reportFileNames(['.hidden', '..', ''])).toEqual(['_.hidden.json', '_...json', '_.json']);
    expect(safeBaseName('x'.repeat(300))).toHaveLength(200);
    expect(reportFileNames(['ü/../../etc/passwd'])[0]).toBe('__.._.._etc_passwd.json');
  });
});

describe('writeReports', () => {
  test('writes one report per VM, junit.xml and summary.json, each matching the run', async () => {
    const dir = tmp();
    const result = makeResult();
    const { files } = await writeReports(result, { dir });
    const names = ['web-1.json', 'web-2.json', 'db-1.json', 'db-2.json', 'slow-1.json', 'win_10__.json', 'summary-2.json', 'junit.xml', 'summary.json'];
    expect(files).toEqual(names.map((n) => path.join(dir, n)));
    expect(readdirSync(dir).sort()).toEqual([...names].sort());

    result.vms.forEach((vm, i) => expect(readJson(path.join(dir, names[i] ?? ''))).toEqual(vm));
    const web2 = readFileSync(path.join(dir, 'web-2.json'), 'utf8');
    expect(Object.keys(JSON.parse(web2) as object)).toEqual(['vm', 'connect', 'transport', 'route', 'status', 'startedAt', 'durationMs', 'steps']);
    expect(Object.keys((JSON.parse(web2) as { steps: object[] }).steps[2] ?? {})).toEqual(['name', 'kind', 'status', 'startedAt', 'durationMs', 'attempts', 'line', 'result', 'error']);
    expect((readJson(path.join(dir, 'win_10__.json')) as { vm: string }).vm).toBe('win/10 ü');

    expect(readJson(path.join(dir, 'summary.json'))).toEqual({
      version: 1,
      playbook: 'fleet-timesync',
      startedAt: '2024-05-01T12:00:00.000Z',
      durationMs: 6789,
      canceled: false,
      totals: { vms: 7, ok: 2, failed: 1, unreachable: 3, canceled: 1 },
      vms: [
        { vm: 'web-1', connect: 'qemu:///system', status: 'ok', report: 'web-1.json' },
        { vm: 'web-2', connect: 'qemu:///system', status: 'failed', report: 'web-2.json' },
        { vm: 'db-1', connect: 'qemu:///system', status: 'unreachable', report: 'db-1.json' },
        { vm: 'db-2', connect: 'qemu:///system', status: 'unreachable', report: 'db-2.json' },
        { vm: 'slow-1', connect: 'qemu:///system', status: 'unreachable', report: 'slow-1.json' },
        { vm: 'win/10 ü', connect: 'socket', status: 'canceled', report: 'win_10__.json' },
        { vm: 'summary', connect: 'qemu:///system', status: 'ok', report: 'summary-2.json' },
      ],
      warnings: ['target web-9 matched no domain'],
    });
    expect(readFileSync(path.join(dir, 'junit.xml'), 'utf8')).toBe(renderJunit(result));
  });

  test('the reports of VMs not in the new run are removed; other files stay', async () => {
    const dir = tmp();
    const first = makeResult();
    const gone = first.vms[0];
    if (!gone) throw new Error('fixture');
    first.vms.push({ ...gone, vm: 'old-1' }, { ...gone, vm: 'old/2' });
    await writeReports(first, { dir });
    expect(existsSync(path.join(dir, 'old-1.json'))).toBe(true);
    writeFileSync(path.join(dir, 'notes.json'), '{"mine": true}\n');
    writeFileSync(path.join(dir, 'README'), 'hi\n');
    // A VM report the previous summary does not list (a run that died before its summary).
    writeFileSync(path.join(dir, 'orphan.json'), JSON.stringify({ vm: 'orphan', status: 'ok', steps: [] }));

    const { removed } = await writeReports(makeResult(), { dir });
    expect(removed.sort()).toEqual(['old-1.json', 'old_2.json', 'orphan.json']);
    expect(readdirSync(dir)).toEqual(expect.arrayContaining(['notes.json', 'README', 'web-1.json', 'summary.json']));
    expect(readdirSync(dir)).not.toEqual(expect.arrayContaining(['old-1.json']));
  });

  test('keep: N keeps the last N runs under history/<startedAt>/', async () => {
    const dir = tmp();
    const stamps = ['2024-05-01T12:00:00.000Z', '2024-05-02T12:00:00.000Z', '2024-05-03T12:00:00.000Z'];
    const histories: (string | undefined)[] = [];
    for (const s of stamps) histories.push((await writeReports(at(makeResult(), s), { dir, keep: 2 })).history);
    expect(histories[2]).toBe(path.join(dir, 'history', '2024-05-03T12-00-00.000Z'));
    expect(readdirSync(path.join(dir, 'history'))).toEqual(['2024-05-02T12-00-00.000Z', '2024-05-03T12-00-00.000Z']);
    const copy = path.join(dir, 'history', '2024-05-03T12-00-00.000Z');
    expect(readdirSync(copy).sort()).toEqual(readdirSync(dir).filter((n) => n !== 'history').sort());
    expect(readFileSync(path.join(copy, 'summary.json'), 'utf8')).toBe(readFileSync(path.join(dir, 'summary.json'), 'utf8'));

    // The same start time twice does not overwrite the earlier copy.
    await writeReports(at(makeResult(), stamps[2] ?? ''), { dir, keep: 3 });
    expect(readdirSync(path.join(dir, 'history'))).toEqual(['2024-05-02T12-00-00.000Z', '2024-05-03T12-00-00.000Z', '2024-05-03T12-00-00.000Z-2']);

    await writeReports(at(makeResult(), '2024-05-04T12:00:00.000Z'), { dir, keep: 0 });
    expect(readdirSync(path.join(dir, 'history'))).toEqual([]);
  });

  test('without keep, history is left alone', async () => {
    const dir = tmp();
    await writeReports(makeResult(), { dir, keep: 1 });
    await writeReports(at(makeResult(), '2025-01-01T00:00:00.000Z'), { dir });
    expect(readdirSync(path.join(dir, 'history'))).toEqual(['2024-05-01T12-00-00.000Z']);
  });

  test('temporary files of a dead writer are removed; a live one is left alone', async () => {
    const dir = tmp();
    const dead = await deadPid();
    const stale = `.web-1.json.${dead}.0123456789ab.tmp`;
    const live = `.web-1.json.${process.pid}.0123456789ab.tmp`;
    writeFileSync(path.join(dir, stale), '{"half');
    writeFileSync(path.join(dir, live), '{"half');
    mkdirSync(path.join(dir, 'history'));
    mkdirSync(path.join(dir, 'history', `.2024-01-01T00-00-00.000Z.${dead}.0123456789ab.tmp`));
    expect(isTempName(stale)).toBe(true);
    await writeReports(makeResult(), { dir, keep: 1 });
    expect(readdirSync(dir)).not.toContain(stale);
    expect(readdirSync(dir)).toContain(live);
    expect(readdirSync(path.join(dir, 'history'))).toEqual(['2024-05-01T12-00-00.000Z']);
  });

  test('bad options are refused with a message naming the option and value', async () => {
    await expect(writeReports(makeResult(), { dir: tmp(), keep: -1 })).rejects.toThrow(new UsageError('Expected the `keep` option to be a non-negative integer, got `-1` (number)'));
    await expect(writeReports(makeResult(), { dir: tmp(), keep: 1.5 })).rejects.toThrow(/`keep`.*`1.5`/);
    await expect(writeReports(makeResult(), { dir: '' })).rejects.toThrow(/`dir` option/);
  });
});

describe('writeFileAtomic', () => {
  test('replaces the file whole and keeps its mode', async () => {
    const dir = tmp();
    const file = path.join(dir, 'out.txt');
    writeFileSync(file, 'old');
    chmodSync(file, 0o640);
    await writeFileAtomic(file, 'new content');
    expect(readFileSync(file, 'utf8')).toBe('new content');
    expect(statSync(file).mode & 0o777).toBe(0o640);
    await writeFileAtomic(file, Buffer.from([1, 2, 3]));
    expect([...readFileSync(file)]).toEqual([1, 2, 3]);
    expect(readdirSync(dir)).toEqual(['out.txt']);
  });

  test('a failed write leaves neither the target nor a temporary file', async () => {
    const dir = tmp();
    mkdirSync(path.join(dir, 'is-a-dir'));
    await expect(writeFileAtomic(path.join(dir, 'is-a-dir'), 'x')).rejects.toThrow();
    expect(readdirSync(dir)).toEqual(['is-a-dir']);
    await expect(writeFileAtomic(path.join(dir, 'missing', 'f'), 'x')).rejects.toThrow(/ENOENT/);
  });
});

describe('writeFilesAtomic (the VM reports)', () => {
  test('writes every file, keeps an existing file\'s mode, and leaves no temporary file', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'qga-files-'));
    writeFileSync(path.join(dir, 'f3.json'), 'old');
    chmodSync(path.join(dir, 'f3.json'), 0o640);
    const files = Array.from({ length: 200 }, (_, i) => ({ file: path.join(dir, `f${i}.json`), data: `{"i":${i}}\n` }));
    await writeFilesAtomic(files, 8);
    expect(readdirSync(dir).sort()).toEqual(files.map((f) => path.basename(f.file)).sort());
    expect(readFileSync(path.join(dir, 'f199.json'), 'utf8')).toBe('{"i":199}\n');
    expect(statSync(path.join(dir, 'f3.json')).mode & 0o777).toBe(0o640);
  });

  test('a file that cannot be written rejects, after the others in flight, with no temporary file left', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'qga-files-'));
    // A directory where a report should go: the rename over it fails.
    mkdirSync(path.join(dir, 'f5.json'));
    const files = Array.from({ length: 20 }, (_, i) => ({ file: path.join(dir, `f${i}.json`), data: 'x' }));
    await expect(writeFilesAtomic(files, 4)).rejects.toMatchObject({ code: expect.stringMatching(/EISDIR|ENOTEMPTY|EEXIST/) });
    expect(readdirSync(dir).filter((n) => isTempName(n))).toEqual([]);
    expect(existsSync(path.join(dir, 'f0.json'))).toBe(true);
  });
});
