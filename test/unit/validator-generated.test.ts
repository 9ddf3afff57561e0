import { expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
// @ts-expect-error: a plain JS build helper, without types
import { generateValidatorSource } from '../../scripts/validator-source.js';

const ROOT = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '../..');

// One source of truth: the validator `check` loads is compiled from the schema file. This fails
// when someone edits schema/playbook.schema.json without `npm run build` (or the file by hand).
test('src/playbook/validate-playbook.generated.ts is current with schema/playbook.schema.json', () => {
  const schema = JSON.parse(readFileSync(path.join(ROOT, 'schema/playbook.schema.json'), 'utf8')) as object;
  const committed = readFileSync(path.join(ROOT, 'src/playbook/validate-playbook.generated.ts'), 'utf8');
  expect(committed === (generateValidatorSource(schema) as string)).toBe(true);
});
