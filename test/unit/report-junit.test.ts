import { describe, expect, test } from '@jest/globals';
import { execa } from 'execa';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderJunit } from '../../src/report/index.js';
import type { RunResult } from '../../src/runner/types.js';
import { makeResult } from '../../fixtures/report/run-result.js';

const XSD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/report/junit.xsd');

// ---- A pure-JS check of a document against the subset of XSD that fixtures/report/junit.xsd uses.

type Ordered = Record<string, unknown>[];
interface El {
  name: string;
  attrs: Record<string, string>;
  children: El[];
  text: string;
}
interface Rule {
  attrs: Map<string, { required: boolean; type: string }>;
  sequence: { ref: string; min: number; max: number }[];
  textOnly: boolean;
  mixed: boolean;
}

const parser = new XMLParser({ preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '', parseTagValue: false, parseAttributeValue: false, trimValues: false });

function toElements(nodes: Ordered): El[] {
  const out: El[] = [];
  for (const node of nodes) {
    const name = Object.keys(node).find((k) => k !== ':@');
    if (name === undefined || name === '#text' || name.startsWith('?')) continue;
    const kids = node[name] as Ordered;
    out.push({
      name,
      attrs: (node[':@'] ?? {}) as Record<string, string>,
      children: toElements(kids),
      text: kids.map((k) => (typeof k['#text'] === 'string' ? k['#text'] : '')).join(''),
    });
  }
  return out;
}

function loadSchema(text: string): { rules: Map<string, Rule>; patterns: Map<string, RegExp> } {
  const [schema] = toElements(parser.parse(text) as Ordered);
  const rules = new Map<string, Rule>();
  const patterns = new Map<string, RegExp>();
  for (const def of schema?.children ?? []) {
    if (def.name === 'xs:simpleType') {
      const pattern = def.children.find((c) => c.name === 'xs:restriction')?.children.find((c) => c.name === 'xs:pattern');
      if (def.attrs.name && pattern?.attrs.value) patterns.set(def.attrs.name, new RegExp(`^(?:${pattern.attrs.value})$`));
      continue;
    }
    if (def.name !== 'xs:element' || !def.attrs.name) continue;
    const complex = def.children.find((c) => c.name === 'xs:complexType');
    const rule: Rule = { attrs: new Map(), sequence: [], textOnly: def.attrs.type === 'xs:string', mixed: complex?.attrs.mixed === 'true' };
    for (const part of complex?.children ?? []) {
      if (part.name === 'xs:attribute') rule.attrs.set(part.attrs.name ?? '', { required: part.attrs.use === 'required', type: part.attrs.type ?? 'xs:string' });
      if (part.name === 'xs:sequence') {
        for (const item of part.children) {
          const max = item.attrs.maxOccurs ?? '1';
          rule.sequence.push({ ref: item.attrs.ref ?? '', min: Number(item.attrs.minOccurs ?? '1'), max: max === 'unbounded' ? Infinity : Number(max) });
        }
      }
    }
    rules.set(def.attrs.name, rule);
  }
  return { rules, patterns };
}

/** Problems of `xml` against the schema, as `path: message`; empty when valid. */
function checkAgainstSchema(xml: string, schemaText: string, root: string): string[] {
  const { rules, patterns } = loadSchema(schemaText);
  const problems: string[] = [];
  const check = (el: El, at: string): void => {
    const here = `${at}/${el.name}${el.attrs.name ? `[${el.attrs.name}]` : ''}`;
    const rule = rules.get(el.name);
    if (!rule) return void problems.push(`${here}: element not in the schema`);
    for (const [name, value] of Object.entries(el.attrs)) {
      const def = rule.attrs.get(name);
      if (!def) problems.push(`${here}: attribute ${name} not allowed`);
      else if (patterns.has(def.type) && !patterns.get(def.type)?.test(value)) problems.push(`${here}: ${name}="${value}" is not a ${def.type}`);
    }
    for (const [name, def] of rule.attrs) if (def.required && !(name in el.attrs)) problems.push(`${here}: required attribute ${name} missing`);
    if (rule.textOnly) {
      if (el.children.length > 0) problems.push(`${here}: text only, has elements`);
      return;
    }
    if (!rule.mixed && el.text.trim() !== '') problems.push(`${here}: text not allowed`);
    let i = 0;
    let n = 0;
    for (const child of el.children) {
      while (i < rule.sequence.length && rule.sequence[i]?.ref !== child.name) {
        if (n < (rule.sequence[i]?.min ?? 0)) problems.push(`${here}: expected ${rule.sequence[i]?.ref} before ${child.name}`);
        i++;
        n = 0;
      }
      const item = rule.sequence[i];
      if (!item) {
        problems.push(`${here}: ${child.name} not allowed here`);
        break;
      }
      if (++n > item.max) problems.push(`${here}: too many ${child.name}`);
      check(child, here);
    }
    for (; i < rule.sequence.length; i++, n = 0) if (n < (rule.sequence[i]?.min ?? 0)) problems.push(`${here}: ${rule.sequence[i]?.ref} missing`);
  };
  const roots = toElements(parser.parse(xml) as Ordered);
  if (roots.length !== 1 || roots[0]?.name !== root) problems.push(`document root is not <${root}>`);
  for (const r of roots) check(r, '');
  return problems;
}

const schemaText = readFileSync(XSD, 'utf8');
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

  test('is valid against fixtures/report/junit.xsd (pure-JS check)', () => {
    expect(checkAgainstSchema(xml, schemaText, 'testsuites')).toEqual([]);
  });

  test('the schema check itself catches what Jenkins or the xunit plugin would reject', () => {
    const bad = `<?xml version="1.0"?><testsuites total="1"><testsuite name="a" tests="1" errors="0" time="1,5s">
      <testcase name="x"><failure message="m"/><skipped message="no"/></testcase><properties/></testsuite></testsuites>`;
    expect(checkAgainstSchema(bad, schemaText, 'testsuites')).toEqual([
      '/testsuites: attribute total not allowed',
      '/testsuites/testsuite[a]: time="1,5s" is not a seconds',
      '/testsuites/testsuite[a]: required attribute failures missing',
      '/testsuites/testsuite[a]/testcase[x]: skipped not allowed here',
      '/testsuites/testsuite[a]: properties not allowed here',
    ]);
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

  test('an empty run and names with quotes and line breaks stay valid', () => {
    const empty: RunResult = { ...makeResult(), vms: [], totals: { vms: 0, ok: 0, failed: 0, unreachable: 0, canceled: 0 } };
    expect(checkAgainstSchema(renderJunit(empty), schemaText, 'testsuites')).toEqual([]);
    const odd = makeResult();
    const first = odd.vms[0];
    if (!first?.steps[0]) throw new Error('fixture');
    first.vm = 'a "b" <c>\n&d';
    first.steps[0].name = "it's\r\n<x>";
    first.steps.push({ ...first.steps[0] }); // the same name twice
    const text = renderJunit(odd);
    expect(XMLValidator.validate(text)).toBe(true);
    expect(checkAgainstSchema(text, schemaText, 'testsuites')).toEqual([]);
    const names = suites(text)[0]?.testcase.map((c) => c.name);
    expect(names?.[0]).toBe("it's <x>");
    expect(names?.[3]).toBe("it's <x> (line 8)");
    expect(suites(text)[0]?.name).toBe('a "b" <c> &d');
  });
});

const xmllint = await execa('xmllint', ['--version'], { reject: false }).then((r) => r.exitCode === 0, () => false);
if (!xmllint) console.warn('xmllint is not installed (Debian: apt-get install libxml2-utils): the xmllint XSD validation of junit.xml is SKIPPED; the pure-JS schema check still runs.');

describe('renderJunit against the XSD with xmllint', () => {
  (xmllint ? test : test.skip)('xmllint --schema fixtures/report/junit.xsd accepts junit.xml', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'junit-'));
    const file = path.join(dir, 'junit.xml');
    writeFileSync(file, renderJunit(makeResult()));
    const r = await execa('xmllint', ['--noout', '--schema', XSD, file], { reject: false });
    expect(r.stderr).toContain('validates');
    expect(r.exitCode).toBe(0);
  });

  (xmllint ? test : test.skip)('xmllint rejects a <skipped> with attributes (the schema is the strict subset)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'junit-'));
    const file = path.join(dir, 'junit.xml');
    writeFileSync(file, '<testsuites><testsuite name="a" tests="1" failures="0" errors="0"><testcase name="x"><skipped message="m"/></testcase></testsuite></testsuites>');
    const r = await execa('xmllint', ['--noout', '--schema', XSD, file], { reject: false });
    expect(r.exitCode).not.toBe(0);
  });
});
