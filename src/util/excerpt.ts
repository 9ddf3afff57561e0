/** What a cut in a message ends with: redaction looks for a secret's head just before it. */
export const CUT_MARK = '…';

/** `text` cut to `max` characters, the cut marked with {@link CUT_MARK}. */
export function excerpt(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}${CUT_MARK}` : text;
}
