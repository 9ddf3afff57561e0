import { describe, expect, test } from '@jest/globals';
import { redact, redactText } from '../../../src/playbook/redact.js';
import { excerpt } from '../../../src/util/excerpt.js';
import { decodeExecStatus } from '../../../src/steps/kinds/exec.js';

const SECRET = 'hunter2-s3cr3t';

describe('secrets inside base64 and binary output', () => {
  test('a secret is masked in base64 at every byte alignment', () => {
    for (const prefix of ['', 'a', 'ab', 'abc', 'TOKEN=']) {
      const b64 = Buffer.from(`${prefix}${SECRET}\n\u00ff tail`, 'latin1').toString('base64');
      const masked = redact({ contentBase64: b64 }, [SECRET]).contentBase64;
      expect(masked).toContain('***');
      // What is left cannot be decoded back to the secret.
      expect(Buffer.from(masked.replace(/\*/g, ''), 'base64').toString('latin1')).not.toContain(SECRET);
    }
  });

  test('base64 without the secret is left alone', () => {
    const b64 = Buffer.from('nothing to hide here at all').toString('base64');
    expect(redact({ b64 }, [SECRET]).b64).toBe(b64);
  });

  test('exec output that is not UTF-8 is text with replacement characters, so the mask applies', () => {
    const out = Buffer.concat([Buffer.from(`TOKEN=${SECRET}\n`), Buffer.from([0xff, 0xfe])]).toString('base64');
    const result = decodeExecStatus(7, { exited: true, exitcode: 0, 'out-data': out }, 5);
    expect(result).toMatchObject({ stdoutLossy: true, stdout: `TOKEN=${SECRET}\n\ufffd\ufffd` });
    expect(JSON.stringify(redact(result, [SECRET]))).not.toContain(SECRET);
  });
});

describe('redactText: escaped and cut forms of a secret', () => {
  const secret = 'Pw"quote\\back-xyz7';
  test('a secret escaped once or twice as JSON is masked', () => {
    const once = JSON.stringify(secret);
    expect(redactText(`got ${once}`, [secret])).toBe('got "***"');
    expect(redactText(JSON.stringify({ message: `got ${once}` }), [secret])).toBe('{"message":"got \\"***\\""}');
  });

  test("the head of a secret left before a cut's mark is masked, escaped or not", () => {
    expect(redactText('got "012345Zq7-TOK…', ['Zq7-TOKEN-abcdef'])).toBe('got "012345***…');
    expect(redactText('got "Pw\\"quo...', [secret])).toBe('got "***...');
    expect(redactText(excerpt('prefix Zq7-TOKEN-abcdef', 12), ['Zq7-TOKEN-abcdef'])).toBe('prefix ***…');
  });

  test('text without a cut mark, or a head shorter than 3 characters, is left alone', () => {
    expect(redactText('Zq7-TOK and more', ['Zq7-TOKEN-abcdef'])).toBe('Zq7-TOK and more');
    expect(redactText('xZq…', ['Zq7-TOKEN-abcdef'])).toBe('xZq…');
  });
});
