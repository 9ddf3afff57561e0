import { expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { parsePlaybook } from '../../src/playbook/index.js';

// Every YAML block in the README is valid YAML, and every playbook or list of steps in it
// passes the playbook loader as the reader would paste it.
const blocks = [...readFileSync('README.md', 'utf8').matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);

test('the README has YAML blocks to check (a full playbook and step snippets among them)', () => {
  expect(blocks.length).toBeGreaterThanOrEqual(4);
  expect(blocks.some((b) => /^steps:/m.test(b))).toBe(true);
  expect(blocks.some((b) => /^ {2}- /.test(b))).toBe(true);
});

test.each(blocks.map((b, i) => [i, b] as const))('block %d', (_i, block) => {
  const doc = parseDocument(block);
  expect(doc.errors.map((e) => e.message)).toEqual([]);
  if (/^steps:/m.test(block)) {
    expect(() => parsePlaybook(block, 'README.md')).not.toThrow();
  } else if (/^ {2}- /.test(block)) {
    const wrapped = `targets: [{ vm: a }]\nsteps:\n${block}`;
    const result = (() => {
      try {
        parsePlaybook(wrapped, 'README.md');
        return 'ok';
      } catch (err) {
        return String((err as Error).message);
      }
    })();
    expect(result).toBe('ok');
  }
});
