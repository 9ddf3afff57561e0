import type { WatchTrigger } from '../playbook/types.js';

/** One domain event as `virsh event --timestamp` printed it. */
export interface DomainEvent {
  /** When virsh received it (host clock), ms since the epoch. */
  atMs: number;
  type: 'lifecycle' | 'agent-lifecycle';
  domain: string;
  /** lifecycle: `Resumed`, `Started`...; agent-lifecycle: `connected` or `disconnected`. */
  event: string;
  /** lifecycle: `Unpaused`, `Restored`...; agent-lifecycle: the reason (`channel event`). */
  detail: string;
  /** What it means to `watch`, when it can trigger a run. */
  trigger?: WatchTrigger;
}

// virsh's own words (tools/virsh-domain-event.c), printed with LC_ALL=C.
const LIFECYCLE: Record<string, readonly string[]> = {
  Defined: ['Added', 'Updated', 'Renamed', 'Snapshot', 'Unknown'],
  Undefined: ['Removed', 'Renamed', 'Unknown'],
  Started: ['Booted', 'Migrated', 'Restored', 'Snapshot', 'Event wakeup', 'Recreated', 'Unknown'],
  Suspended: ['Paused', 'Migrated', 'I/O Error', 'Watchdog', 'Restored', 'Snapshot', 'API error', 'Post-copy', 'Post-copy Error', 'Unknown'],
  Resumed: ['Unpaused', 'Migrated', 'Snapshot', 'Post-copy', 'Post-copy Error', 'Unknown'],
  Stopped: ['Shutdown', 'Destroyed', 'Crashed', 'Migrated', 'Saved', 'Failed', 'Snapshot', 'Daemon', 'Unknown'],
  Shutdown: ['Finished', 'Finished after guest request', 'Finished after host request', 'Unknown'],
  PMSuspended: ['Memory', 'Disk', 'Unknown'],
  Crashed: ['Panicked', 'Crashloaded', 'Unknown'],
  Unknown: ['Unknown'],
};

const AGENT_STATES = ['connected', 'disconnected', 'unknown'];
const AGENT_REASONS = ['unknown', 'domain started', 'channel event'];

/** The moments a guest clock is known to go wrong, or an agent becomes reachable. */
export function triggerOf(type: DomainEvent['type'], event: string, detail: string): WatchTrigger | undefined {
  if (type === 'agent-lifecycle') return event === 'connected' ? 'agent-connected' : undefined;
  if (detail === 'Migrated' || detail === 'Post-copy') return event === 'Resumed' || event === 'Started' ? 'migrated' : undefined;
  if (event === 'Started' && (detail === 'Restored' || detail === 'Snapshot')) return 'restored';
  if (event === 'Resumed' && detail === 'Snapshot') return 'restored';
  if (event === 'Resumed' && detail === 'Unpaused') return 'resumed';
  // Woken from guest suspend to RAM: its clock stood still like a paused one's.
  if (event === 'Started' && detail === 'Event wakeup') return 'resumed';
  if (event === 'Started' && detail === 'Booted') return 'started';
  return undefined;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const HEAD = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{3})([+-])(\d\d)(\d\d): event '(lifecycle|agent-lifecycle)' for domain '/;
// The name is whatever lies between the head and the last `': ` that a known tail follows: a
// name may hold quotes and `': `, but no tail below holds a quote, so the split is unambiguous.
const LIFECYCLE_TAIL = new RegExp(
  `^([\\s\\S]*)': (${Object.keys(LIFECYCLE).map(escape).join('|')}) (${[...new Set(Object.values(LIFECYCLE).flat())].map(escape).join('|')})` + '$',
);
const AGENT_TAIL = new RegExp(`^([\\s\\S]*)': state: '(${AGENT_STATES.join('|')})' reason: '(${AGENT_REASONS.map(escape).join('|')})'` + '$');

/**
 * Parses one line of `virsh event --all --loop --timestamp`; undefined for every other line
 * (other event types, their indented continuation lines, anything unexpected).
 */
export function parseEventLine(line: string): DomainEvent | undefined {
  const head = HEAD.exec(line);
  if (!head) return undefined;
  const [, y, mo, d, h, mi, s, ms, sign, zh, zm, type] = head;
  const tail = (type === 'lifecycle' ? LIFECYCLE_TAIL : AGENT_TAIL).exec(line.slice(head[0].length));
  if (!tail) return undefined;
  const [, domain, event, detail] = tail as unknown as [string, string, string, string];
  if (domain === '') return undefined;
  if (type === 'lifecycle' && !LIFECYCLE[event]!.includes(detail)) return undefined;
  const zone = (sign === '-' ? -1 : 1) * (Number(zh) * 60 + Number(zm)) * 60_000;
  const atMs = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(ms)) - zone;
  if (!Number.isFinite(atMs)) return undefined;
  const t = type as DomainEvent['type'];
  const trigger = triggerOf(t, event, detail);
  return { atMs, type: t, domain, event, detail, ...(trigger && { trigger }) };
}

/**
 * Splits a byte stream into lines without holding more than `maxLine` bytes of one: a longer
 * line (no event line is that long) is dropped whole, so a misbehaving stream cannot grow memory.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private dropping = false;
  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLine = 64 * 1024,
  ) {}

  write(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      this.push(chunk.subarray(start, nl));
      const line = this.dropping ? undefined : Buffer.concat(this.parts, this.size).toString('utf8');
      this.parts = [];
      this.size = 0;
      this.dropping = false;
      if (line !== undefined) this.onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
      start = nl + 1;
    }
    if (start < chunk.length) this.push(chunk.subarray(start));
  }

  private push(part: Buffer): void {
    if (this.dropping || part.length === 0) return;
    if (this.size + part.length > this.maxLine) {
      this.dropping = true;
      this.parts = [];
      this.size = 0;
      return;
    }
    // Copied: the chunk's buffer may be a slice of a larger pooled one.
    this.parts.push(Buffer.from(part));
    this.size += part.length;
  }
}
