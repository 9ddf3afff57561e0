import { describe, expect, test } from '@jest/globals';
import { execa } from 'execa';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderJunit } from '../../src/report/index.js';
import type { RunResult } from '../../src/runner/types.js';
import { makeResult } from '../../fixtures/report/run-result.js';

const XSD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/report/junit.xsd');

// ---- The schema check is xmllint (libxml2-utils), which CI installs: missing there, the tests fail.

const xmllint = await execa('xmllint', ['--version'], { reject: false }).then((r) => r.exitCode === 0, () => false);
const mustValidate = process.env.CI === 'true';
if (!xmllint && !mustValidate) console.warn('xmllint is not installed (Debian: apt-get install libxml2-utils): the XSD validation of junit.xml is SKIPPED.');
const withXmllint = xmllint || mustValidate ? test : test.skip;

/** What xmllint --schema says is wrong with `xml` against fixtures/report/junit.xsd: [] when it validates. */
async function schemaProblems(xml: string): Promise<string[]> {
  if (!xmllint) throw new Error('xmllint is not installed (Debian: apt-get install libxml2-utils), and CI=true needs the XSD validation');
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'junit-')), 'junit.xml');
  writeFileSync(file, xml);
  const r = await execa('xmllint', ['--noout', '--schema', XSD, file], { reject: false });
  if (r.exitCode === 0) {
    expect(r.stderr).toContain('validates');
    return [];
  }
  const problems = r.stderr.split('\n').filter((l) => l.includes('Schemas validity error'));
  // Never "no problem" for a document xmllint refused (a parse error, say).
  return problems.length > 0 ? problems : [r.stderr || `xmllint exit ${r.exitCode}`];
}

const lenient = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['testsuite', 'testcase', 'property'].includes(name), parseAttributeValue: false, parseTagValue: false });

interface Case {
  name: string;
  classname: string;
  time: string;
  skipped?: unknown;
  failure?: { message: string; type: string; '#text': string };
  error?: { message: string; type: string; '#text': string };
  'system-out'?: string;
}
interface Suite {
  name: string;
  tests: string;
  failures: string;
  errors: string;
  skipped: string;
  time: string;
  testcase: Case[];
  properties: { property: { name: string; value: string }[] };
}
const suites = (xml: string): Suite[] => (lenient.parse(xml) as { testsuites: { testsuite: Suite[] } }).testsuites.testsuite;

describe('renderJunit', () => {
  const result = makeResult();
  const xml = renderJunit(result);

  test('is well-formed XML with an XML declaration', () => {
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
    expect(XMLValidator.validate(xml)).toBe(true);
  });

  withXmllint('is valid against fixtures/report/junit.xsd (xmllint --schema)', async () => {
    expect(await schemaProblems(xml)).toEqual([]);
  });

  withXmllint('the schema check itself catches what Jenkins or the xunit plugin would reject, each on its own', async () => {
    const doc = (suitesAttrs: string, suiteAttrs: string, body: string, after = '') =>
      `<?xml version="1.0"?><testsuites${suitesAttrs}><testsuite name="a" tests="1"${suiteAttrs}>${body}${after}</testsuite></testsuites>`;
    const good = doc('', ' failures="0" errors="0" time="1.5"', '<testcase name="x"><failure message="m"/></testcase>');
    expect(await schemaProblems(good)).toEqual([]);
    const bad: [string, string, string][] = [
      ['an unknown attribute on <testsuites>', doc(' total="1"', ' failures="0" errors="0"', '<testcase name="x"/>'), 'total'],
      ['a time that is not plain seconds', doc('', ' failures="0" errors="0" time="1,5s"', '<testcase name="x"/>'), 'time'],
      ['a required attribute missing (xunit: failures)', doc('', ' errors="0"', '<testcase name="x"/>'), 'failures'],
      ['<skipped> after <failure>', doc('', ' failures="1" errors="0"', '<testcase name="x"><failure message="m"/><skipped/></testcase>'), 'skipped'],
      ['<properties> after the testcases (junit-4 element order)', doc('', ' failures="0" errors="0"', '<testcase name="x"/>', '<properties/>'), 'properties'],
    ];
    for (const [what, xml, name] of bad) {
      const problems = await schemaProblems(xml);
      expect([what, problems.length > 0 && problems.some((p) => p.includes(name))]).toEqual([what, true]);
    }
  });

  test('one testsuite per VM, with counts and time in seconds', () => {
    const s = suites(xml);
    expect(s.map((x) => x.name)).toEqual(result.vms.map((v) => v.vm));
    const row = (name: string) => {
      const x = s.find((y) => y.name === name);
      return x && [x.tests, x.failures, x.errors, x.skipped, x.time];
    };
    expect(row('web-1')).toEqual(['3', '0', '0', '0', '0.279']);
    expect(row('web-2')).toEqual(['4', '1', '0', '1', '0.231']);
    expect(row('db-1')).toEqual(['3', '0', '1', '2', '1.507']);
    expect(row('slow-1')).toEqual(['3', '0', '1', '1', '5.007']);
    expect(row('win/10 ü')).toEqual(['3', '0', '2', '0', '0.825']);
    const top = (lenient.parse(xml) as { testsuites: Record<string, string> }).testsuites;
    expect([top.tests, top.failures, top.errors, top.time]).toEqual(['18', '1', '5', '6.789']);
  });

  test('one testcase per step with its name, classname and time', () => {
    const web1 = suites(xml).find((x) => x.name === 'web-1');
    expect(web1?.testcase.map((c) => [c.name, c.classname, c.time])).toEqual([
      ['ping', 'qga-play.web-1', '0.003'],
      ['time-sync', 'qga-play.web-1', '0.240'],
      ['uptime', 'qga-play.web-1', '0.031'],
    ]);
    expect(web1?.properties.property).toEqual([
      { name: 'connect', value: 'qemu:///system' },
      { name: 'transport', value: 'virsh' },
      { name: 'route', value: 'web-1 on qemu:///system (virsh)' },
      { name: 'status', value: 'ok' },
    ]);
    expect(web1?.testcase[1]?.['system-out']).toContain('"offsetBeforeMs": 1250.5');
  });

  test('failed is <failure>, unreachable and timed-out are <error>, skipped is <skipped/>, canceled is <error type="canceled">', () => {
    const s = suites(xml);
    const tc = (vm: string, step: string) => s.find((x) => x.name === vm)?.testcase.find((c) => c.name === step);
    expect(tc('web-2', 'exec /bin/false')?.failure).toMatchObject({ message: 'exit code 1 (expected 0)', type: 'STEP_FAILED' });
    expect(tc('web-2', 'exec /bin/false')?.failure?.['#text']).toContain('"exitCode": 1');
    expect(tc('web-2', 'osinfo')).toHaveProperty('skipped');
    expect(tc('db-1', 'ping')?.error).toMatchObject({ type: 'AGENT_NOT_CONNECTED', message: 'Guest agent is not responding: QEMU guest agent is not connected' });
    expect(tc('db-1', 'ping')?.error?.['#text']).toContain('attempts: 3');
    expect(tc('slow-1', 'time-get')?.error).toMatchObject({ type: 'TIMEOUT', message: 'guest-get-time: no reply within 5 s' });
    expect(tc('win/10 ü', 'uptime')?.error).toMatchObject({ type: 'canceled', message: 'interrupted by SIGINT' });
    expect(tc('win/10 ü', 'osinfo')?.error).toMatchObject({ type: 'canceled' });
    expect(tc('web-1', 'ping')).not.toHaveProperty('failure');
    expect(tc('web-1', 'ping')).not.toHaveProperty('error');
  });

  test('a VM where no step ran because it was unreachable still appears, as an error', () => {
    const db2 = suites(xml).find((x) => x.name === 'db-2');
    expect(db2?.testcase).toHaveLength(1);
    expect(db2?.testcase[0]?.name).toBe('reach agent');
    expect(db2?.testcase[0]?.error?.message).toContain('domain is not running');
    expect([db2?.tests, db2?.errors]).toEqual(['1', '1']);
  });

  test('characters XML cannot carry are shown escaped, markup in output is escaped', () => {
    // eslint-disable-next-line no-control-regex
    expect(xml).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
    expect(xml).toContain('control \\u001b[31m chars\\u0000 here');
    expect(xml).toContain('out &lt;&amp;&gt;');
  });

  withXmllint('an empty run and names with quotes and line breaks stay valid', async () => {
    const empty: RunResult = { ...makeResult(), vms: [], totals: { vms: 0, ok: 0, failed: 0, unreachable: 0, canceled: 0 } };
    expect(await schemaProblems(renderJunit(empty))).toEqual([]);
    const odd = makeResult();
    const first = odd.vms[0];
    if (!first?.steps[0]) throw new Error('fixture');
    first.vm = 'a "b" <c>\n&d';
    first.steps[0].name = "it's\r\n<x>";
    first.steps.push({ ...first.steps[0] }); // the same name twice
    const text = renderJunit(odd);
    expect(XMLValidator.validate(text)).toBe(true);
    expect(await schemaProblems(text)).toEqual([]);
    const names = suites(text)[0]?.testcase.map((c) => c.name);
    expect(names?.[0]).toBe("it's <x>");
    expect(names?.[3]).toBe("it's <x> (line 8)");
    expect(suites(text)[0]?.name).toBe('a "b" <c> &d');
  });
});

describe('renderJunit against the XSD with xmllint', () => {
  withXmllint('xmllint --schema fixtures/report/junit.xsd accepts junit.xml', async () => {
    expect(await schemaProblems(renderJunit(makeResult()))).toEqual([]);
  });

  withXmllint('xmllint rejects a <skipped> with attributes (the schema is the strict subset)', async () => {
    const problems = await schemaProblems('<testsuites><testsuite name="a" tests="1" failures="0" errors="0"><testcase name="x"><skipped message="m"/></testcase></testsuite></testsuites>');
    expect(problems.length).toBeGreaterThan(0);
  });
});
