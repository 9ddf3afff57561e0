import { asReply, type QgaReply } from './protocol.js';

/** What the decoder finds in the agent's byte stream. */
export type DecoderEvent =
  /** A complete reply. */
  | { type: 'reply'; reply: QgaReply; text: string }
  /** A 0xFF byte: the agent's answer to guest-sync-delimited follows. */
  | { type: 'delimiter' }
  /** A line that is not a QGA reply (a stale tail, noise); `text` is cut to 200 characters. */
  | { type: 'garbage'; text: string }
  /** A reply longer than the cap; its bytes were dropped, not buffered. */
  | { type: 'oversize'; bytes: number };

const NEWLINE = 0x0a;
const DELIMITER = 0xff;

/**
 * QGA reply stream decoder, no I/O: `write(chunk)` in, events out. Replies are JSON objects
 * ended by a newline (qemu-ga never puts a raw newline inside one). A 0xFF byte drops any
 * partial line, since whatever preceded it cannot be completed any more.
 */
export class ReplyDecoder {
  private parts: Buffer[] = [];
  private size = 0;
  private discarding = 0;
  readonly maxReplyBytes: number;

  constructor(options: { maxReplyBytes?: number } = {}) {
    this.maxReplyBytes = options.maxReplyBytes ?? 16 * 1024 * 1024;
  }

  /** Bytes of an unfinished reply held now. */
  get pending(): number {
    return this.size;
  }

  write(chunk: Buffer): DecoderEvent[] {
    const events: DecoderEvent[] = [];
    let start = 0;
    while (start < chunk.length) {
      const end = nextBoundary(chunk, start);
      if (end === -1) {
        this.append(chunk.subarray(start), events);
        break;
      }
      this.append(chunk.subarray(start, end), events);
      if (chunk[end] === DELIMITER) {
        this.reset();
        events.push({ type: 'delimiter' });
      } else {
        this.finishLine(events);
      }
      start = end + 1;
    }
    return events;
  }

  /** Drops any partial reply (after a disconnect or before a resync). */
  reset(): void {
    this.parts = [];
    this.size = 0;
    this.discarding = 0;
  }

  private append(bytes: Buffer, events: DecoderEvent[]): void {
    if (bytes.length === 0) return;
    if (this.discarding > 0) {
      this.discarding += bytes.length;
      return;
    }
    if (this.size + bytes.length > this.maxReplyBytes) {
      this.discarding = this.size + bytes.length;
      this.parts = [];
      this.size = 0;
      events.push({ type: 'oversize', bytes: this.discarding });
      return;
    }
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  private finishLine(events: DecoderEvent[]): void {
    if (this.discarding > 0) {
      this.discarding = 0;
      return;
    }
    const text = (this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size)).toString('utf8').trim();
    this.parts = [];
    this.size = 0;
    if (text === '') return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      events.push({ type: 'garbage', text: text.slice(0, 200) });
      return;
    }
    const reply = asReply(value);
    if (reply === null) events.push({ type: 'garbage', text: text.slice(0, 200) });
    else events.push({ type: 'reply', reply, text });
  }
}

function nextBoundary(chunk: Buffer, from: number): number {
  const nl = chunk.indexOf(NEWLINE, from);
  const ff = chunk.indexOf(DELIMITER, from);
  if (nl === -1) return ff;
  if (ff === -1) return nl;
  return Math.min(nl, ff);
}
