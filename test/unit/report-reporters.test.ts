import { describe, expect, test } from '@jest/globals';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import {
  createHumanReporter,
  jsonReporter,
  metricsReporter,
  renderJsonSummary,
  renderMetrics,
  reportDirReporter,
  reporters,
  writeReports,
  type Reporter,
} from '../../src/report/index.js';
import { ReportWriteError } from '../../src/errors.js';
import type { RunEvent } from '../../src/runner/types.js';
import { eventsFor, makeResult } from '../../fixtures/report/run-result.js';

const SECRET = 'hunter2-S3cr3t';
const tmp = (name: string) => mkdtempSync(path.join(os.tmpdir(), `reporters-${name}-`));

function feed(listener: (e: RunEvent) => void, events: RunEvent[]): void {
  for (const e of events) listener(e);
}

describe('reporters: one fan-out, redaction once before any reporter', () => {
  test('every reporter sees every event in order, secrets masked, the same masked copy for all', () => {
    const seen: RunEvent[][] = [[], []];
    const make = (i: number): Reporter => ({ onEvent: (e) => seen[i]!.push(e) });
    const set = reporters([make(0), make(1)], { secrets: [SECRET] });
    const events = eventsFor(makeResult({ secret: SECRET }));
    feed(set.listener, events);
    expect(seen[0]!.map((e) => e.type)).toEqual(events.map((e) => e.type));
    expect(JSON.stringify(seen[0])).not.toContain(SECRET);
    expect(JSON.stringify(seen[0])).toContain('vm-***');
    // One redaction per event: both reporters got the very same object.
    seen[0]!.forEach((e, i) => expect(seen[1]![i]).toBe(e));
    // The run's own objects are not changed.
    expect(JSON.stringify(events)).toContain(SECRET);
  });

  test('finish runs in the given order; a write failure is returned and the reporters after it still finish', async () => {
    const order: string[] = [];
    const set = reporters([
      { finish: () => void order.push('a') },
      {
        finish: () => {
          order.push('b');
          throw new ReportWriteError('cannot write b');
        },
      },
      { finish: async () => void order.push('c') },
    ]);
    const failures = await set.finish();
    expect(order).toEqual(['a', 'b', 'c']);
    expect(failures.map((f) => f.message)).toEqual(['cannot write b']);
  });

  test('anything but a write failure is a bug and is thrown', async () => {
    const set = reporters([{ finish: () => Promise.reject(new TypeError('bug')) }]);
    await expect(set.finish()).rejects.toThrow('bug');
  });

  test('a new format is one reporter: it gets the run, already redacted, and finishes with the others', async () => {
    const lines: string[] = [];
    const csv: Reporter = {
      onEvent: (e) => {
        if (e.type === 'vm-end') lines.push(`${e.report.vm},${e.report.status}`);
      },
    };
    const set = reporters([csv], { secrets: [SECRET] });
    feed(set.listener, eventsFor(makeResult({ secret: SECRET })));
    expect(await set.finish()).toEqual([]);
    expect(lines).toContain('vm-***,canceled');
    expect(lines.join('\n')).not.toContain(SECRET);
  });
});

describe('the outputs of run as reporters write what the renderers write', () => {
  test('report directory: the same files as writeReports with the secrets', async () => {
    const result = makeResult({ secret: SECRET });
    const a = tmp('a');
    const b = tmp('b');
    await writeReports(result, { dir: a, secrets: [SECRET] });
    const set = reporters([reportDirReporter({ dir: b })], { secrets: [SECRET] });
    feed(set.listener, eventsFor(result));
    expect(await set.finish()).toEqual([]);
    for (const name of ['summary.json', 'junit.xml', 'web-1.json', 'vm-___.json']) {
      expect([name, readFileSync(path.join(b, name), 'utf8')]).toEqual([name, readFileSync(path.join(a, name), 'utf8')]);
    }
  });

  test('report directory that cannot be written: a ReportWriteError naming it', async () => {
    const parent = tmp('ro');
    const dir = path.join(parent, 'reports');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'summary.json'), '{}');
    chmodSync(dir, 0o500);
    try {
      const set = reporters([reportDirReporter({ dir })]);
      feed(set.listener, eventsFor(makeResult()));
      const failures = await set.finish();
      // Root writes anyway: then there is nothing to report.
      if (process.getuid?.() === 0) expect(failures).toEqual([]);
      else expect(failures.map((f) => [f.code, f.message.startsWith(`cannot write the reports to ${dir}: `)])).toEqual([['REPORT_WRITE_FAILED', true]]);
    } finally {
      chmodSync(dir, 0o700);
    }
  });

  test('metrics: renderMetrics of the redacted run, the last success carried over from the previous file', async () => {
    const dir = tmp('metrics');
    const file = path.join(dir, 'qga.prom');
    const ok = makeResult();
    ok.vms = ok.vms.filter((v) => v.status === 'ok');
    ok.totals = { vms: ok.vms.length, ok: ok.vms.length, failed: 0, unreachable: 0, canceled: 0 };
    ok.canceled = false;
    const first = reporters([metricsReporter({ file })]);
    feed(first.listener, eventsFor(ok));
    expect(await first.finish()).toEqual([]);
    expect(readFileSync(file, 'utf8')).toBe(renderMetrics(ok));
    const success = /qga_play_last_success_timestamp_seconds\{[^}]*\} (\S+)/.exec(readFileSync(file, 'utf8'))?.[1];
    expect(success).toBeDefined();

    const failed = makeResult({ secret: SECRET });
    const second = reporters([metricsReporter({ file })], { secrets: [SECRET] });
    feed(second.listener, eventsFor(failed));
    expect(await second.finish()).toEqual([]);
    const text = readFileSync(file, 'utf8');
    expect(text).toBe(renderMetrics(failed, { secrets: [SECRET], previousSuccessSeconds: Number(success) }));
    expect(text).not.toContain(SECRET);
  });

  test('--format json: renderJsonSummary of the redacted run and a line feed', async () => {
    const result = makeResult({ secret: SECRET });
    let out = '';
    const set = reporters([jsonReporter({ write: (t) => (out += t) })], { secrets: [SECRET] });
    feed(set.listener, eventsFor(result));
    await set.finish();
    expect(out).toBe(`${renderJsonSummary(result, { secrets: [SECRET] })}\n`);
  });

  test('human: behind the fan-out, the same text as alone with its own secrets', async () => {
    const result = makeResult({ secret: SECRET });
    const capture = () => {
      let text = '';
      const stream = new Writable({
        write(chunk: Buffer | string, _e, done) {
          text += String(chunk);
          done();
        },
      });
      return { stream, text: () => text };
    };
    const alone = capture();
    const human = createHumanReporter({ stream: alone.stream, tty: false, color: false, quiet: false, secrets: [SECRET] });
    feed(human.listener, eventsFor(result));
    human.finish(result);
    const behind = capture();
    const set = reporters([createHumanReporter({ stream: behind.stream, tty: false, color: false, quiet: false })], { secrets: [SECRET] });
    feed(set.listener, eventsFor(result));
    await set.finish();
    expect(behind.text()).toBe(alone.text());
    expect(behind.text()).not.toContain(SECRET);
  });
});
