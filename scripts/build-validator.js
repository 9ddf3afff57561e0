// Writes src/playbook/validate-playbook.generated.ts, the playbook validator compiled ahead of
// time from schema/playbook.schema.json (ajv standalone), so `check` compiles no schema at
// startup. `npm run build` runs it; a unit test fails when the file is not current.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generateValidatorSource } from './validator-source.js';

const root = new URL('../', import.meta.url);
const schema = JSON.parse(readFileSync(new URL('schema/playbook.schema.json', root), 'utf8'));
const out = fileURLToPath(new URL('src/playbook/validate-playbook.generated.ts', root));
writeFileSync(out, generateValidatorSource(schema));
console.log(`wrote ${out}`);
