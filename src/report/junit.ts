import { XMLBuilder } from 'fast-xml-parser';
import type { RunResult, StepReport, VmReport } from '../runner/types.js';
import { stepWarning } from './key-result.js';
import { redact } from '../playbook/redact.js';
import type { ReportFile } from './report-file.js';

/**
 * JUnit XML that validates against both schemas CI servers use: Jenkins' junit-4 (strict
 * element order, `<skipped>` with no attributes) and the xunit plugin's junit-10 (required
 * `failures`/`errors` on `<testsuite>`, `time` as plain decimal seconds). GitLab reads the same
 * subset.
 */

/** Cap on a step's result text in `<system-out>` and in failure bodies. */
const MAX_RESULT_CHARS = 4096;

// XML 1.0 allows only these characters; agents' output may carry others (ESC, NUL, lone surrogates).
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

function xmlText(text: string): string {
  return text.replace(NOT_XML, (ch) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
}

/** Attribute values on one line: parsers would turn line breaks into spaces anyway. */
function xmlAttr(text: string): string {
  return xmlText(text).replace(/\s*[\r\n]+\s*/g, ' ');
}

function seconds(ms: number): string {
  return (Math.max(0, Number.isFinite(ms) ? ms : 0) / 1000).toFixed(3);
}

function resultText(result: unknown): string | undefined {
  if (result === undefined || result === null) return undefined;
  if (typeof result === 'object' && Object.keys(result).length === 0) return undefined;
  const text = typeof result === 'string' ? result : JSON.stringify(result, null, 2);
  if (text === undefined) return undefined;
  return text.length > MAX_RESULT_CHARS ? `${text.slice(0, MAX_RESULT_CHARS)}\n... (${text.length - MAX_RESULT_CHARS} more characters in the VM's report)` : text;
}

function problemBody(step: StepReport): string {
  const lines = [`status: ${step.status}`];
  if (step.error) lines.push(`code: ${step.error.code}`, `message: ${step.error.message}`);
  lines.push(`attempts: ${step.attempts}`, `playbook line: ${step.line}`);
  const result = resultText(step.result);
  if (result !== undefined) lines.push(`result: ${result}`);
  return xmlText(lines.join('\n'));
}

type Node = Record<string, unknown>;

function testcase(step: StepReport, name: string, classname: string): Node {
  const node: Node = { '@_name': xmlAttr(name), '@_classname': xmlAttr(classname), '@_time': seconds(step.durationMs) };
  const message = xmlAttr(step.error?.message ?? step.status);
  switch (step.status) {
    case 'skipped':
      node.skipped = '';
      break;
    case 'failed':
      node.failure = { '@_message': message, '@_type': xmlAttr(step.error?.code ?? 'failed'), '#text': problemBody(step) };
      break;
    case 'unreachable':
    case 'timed-out':
      node.error = { '@_message': message, '@_type': xmlAttr(step.error?.code ?? step.status), '#text': problemBody(step) };
      break;
    case 'canceled':
      node.error = { '@_message': message, '@_type': 'canceled', '#text': problemBody(step) };
      break;
    case 'ok':
      break;
  }
  const out = step.status === 'ok' ? resultText(step.result) : undefined;
  if (out !== undefined) node['system-out'] = xmlText(out);
  // JUnit has no "passed with a warning": CI shows system-err beside the passed case.
  const warning = stepWarning(step);
  if (warning !== undefined) node['system-err'] = xmlText(`WARNING: ${warning}`);
  return node;
}

/** The steps of a VM as JUnit sees them; a VM with no step that did not end ok gets one that says why. */
function stepsOf(vm: VmReport): StepReport[] {
  if (vm.steps.length > 0 || vm.status === 'ok') return vm.steps;
  const status = vm.status === 'canceled' ? 'canceled' : vm.status === 'unreachable' ? 'unreachable' : 'failed';
  return [
    {
      name: 'reach agent',
      kind: 'ping',
      status,
      durationMs: vm.durationMs,
      attempts: 0,
      line: 0,
      error: { code: status.toUpperCase(), message: `${vm.status}: no step ran on ${vm.vm} (${vm.route})` },
    },
  ];
}

function count(steps: StepReport[]) {
  const c = { tests: steps.length, failures: 0, errors: 0, skipped: 0 };
  for (const s of steps) {
    if (s.status === 'failed') c.failures++;
    else if (s.status === 'skipped') c.skipped++;
    else if (s.status !== 'ok') c.errors++;
  }
  return c;
}

function testsuite(vm: VmReport, id: number): { node: Node; counts: ReturnType<typeof count> } {
  const steps = stepsOf(vm);
  const counts = count(steps);
  const classname = `qga-play.${vm.vm.replace(/\./g, '_')}`;
  const seen = new Map<string, number>();
  const cases = steps.map((step) => {
    const n = (seen.get(step.name) ?? 0) + 1;
    seen.set(step.name, n);
    return testcase(step, n === 1 ? step.name : `${step.name} (line ${step.line})`, classname);
  });
  const node: Node = {
    '@_name': xmlAttr(vm.vm),
    '@_tests': String(counts.tests),
    '@_failures': String(counts.failures),
    '@_errors': String(counts.errors),
    '@_skipped': String(counts.skipped),
    '@_time': seconds(vm.durationMs),
    '@_timestamp': xmlAttr(vm.startedAt),
    '@_id': String(id),
    properties: {
      property: [
        { '@_name': 'connect', '@_value': xmlAttr(vm.connect) },
        { '@_name': 'transport', '@_value': xmlAttr(vm.transport) },
        { '@_name': 'route', '@_value': xmlAttr(vm.route) },
        { '@_name': 'status', '@_value': xmlAttr(vm.status) },
      ],
    },
    testcase: cases,
  };
  return { node, counts };
}

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', format: true, indentBy: '  ', suppressEmptyNode: true });

export const JUNIT_FILE = 'junit.xml';

/** `junit.xml` for a run: `<testsuites>` with one `<testsuite>` per VM and one `<testcase>` per step. */
export function renderJunit(result: RunResult, options: { secrets?: string[] } = {}): string {
  return junitXml(redact(result, options.secrets ?? []));
}

/** The JUnit file of the report directory (its result already redacted). */
export const junitReportFile: ReportFile = { name: JUNIT_FILE, render: junitXml };

function junitXml(r: RunResult): string {
  const suites = r.vms.map((vm, i) => testsuite(vm, i));
  const totals = { tests: 0, failures: 0, errors: 0 };
  for (const { counts } of suites) {
    totals.tests += counts.tests;
    totals.failures += counts.failures;
    totals.errors += counts.errors;
  }
  const doc = {
    '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' },
    testsuites: {
      '@_name': xmlAttr(`qga-play ${r.playbook}`),
      '@_tests': String(totals.tests),
      '@_failures': String(totals.failures),
      '@_errors': String(totals.errors),
      '@_time': seconds(r.durationMs),
      testsuite: suites.map((s) => s.node),
    },
  };
  return builder.build(doc) as string;
}
