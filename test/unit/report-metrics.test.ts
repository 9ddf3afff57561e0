import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { escapeLabelValue, readPreviousSuccess, renderMetrics, writeMetrics } from '../../src/report/index.js';
import { makeResult } from '../../fixtures/report/run-result.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A strict reader of the text exposition format: HELP, TYPE, then that family's samples together. */
function parseExposition(text: string): { samples: Sample[]; families: string[] } {
  expect(text.endsWith('\n')).toBe(true);
  const samples: Sample[] = [];
  const families: string[] = [];
  let current: string | undefined;
  for (const line of text.slice(0, -1).split('\n')) {
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$/.exec(line);
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (gauge|counter)$/.exec(line);
    if (help) {
      expect(families).not.toContain(help[1]);
      families.push(help[1] ?? '');
      current = undefined;
      continue;
    }
    if (type) {
      expect(type[1]).toBe(families[families.length - 1]);
      current = type[1];
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\} (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${JSON.stringify(line)}`);
    expect(m[1]).toBe(current);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] ?? ''] = (l[2] ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return { samples, families };
}

describe('renderMetrics', () => {
  const result = makeResult();
  const text = renderMetrics(result, { playbook: 'fleet-timesync' });
  const { samples, families } = parseExposition(text);
  const get = (name: string, labels: Record<string, string>) => samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

  test('has its families, each with HELP and TYPE gauge, samples grouped', () => {
    expect(families).toEqual([
      'qga_play_agent_up',
      'qga_play_vm_status',
      'qga_play_step_status',
      'qga_play_clock_offset_seconds',
      'qga_play_clock_offset_after_seconds',
      'qga_play_time_sync_action',
      'qga_play_run_duration_seconds',
      'qga_play_last_run_timestamp_seconds',
    ]);
    expect(text).toContain('# TYPE qga_play_agent_up gauge\n');
  });

  test('agent_up is 1 unless the VM was unreachable', () => {
    const up = Object.fromEntries(get('qga_play_agent_up', {}).map((s) => [s.labels.vm, s.value]));
    expect(up).toEqual({ 'web-1': 1, 'web-2': 1, 'db-1': 0, 'db-2': 0, 'slow-1': 0, 'win/10 ü': 1, summary: 1 });
    for (const s of get('qga_play_agent_up', {})) expect(s.labels.playbook).toBe('fleet-timesync');
  });

  test('vm_status is 1 for the VM status and 0 for the other three', () => {
    for (const vm of result.vms) {
      const rows = get('qga_play_vm_status', { vm: vm.vm });
      expect(rows.map((r) => r.labels.status).sort()).toEqual(['canceled', 'failed', 'ok', 'unreachable']);
      expect(rows.filter((r) => r.value === 1).map((r) => r.labels.status)).toEqual([vm.status]);
    }
  });

  test('clock offset in seconds for VMs a time step measured, and only those', () => {
    const offsets = Object.fromEntries(get('qga_play_clock_offset_seconds', {}).map((s) => [s.labels.vm, s.value]));
    expect(offsets).toEqual({ 'web-1': 1.2505, 'web-2': -0.03525, 'win/10 ü': -0.00325 });
  });

  test('run duration and the time the run ended', () => {
    expect(get('qga_play_run_duration_seconds', {})).toEqual([{ name: 'qga_play_run_duration_seconds', labels: { playbook: 'fleet-timesync' }, value: 6.789 }]);
    expect(get('qga_play_last_run_timestamp_seconds', {})[0]?.value).toBe((Date.parse('2024-05-01T12:00:00.000Z') + 6789) / 1000);
  });

  test('without a time step there is no clock offset family', () => {
    const r = makeResult();
    r.vms = r.vms.map((vm) => ({ ...vm, steps: vm.steps.filter((s) => s.kind !== 'time-sync' && s.kind !== 'time-get') }));
    expect(parseExposition(renderMetrics(r)).families).not.toContain('qga_play_clock_offset_seconds');
  });

  test('label values are escaped: backslash, double quote, line feed', () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    const r = makeResult();
    const vm = r.vms[0];
    if (vm) vm.vm = 'a"b\\c\nd';
    const out = renderMetrics(r, { playbook: 'pb "x"' });
    expect(out).toContain('qga_play_agent_up{playbook="pb \\"x\\"",vm="a\\"b\\\\c\\nd",connect="qemu:///system"} 1');
    expect(parseExposition(out).samples.find((s) => s.name === 'qga_play_agent_up')?.labels).toEqual({ playbook: 'pb "x"', vm: 'a"b\\c\nd', connect: 'qemu:///system' });
  });

  test('the same VM name under two connections: the vm label stays the name, connect tells them apart', () => {
    const r = makeResult();
    const first = r.vms[0];
    if (!first) throw new Error('fixture');
    r.vms.push({ ...first, connect: 'qemu+ssh://hv2/system' }, { ...first, connect: 'qemu+ssh://hv2/system' });
    const up = parseExposition(renderMetrics(r)).samples.filter((s) => s.name === 'qga_play_agent_up').map((s) => `${s.labels.vm}|${s.labels.connect}`);
    expect(new Set(up).size).toBe(up.length);
    expect(up).toEqual(expect.arrayContaining(['web-1|qemu:///system', 'web-1|qemu+ssh://hv2/system', 'web-1 #2|qemu+ssh://hv2/system']));
  });

  test('every series is unique (name and label set), whatever the names', () => {
    const r = makeResult();
    r.vms.push(r.vms[0]!, r.vms[0]!);
    r.vms[1]!.steps.push(r.vms[1]!.steps[0]!);
    const keys = parseExposition(renderMetrics(r)).samples.map((s) => `${s.name}${JSON.stringify(s.labels)}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  test('per-step status: one series per step status, 1 for the step\'s', () => {
    const web2 = get('qga_play_step_status', { vm: 'web-2', connect: 'qemu:///system' });
    expect(web2).toHaveLength(4 * 6);
    expect(web2.filter((s) => s.value === 1).map((s) => [s.labels.step, s.labels.status])).toEqual([
      ['ping', 'ok'],
      ['time-sync', 'ok'],
      ['exec /bin/false', 'failed'],
      ['osinfo', 'skipped'],
    ]);
  });

  test('offset after the sync and the sync action', () => {
    const after = Object.fromEntries(get('qga_play_clock_offset_after_seconds', {}).map((s) => [s.labels.vm, s.value]));
    expect(after).toEqual({ 'web-1': 0.0004, 'web-2': 0.0015 });
    const set = get('qga_play_time_sync_action', { vm: 'web-1' });
    expect(set.map((s) => [s.labels.action, s.value])).toEqual([
      ['none', 0],
      ['set', 1],
      ['drift', 0],
    ]);
  });

  test('a measure-only time-sync above its threshold is the action drift', () => {
    const r = makeResult();
    r.vms[0]!.steps[1]!.result = { action: 'none', source: 'host', offsetBeforeMs: 1250.5, errorBoundMs: 0.2, thresholdMs: 100, toleranceMs: 50 };
    const rows = parseExposition(renderMetrics(r)).samples.filter((s) => s.name === 'qga_play_time_sync_action' && s.labels.vm === 'web-1' && s.value === 1);
    expect(rows.map((s) => s.labels.action)).toEqual(['drift']);
  });

  test("last success: this run's end when every VM was ok, else the previous value, else absent", () => {
    const failed = makeResult();
    expect(parseExposition(renderMetrics(failed)).families).not.toContain('qga_play_last_success_timestamp_seconds');
    const carried = parseExposition(renderMetrics(failed, { previousSuccessSeconds: 1700000000.5 })).samples.filter((s) => s.name === 'qga_play_last_success_timestamp_seconds');
    expect(carried).toEqual([{ name: 'qga_play_last_success_timestamp_seconds', labels: { playbook: 'fleet-timesync' }, value: 1700000000.5 }]);
    const ok = makeResult();
    ok.vms = ok.vms.filter((v) => v.status === 'ok');
    ok.totals = { vms: ok.vms.length, ok: ok.vms.length, failed: 0, unreachable: 0, canceled: 0 };
    const own = parseExposition(renderMetrics(ok, { previousSuccessSeconds: 1700000000.5 })).samples.find((s) => s.name === 'qga_play_last_success_timestamp_seconds');
    expect(own?.value).toBe((Date.parse('2024-05-01T12:00:00.000Z') + 6789) / 1000);
  });

  test('the playbook label defaults to the run playbook name', () => {
    expect(renderMetrics(result)).toContain('qga_play_run_duration_seconds{playbook="fleet-timesync"} 6.789\n');
  });
});

describe('readPreviousSuccess', () => {
  test('reads the value back from a file renderMetrics wrote, for the same playbook only; none without a file', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'metrics-'));
    const file = path.join(dir, 'm.prom');
    expect(await readPreviousSuccess(file, { playbook: 'fleet-timesync' })).toBeUndefined();
    await writeMetrics(file, renderMetrics(makeResult(), { playbook: 'p "q"', previousSuccessSeconds: 1234.5 }));
    expect(await readPreviousSuccess(file, { playbook: 'p "q"' })).toBe(1234.5);
    expect(await readPreviousSuccess(file, { playbook: 'other' })).toBeUndefined();
  });
});

describe('writeMetrics', () => {
  test('writes the file whole, replaces the old one and leaves no temporary file', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'metrics-'));
    const file = path.join(dir, 'qga-play.prom');
    await writeMetrics(file, 'old 1\n');
    const text = renderMetrics(makeResult());
    await writeMetrics(file, text);
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(readdirSync(dir)).toEqual(['qga-play.prom']);
  });
});

describe('hostile VM names', () => {
  test('two names that differ only in lone surrogates stay two series once written as UTF-8', () => {
    const r = makeResult();
    r.vms = [{ ...r.vms[0]!, vm: 'a\ud800' }, { ...r.vms[0]!, vm: 'a\udc00' }, { ...r.vms[0]!, vm: 'ok\ud83d\ude00' }];
    // What node_exporter reads: the bytes of the file.
    const text = Buffer.from(renderMetrics(r), 'utf8').toString('utf8');
    const { samples } = parseExposition(text);
    const up = samples.filter((s) => s.name === 'qga_play_agent_up').map((s) => s.labels.vm);
    expect(new Set(up).size).toBe(3);
    expect(up).toContain('ok\ud83d\ude00');
    expect(up.some((v) => v?.includes('\ufffd'))).toBe(false);
  });
});
