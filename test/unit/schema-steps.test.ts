import { expect, test } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { withStepKinds } from '../../src/playbook/step-schema.js';
// @ts-expect-error: a plain JS build helper, without types
import { generateValidatorSource } from '../../scripts/validator-source.js';

const ROOT = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '../..');
const SCHEMA = path.join(ROOT, 'schema/playbook.schema.json');
const VALIDATOR = path.join(ROOT, 'src/playbook/validate-playbook.generated.ts');

/** JSON with two-space indents, each node on one line when that line stays short. */
function format(value: unknown, indent = ''): string {
  const flat = JSON.stringify(value);
  if (value === null || typeof value !== 'object' || indent.length + flat.length <= 110) return flat;
  const inner = `${indent}  `;
  const items = Array.isArray(value)
    ? value.map((v) => `${inner}${format(v, inner)}`)
    : Object.entries(value).map(([k, v]) => `${inner}${JSON.stringify(k)}: ${format(v, inner)}`);
  return Array.isArray(value) ? `[\n${items.join(',\n')}\n${indent}]` : `{\n${items.join(',\n')}\n${indent}}`;
}

// One source of truth: each step kind's schema node is written in its file under src/steps/kinds/.
// `npm run schema` (this test with QGA_PLAY_WRITE_SCHEMA=1) rewrites the schema file and the
// ahead-of-time validator from them; without it, the test fails when either is not current.
test('the step parts of schema/playbook.schema.json are the kind files\' own', () => {
  const committed = JSON.parse(readFileSync(SCHEMA, 'utf8')) as Parameters<typeof withStepKinds>[0];
  const current = withStepKinds(committed);
  if (process.env.QGA_PLAY_WRITE_SCHEMA === '1') {
    writeFileSync(SCHEMA, `${format(current)}\n`);
    writeFileSync(VALIDATOR, generateValidatorSource(current) as string);
  }
  expect(JSON.parse(readFileSync(SCHEMA, 'utf8'))).toEqual(current);
});
