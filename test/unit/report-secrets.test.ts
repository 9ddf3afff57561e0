import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { collectSecrets, createHumanReporter, redact, redactText, renderJsonSummary, renderJunit, renderMetrics, writeReports } from '../../src/report/index.js';
import { SecretValue } from '../../src/playbook/secret.js';
import type { RunResult } from '../../src/runner/types.js';
import { eventsFor, makeResult } from '../../fixtures/report/run-result.js';

const SECRETS = ['hunter2-S3cr3t', 'pa"ss<&>\\word'];

/** The forms a secret could take in an output: raw, JSON-escaped, XML-escaped, label-escaped. */
function forms(secret: string): string[] {
  const xml = secret.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  return [...new Set([secret, JSON.stringify(secret).slice(1, -1), xml, secret.replace(/\\/g, '\\\\').replace(/"/g, '\\"')])];
}

function expectNoSecret(text: string, where: string): void {
  for (const s of SECRETS) for (const f of forms(s)) if (text.includes(f)) throw new Error(`${where} contains the secret ${JSON.stringify(f)}`);
}

/** A run with both secrets planted in VM names, results (values and keys), error messages and warnings. */
function secretRun(): RunResult {
  const r = makeResult({ secret: SECRETS[0] });
  const vm = r.vms[0];
  if (!vm?.steps[2]) throw new Error('fixture');
  vm.steps[2].result = { exitCode: 0, stdout: `password is ${SECRETS[1]}!`, env: { PASSWORD: new SecretValue('other-secret'), TOKEN: { secret: true, value: 'x' } } };
  return r;
}

function listAll(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? [p, ...listAll(p)] : [p];
  });
}

function capture(tty: boolean, quiet: boolean, result: RunResult): string {
  let out = '';
  const stream = new Writable({
    write(chunk: Buffer | string, _e, done) {
      out += String(chunk);
      done();
    },
  });
  if (tty) Object.assign(stream, { isTTY: true, columns: 200, rows: 40 });
  const reporter = createHumanReporter({ stream, tty, color: true, quiet, verbose: !quiet, secrets: SECRETS });
  for (const e of eventsFor(result)) reporter.listener(e);
  reporter.finish(result);
  return out;
}

describe('a secret never appears in any output', () => {
  const result = secretRun();
  const before = JSON.stringify(result);

  test('the fixture really carries the secrets (so the checks below mean something)', () => {
    expect(before).toContain(SECRETS[0]);
    expect(JSON.stringify(result.vms[0]?.steps[2]?.result)).toContain(JSON.stringify(SECRETS[1]).slice(1, -1));
  });

  test('report files: VM reports, summary.json, junit.xml, history copies, and file names', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'secret-reports-'));
    await writeReports(result, { dir, keep: 2, secrets: SECRETS });
    const files = listAll(dir);
    expect(files.length).toBeGreaterThan(16);
    for (const file of files) {
      expectNoSecret(path.relative(dir, file), 'a file name');
      if (statSync(file).isFile()) expectNoSecret(readFileSync(file, 'utf8'), file);
    }
    const summary = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as { vms: { vm: string; report: string }[]; warnings: string[] };
    expect(summary.vms.map((v) => v.vm)).toContain('vm-***');
    expect(summary.vms.find((v) => v.vm === 'vm-***')?.report).toBe('vm-___.json');
    expect(summary.warnings).toEqual(['target *** matched no domain']);
    const web2 = readFileSync(path.join(dir, 'web-2.json'), 'utf8');
    expect(web2).toContain('"stdout": "token=***\\n"');
    expect(web2).toContain('"key-***": 1');
    expect(web2).toContain('exit code 1 (expected 0) while using ***');
    const web1 = JSON.parse(readFileSync(path.join(dir, 'web-1.json'), 'utf8')) as { steps: { result: unknown }[] };
    expect(web1.steps[2]?.result).toEqual({ exitCode: 0, stdout: 'password is ***!', env: { PASSWORD: '***', TOKEN: '***' } });
  });

  test('junit.xml, metrics and --format json', () => {
    expectNoSecret(renderJunit(result, { secrets: SECRETS }), 'junit');
    expectNoSecret(renderMetrics(result, { secrets: SECRETS }), 'metrics');
    expectNoSecret(renderMetrics(result, { playbook: `pb-${SECRETS[0]}`, secrets: SECRETS }), 'metrics (playbook label)');
    const json = renderJsonSummary(result, { secrets: SECRETS });
    expectNoSecret(json, 'json');
    expect(JSON.parse(json)).toMatchObject({ playbook: 'fleet-timesync', totals: { vms: 7 }, warnings: ['target *** matched no domain'] });
  });

  test('the human reporter, on a terminal and not, quiet and verbose', () => {
    for (const tty of [false, true]) for (const quiet of [false, true]) expectNoSecret(capture(tty, quiet, result), `human tty=${tty} quiet=${quiet}`);
    expect(capture(false, false, result)).toContain('vm-***');
  });

  test('rendering does not change the run it was given', () => {
    expect(JSON.stringify(result)).toBe(before);
  });
});

describe('redact', () => {
  test('replaces every occurrence in strings and keys, deep, and copies', () => {
    const input = { 'k-abc': ['abc', 'xabcxabc', 1, null, true, { nested: 'abc' }], n: 3 };
    const out = redact(input, ['abc']);
    expect(out).toEqual({ 'k-***': ['***', 'x***x***', 1, null, true, { nested: '***' }], n: 3 });
    expect(input['k-abc'][0]).toBe('abc');
  });

  test('a secret that contains another is masked whole; empty secrets are ignored', () => {
    expect(redactText('pw=abcdef and abc', ['abc', 'abcdef', ''])).toBe('pw=*** and ***');
    expect(redact('plain', [''])).toBe('plain');
  });

  test('Secret values, errors and cycles', () => {
    const cyclic: Record<string, unknown> = { name: 'abc' };
    cyclic.self = cyclic;
    const err = Object.assign(new Error('failed with abc'), { code: 'X_abc' });
    expect(redact({ s: new SecretValue('zzz'), o: { secret: true, value: 'y' }, err, cyclic }, ['abc'])).toEqual({
      s: '***',
      o: '***',
      err: { name: 'Error', message: 'failed with ***', code: 'X_***' },
      cyclic: { name: '***', self: '[Circular]' },
    });
  });

  test('collectSecrets finds every Secret in a structure', () => {
    const params = { env: { A: 'plain', B: new SecretValue('s1') }, stdin: { secret: true, value: 's2' }, list: [new SecretValue('s1'), new SecretValue('')] };
    expect(collectSecrets(params).sort()).toEqual(['s1', 's2']);
  });
});

describe('walkers over guest data survive any nesting', () => {
  const nest = (depth: number, leaf: unknown): unknown => {
    let v = leaf;
    for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { k: v };
    return v;
  };

  test('redact cuts what is nested too deep instead of overflowing the stack', () => {
    const copy = redact({ result: nest(100_000, 'hunter2-S3cr3t') }, SECRETS);
    const text = JSON.stringify(copy);
    expect(text).toContain('"[nested too deep]"');
    expect(text).not.toContain('hunter2');
    // Shallow data is copied whole.
    expect(redact({ a: nest(50, 'x hunter2-S3cr3t') }, SECRETS)).toEqual({ a: nest(50, 'x ***') });
  });

  test('collectSecrets walks any depth', () => {
    expect(collectSecrets(nest(100_000, new SecretValue('deep-secret')))).toEqual(['deep-secret']);
  });
});

describe('redact copies only what it changes', () => {
  test('with nothing to change it returns the value itself', () => {
    const value = { vm: 'a', steps: [{ result: { os: 'x', list: [1, 2] } }], at: new Date(0) };
    expect(redact(value, [])).toBe(value);
    expect(redact(value, ['absent'])).toBe(value);
  });

  test('the branch holding a secret is copied, the others are shared, the input is untouched', () => {
    const clean = { os: 'linux', list: [1, 2, 3] };
    const dirty = { argv: ['--password', 'hunter2'], other: { n: 1 } };
    const value = { clean, dirty };
    const out = redact(value, ['hunter2']);
    expect(out).not.toBe(value);
    expect(out.clean).toBe(clean);
    expect(out.dirty).not.toBe(dirty);
    expect(out.dirty.other).toBe(dirty.other);
    expect(out.dirty.argv).toEqual(['--password', '***']);
    expect(dirty.argv).toEqual(['--password', 'hunter2']);
    // Keys keep their order when a later one changes.
    expect(Object.keys(redact({ a: 1, b: 'hunter2', c: 3 }, ['hunter2']))).toEqual(['a', 'b', 'c']);
  });
});
