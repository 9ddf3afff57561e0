/**
 * A block of lines at the bottom of a terminal, redrawn in place: each frame moves the cursor
 * up over the previous one and erases to the end of the screen, in a single write. Lines are
 * cut to the terminal's width beforehand (the caller's job), so none wraps and the count of
 * lines to move over is exact.
 */
export class LiveRegion {
  #lines = 0;
  constructor(private readonly stream: NodeJS.WritableStream) {}

  #erase(): string {
    return this.#lines > 0 ? `\u001b[${this.#lines}A\u001b[0J` : '';
  }

  /** Replaces the block with `lines`. */
  render(lines: readonly string[]): void {
    this.stream.write(this.#erase() + lines.map((l) => `${l}\n`).join(''));
    this.#lines = lines.length;
  }

  /** Writes `text` (whole lines) above the block, which the next `render` draws again. */
  print(text: string, redraw: readonly string[]): void {
    this.stream.write(this.#erase() + text + redraw.map((l) => `${l}\n`).join(''));
    this.#lines = redraw.length;
  }

  /** Erases the block: what follows is written where it was. */
  clear(): void {
    if (this.#lines > 0) this.stream.write(this.#erase());
    this.#lines = 0;
  }
}
