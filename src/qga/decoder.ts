import { CUT_MARK, excerpt } from '../util/excerpt.js';
import { asReply, type QgaReply } from './protocol.js';

/** What the decoder finds in the agent's byte stream. */
export type DecoderEvent =
  /** A complete reply. */
  | { type: 'reply'; reply: QgaReply; text: string }
  /** A 0xFF byte: the agent's answer to guest-sync-delimited follows. */
  | { type: 'delimiter' }
  /** A line that is not a QGA reply (a stale tail, noise); `text` is cut to 200 characters, the cut marked (CUT_MARK). */
  | { type: 'garbage'; text: string }
  /** A reply longer than the cap; its bytes were dropped, not buffered. */
  | { type: 'oversize'; bytes: number }
  /** A reply nested deeper than {@link MAX_REPLY_DEPTH}; dropped unparsed, not buffered. */
  | { type: 'too-deep'; depth: number };

/**
 * Deepest nesting of objects and arrays accepted in a reply, the reply object itself counting
 * as 1. qemu-ga's deepest replies (guest-get-disks, guest-network-get-interfaces) nest about 6
 * levels; anything near this bound is hostile, and every walker over a reply stays shallow.
 */
export const MAX_REPLY_DEPTH = 64;

const NEWLINE = 0x0a;
const DELIMITER = 0xff;
const OPEN_BRACE = 0x7b;
const GARBAGE_CHARS = 200;
// Enough bytes for GARBAGE_CHARS characters of UTF-8 (4 bytes at most each).
const GARBAGE_BYTES = GARBAGE_CHARS * 4;

/** What the decoder does with the rest of the current line. */
const Line = {
  /** Only whitespace so far. */
  Blank: 0,
  /** Starts with `{`: buffered and scanned for nesting, parsed at its newline. */
  Json: 1,
  /** Starts with anything else: cannot be a reply; only its head is kept, for the message. */
  Junk: 2,
  /** Over the cap or too deep (already reported): dropped up to the newline. */
  Dropped: 3,
} as const;
type Line = (typeof Line)[keyof typeof Line];

function isBlank(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0x0b || byte === 0x0c;
}

/**
 * QGA reply stream decoder, no I/O: `write(chunk)` in, events out. Replies are JSON objects
 * ended by a newline (qemu-ga never puts a raw newline inside one). A 0xFF byte drops any
 * partial line, since whatever preceded it cannot be completed any more.
 *
 * Each byte is looked at once: a line that does not start with `{` is junk and skipped to its
 * newline without being kept; in a reply, brackets outside strings are counted, so a reply
 * nested deeper than {@link MAX_REPLY_DEPTH} is refused as soon as it gets there, without being
 * buffered or parsed. Memory is bounded by `maxReplyBytes`.
 */
export class ReplyDecoder {
  private parts: Buffer[] = [];
  private size = 0;
  // The line's bytes while they all lie in the chunk being written: read from it, not copied.
  private spanChunk: Buffer | null = null;
  private spanFrom = 0;
  private spanTo = 0;
  private line: Line = Line.Blank;
  private depth = 0;
  private inString = false;
  private escaped = false;
  // The junk line was longer than what is kept of it.
  private junkCut = false;
  readonly maxReplyBytes: number;

  constructor(options: { maxReplyBytes?: number } = {}) {
    this.maxReplyBytes = options.maxReplyBytes ?? 16 * 1024 * 1024;
  }

  /** Bytes of an unfinished line held now. */
  get pending(): number {
    return this.size;
  }

  write(chunk: Buffer): DecoderEvent[] {
    const events: DecoderEvent[] = [];
    // Found once per chunk and again only after it is passed, so no byte is searched twice.
    let nextDelimiter = chunk.indexOf(DELIMITER);
    let start = 0;
    while (start < chunk.length) {
      if (nextDelimiter !== -1 && nextDelimiter < start) nextDelimiter = chunk.indexOf(DELIMITER, start);
      const newline = chunk.indexOf(NEWLINE, start);
      let end = newline === -1 ? nextDelimiter : nextDelimiter === -1 ? newline : Math.min(newline, nextDelimiter);
      if (end === -1) end = chunk.length;
      this.take(chunk, start, end, events);
      if (end === chunk.length) {
        this.settle();
        break;
      }
      if (end === nextDelimiter) {
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
    this.spanChunk = null;
    this.line = Line.Blank;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.junkCut = false;
  }

  /** Takes `chunk[from, to)`, a piece of one line (no newline, no 0xFF in it). */
  private take(chunk: Buffer, from: number, to: number, events: DecoderEvent[]): void {
    let i = from;
    if (this.line === Line.Blank) {
      while (i < to && isBlank(chunk[i]!)) i++;
      if (i === to) return;
      this.line = chunk[i] === OPEN_BRACE ? Line.Json : Line.Junk;
    }
    switch (this.line) {
      case Line.Dropped:
        return;
      case Line.Junk: {
        const room = Math.max(0, GARBAGE_BYTES - this.size);
        if (to - i > room) this.junkCut = true;
        this.keep(chunk, i, i + Math.min(room, to - i));
        return;
      }
      case Line.Json:
        this.scanJson(chunk, i, to, events);
    }
  }

  private scanJson(chunk: Buffer, from: number, to: number, events: DecoderEvent[]): void {
    if (this.size + (to - from) > this.maxReplyBytes) {
      this.drop(events, { type: 'oversize', bytes: this.size + (to - from) });
      return;
    }
    let { depth, inString, escaped } = this;
    for (let i = from; i < to; i++) {
      const byte = chunk[i]!;
      if (inString) {
        if (escaped) escaped = false;
        else if (byte === 0x5c) escaped = true;
        else if (byte === 0x22) inString = false;
      } else if (byte === 0x22) {
        inString = true;
      } else if (byte === 0x7b || byte === 0x5b) {
        if (++depth > MAX_REPLY_DEPTH) {
          this.drop(events, { type: 'too-deep', depth });
          return;
        }
      } else if (byte === 0x7d || byte === 0x5d) {
        depth--;
      }
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    this.keep(chunk, from, to);
  }

  private keep(chunk: Buffer, from: number, to: number): void {
    if (to <= from) return;
    if (this.size === 0) {
      this.spanChunk = chunk;
      this.spanFrom = from;
      this.spanTo = to;
    } else {
      this.settle();
      this.parts.push(chunk.subarray(from, to));
    }
    this.size += to - from;
  }

  /** The chunk is done with: what the line holds of it becomes a part of its own. */
  private settle(): void {
    if (this.spanChunk === null) return;
    this.parts.push(this.spanChunk.subarray(this.spanFrom, this.spanTo));
    this.spanChunk = null;
  }

  private lineText(): string {
    if (this.spanChunk !== null && this.parts.length === 0) return this.spanChunk.toString('utf8', this.spanFrom, this.spanTo).trim();
    this.settle();
    return (this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size)).toString('utf8').trim();
  }

  /** Forgets the line so far and drops the rest of it, reporting why. */
  private drop(events: DecoderEvent[], event: DecoderEvent): void {
    this.parts = [];
    this.size = 0;
    this.spanChunk = null;
    this.line = Line.Dropped;
    events.push(event);
  }

  private finishLine(events: DecoderEvent[]): void {
    const line = this.line;
    const text = line === Line.Json || line === Line.Junk ? this.lineText() : '';
    const cut = this.junkCut;
    this.reset();
    if (line === Line.Junk) {
      const shown = excerpt(text, GARBAGE_CHARS);
      events.push({ type: 'garbage', text: cut && shown === text ? `${text}${CUT_MARK}` : shown });
      return;
    }
    if (line !== Line.Json) return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      events.push({ type: 'garbage', text: excerpt(text, GARBAGE_CHARS) });
      return;
    }
    const reply = asReply(value);
    if (reply === null) events.push({ type: 'garbage', text: excerpt(text, GARBAGE_CHARS) });
    else events.push({ type: 'reply', reply, text });
  }
}

/**
 * How deeply `text` (JSON) nests objects and arrays, counting brackets outside strings, up to
 * `limit + 1`: one pass, no parse. For replies that come whole (through virsh).
 */
export function nestingDepth(text: string, limit = MAX_REPLY_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > deepest && (deepest = depth) > limit) return deepest;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}
