import { randomInt } from 'node:crypto';
import type { DecoderEvent } from './decoder.js';

/** What the handshake makes of one decoder event. */
export type SyncProgress = 'done' | 'waiting';

/**
 * The guest-sync-delimited handshake, no I/O. `bytes` is what to send: a 0xFF (which flushes
 * the agent's parser) and the sync request with a random id. The agent answers with a 0xFF and
 * then `{"return": id}`; everything before the 0xFF, and every reply with another id, is stale.
 * Garbage after the 0xFF means the delimiter we saw was not the agent's answer: wait for the
 * next one.
 */
export class SyncHandshake {
  readonly id: number;
  readonly bytes: Buffer;
  private seenDelimiter = false;
  /** Replies and lines thrown away so far (for diagnostics). */
  discarded = 0;
  /** Once done: whether the agent echoed the request's `id` member in its answer (qemu-ga does). */
  echoesIds = false;

  constructor(id: number = randomInt(1, 2 ** 47)) {
    this.id = id;
    this.bytes = Buffer.concat([
      Buffer.from([0xff]),
      // The request's own id (beside the sync id) shows whether this agent echoes ids.
      Buffer.from(JSON.stringify({ execute: 'guest-sync-delimited', arguments: { id }, id: `sync-${id}` }) + '\n'),
    ]);
  }

  accept(event: DecoderEvent): SyncProgress {
    switch (event.type) {
      case 'delimiter':
        this.seenDelimiter = true;
        return 'waiting';
      case 'reply':
        if (this.seenDelimiter && 'return' in event.reply && event.reply.return === this.id) {
          this.echoesIds = event.reply.id === `sync-${this.id}`;
          return 'done';
        }
        this.discarded++;
        return 'waiting';
      case 'garbage':
      case 'oversize':
      case 'too-deep':
        this.discarded++;
        this.seenDelimiter = false;
        return 'waiting';
    }
  }
}
