import { describe, expect, test } from '@jest/globals';
import { jsonVisible, visible } from '../../src/util/visible.js';

describe('visible', () => {
  test('control characters, DEL, C1 and bidi marks become escapes; printable text stays', () => {
    expect(visible('a\u001b[2Jb\u0007\r\n\t\u007f\u009b\u202e\u2066\u200f')).toBe('a\\x1b[2Jb\\x07\\r\\n\\t\\x7f\\x9b\\u202e\\u2066\\u200f');
    expect(visible('héllo ☃ 日本 😀 \\x1b')).toBe('héllo ☃ 日本 😀 \\x1b');
  });

  test('jsonVisible keeps the JSON value and escapes what JSON allows raw', () => {
    const json = JSON.stringify({ d: 'x\u009b\u202e\u007fy' });
    const shown = jsonVisible(json);
    expect(shown).not.toMatch(/[\u007f-\u009f\u202e]/);
    expect(JSON.parse(shown)).toEqual(JSON.parse(json));
  });
});
