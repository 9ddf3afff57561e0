import { afterAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkCommand } from '../../src/commands/check.js';
import { exitCodeFor } from '../../src/exit-codes.js';
import { UsageError } from '../../src/errors.js';

// Mutations of the shipped playbooks through check's code path: exit 0 or 2, never a crash.
const runs = Number(process.env.QGA_PLAY_FUZZ_RUNS ?? 300);
const seed = Number(process.env.QGA_PLAY_FUZZ_SEED ?? 20_240_611);

const ROOT = path.resolve(import.meta.dirname, '../..');
const sources = [path.join(ROOT, 'playbooks'), path.join(ROOT, 'fixtures/playbooks/valid')].flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => readFileSync(path.join(dir, f), 'utf8')),
);
const dir = mkdtempSync(path.join(os.tmpdir(), 'qga-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const YAMLISH = ['[', ']', '{', '}', ':', ': ', '- ', '*a', '&a ', '!!binary ', '!', '|', '>', "'", '"', '#', ',', '?', '\n', '\t', '  ', '\u001b', '\u0000', '\ufeff', '\u202e', '<<: *a', '~', 'null', '1e400', '-1', '0x10', '.inf', '9'.repeat(30)];

type Mutation = (text: string) => string;
const at = (text: string, n: number) => n % (text.length + 1);
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // A file of YAML fragments alone: `*a`, `[`, `- ` ...
  fc.array(fc.constantFrom(...YAMLISH), { minLength: 1, maxLength: 3 }).map((parts): Mutation => () => parts.join('')),
  fc.tuple(fc.nat(), fc.nat({ max: 40 })).map(([i, n]): Mutation => (t) => t.slice(0, at(t, i)) + t.slice(at(t, i) + n)),
  fc.tuple(fc.nat(), fc.constantFrom(...YAMLISH)).map(([i, s]): Mutation => (t) => t.slice(0, at(t, i)) + s + t.slice(at(t, i))),
  fc.tuple(fc.nat(), fc.string({ maxLength: 12 })).map(([i, s]): Mutation => (t) => t.slice(0, at(t, i)) + s + t.slice(at(t, i))),
  fc.tuple(fc.nat(), fc.nat()).map(([a, b]): Mutation => (t) => {
    const lines = t.split('\n');
    const [i, j] = [a % lines.length, b % lines.length];
    [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    return lines.join('\n');
  }),
  fc.tuple(fc.nat(), fc.nat({ max: 3 })).map(([a, n]): Mutation => (t) => {
    const lines = t.split('\n');
    const i = a % lines.length;
    lines.splice(i, 0, ...Array<string>(n + 1).fill(lines[i]!));
    return lines.join('\n');
  }),
);

describe('playbook loader under mutation', () => {
  test('check exits 0 or 2 for every mutated shipped playbook, never crashes', async () => {
    const io = { stdout: () => undefined, stderr: () => undefined, stderrStream: process.stderr, env: {} };
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...sources), fc.array(mutation, { minLength: 1, maxLength: 4 }), async (text, mutations) => {
        const file = path.join(dir, `m${n++}.yaml`);
        writeFileSync(file, mutations.reduce((t, m) => m(t), text));
        let code: number;
        try {
          code = await checkCommand({ playbook: file }, io);
        } catch (err) {
          // Only a usage error (a PlaybookError is one) may come out, and it must mean exit 2.
          if (!(err instanceof UsageError)) throw err;
          code = exitCodeFor(err);
        }
        expect([0, 2]).toContain(code);
      }),
      { numRuns: runs, seed },
    );
  });
});
