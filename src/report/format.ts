import { visible } from '../util/visible.js';

/** Text made safe for a terminal or a log line: see {@link visible}. */
export const printable = visible;

/** Display width of `text` in a monospace terminal: wide (CJK, emoji) characters take two cells. */
export function textWidth(text: string): number {
  let width = 0;
  for (const ch of text) width += isWide(ch.codePointAt(0) ?? 0) ? 2 : 1;
  return width;
}

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** `text` padded with spaces to `width` display cells. */
export function padEnd(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - textWidth(text)));
}

/** `text` cut to at most `width` display cells, with `…` when cut. */
export function truncate(text: string, width: number): string {
  if (textWidth(text) <= width) return text;
  let out = '';
  let used = 0;
  for (const ch of text) {
    const w = isWide(ch.codePointAt(0) ?? 0) ? 2 : 1;
    if (used + w > width - 1) break;
    out += ch;
    used += w;
  }
  return `${out}…`;
}

/** `text` broken into lines of at most `width` display cells, at spaces where it can, whole. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  const push = () => {
    lines.push(line.trimEnd());
    line = '';
  };
  for (const word of text.split(' ')) {
    let rest = word;
    if (line !== '' && textWidth(line) + 1 + textWidth(rest) > width) push();
    // A word longer than the line is cut where the line ends.
    while (textWidth(rest) > width) {
      let cut = '';
      for (const ch of rest) {
        if (textWidth(cut + ch) > width) break;
        cut += ch;
      }
      if (line !== '') push();
      lines.push(cut);
      rest = rest.slice(cut.length);
    }
    line = line === '' ? rest : `${line} ${rest}`;
  }
  if (line !== '' || lines.length === 0) push();
  return lines;
}
