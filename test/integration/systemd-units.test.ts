import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT } from '../helpers/cli.js';

// The shipped unit and timer, checked as an admin would: systemd-analyze verify, and an
// ExecStart that names the file the README's install (`npm link`) creates.
const UNITS = path.join(ROOT, 'deploy/systemd');
const service = readFileSync(path.join(UNITS, 'qga-play-timesync.service'), 'utf8');
const execStart = /^ExecStart=(\S+) (.*)$/m.exec(service);
const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'qga-units-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('ExecStart runs the qga-play that npm link puts in $(npm prefix -g)/bin, with --quiet and --report-dir', async () => {
  const prefix = (await execa('npm', ['prefix', '-g'])).stdout.trim();
  expect(execStart?.[1]).toBe(path.join(prefix, 'bin/qga-play'));
  expect(execStart?.[2]).toMatch(/^run \/etc\/qga-play\/\S+\.yaml .*--quiet/);
  expect(execStart?.[2]).toContain('--report-dir /var/lib/qga-play/');
  expect(execStart?.[2]).toContain('--metrics /var/lib/prometheus/node-exporter/');
});

(analyze ? test : test.skip)('systemd-analyze verify accepts the unit and the timer (qga-play at the path ExecStart names)', async () => {
  // Where `npm link` has run, the shipped file as it is; else the same file naming this checkout's bin.
  const bin = execStart![1]!;
  const units = path.join(dir, 'system');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(units);
  writeFileSync(path.join(units, 'qga-play-timesync.service'), existsSync(bin) ? service : service.replace(`ExecStart=${bin} `, `ExecStart=${path.join(ROOT, 'bin/qga-play.js')} `));
  writeFileSync(path.join(units, 'qga-play-timesync.timer'), readFileSync(path.join(UNITS, 'qga-play-timesync.timer')));
  const r = await execa(analyze!, ['verify', '--man=no', path.join(units, 'qga-play-timesync.service'), path.join(units, 'qga-play-timesync.timer')], { reject: false });
  expect({ code: r.exitCode, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  // And it does catch what the issue saw: a path that does not exist.
  writeFileSync(path.join(units, 'qga-play-timesync.service'), service.replace(`ExecStart=${bin} `, 'ExecStart=/usr/local/bin/qga-play-missing '));
  const bad = await execa(analyze!, ['verify', '--man=no', path.join(units, 'qga-play-timesync.service')], { reject: false });
  expect(bad.stderr).toContain('is not executable');
});
