// C0 controls, DEL, C1 controls, and the Unicode marks that reorder or hide text on a terminal
// (bidi embeddings, overrides and isolates, LRM/RLM/ALM).
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * `text` as it may reach a terminal: every control character and bidi mark shown as an escape
 * (`\x1b`, `\n`, `\u202e`), so guest or playbook text cannot move the cursor, retitle the
 * window, clear the screen, forge a line or reorder what is shown. Printable text is unchanged.
 */
export function visible(text: string): string {
  return text.replace(INVISIBLE, (ch) => {
    const code = ch.charCodeAt(0);
    return NAMED[ch] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
  });
}

// What JSON allows raw inside strings but a terminal may act on: DEL, C1 controls, bidi marks.
const JSON_INVISIBLE = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * JSON text with the characters of {@link visible} that JSON allows raw in strings written as
 * `\uXXXX` escapes instead: the same JSON value, safe on a terminal. (JSON has no raw C0
 * controls in strings; between tokens they are only whitespace.)
 */
export function jsonVisible(json: string): string {
  return json.replace(JSON_INVISIBLE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
