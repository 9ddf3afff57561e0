import { readdirSync } from 'node:fs';
import { escapeLabelValue } from '../report/metrics.js';

/** Upper bounds of the event-to-corrected-clock histogram, seconds. */
export const DELAY_BUCKETS = [0.25, 0.5, 1, 1.5, 2, 5, 10, 30];

/** Counters and gauges of a running watch; label sets are bounded (URIs and fixed words). */
export class WatchMetrics {
  private readonly events = new Map<string, number>();
  private readonly runs = new Map<string, number>();
  private readonly streamUp = new Map<string, number>();
  private readonly streamStarts = new Map<string, number>();
  private readonly buckets = DELAY_BUCKETS.map(() => 0);
  private delayCount = 0;
  private delaySum = 0;
  coalesced = 0;
  passes = 0;
  inFlight = 0;

  constructor(private readonly playbook: () => string) {}

  event(uri: string, trigger: string): void {
    bump(this.events, JSON.stringify([uri, trigger]));
  }

  run(reason: string, status: string): void {
    bump(this.runs, JSON.stringify([reason, status]));
  }

  stream(uri: string, up: boolean, starts: number): void {
    this.streamUp.set(uri, up ? 1 : 0);
    this.streamStarts.set(uri, starts);
  }

  forgetStream(uri: string): void {
    this.streamUp.delete(uri);
    this.streamStarts.delete(uri);
  }

  delay(ms: number): void {
    const s = ms / 1000;
    DELAY_BUCKETS.forEach((le, i) => {
      if (s <= le) this.buckets[i]!++;
    });
    this.delayCount++;
    this.delaySum += s;
  }

  /** Prometheus text exposition of the watch's own series. */
  render(): string {
    const playbook = this.playbook();
    const out: string[] = [];
    const family = (name: string, help: string, type: 'gauge' | 'counter' | 'histogram', lines: string[]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
    };
    const l = (pairs: Record<string, string>) =>
      `{${Object.entries({ playbook, ...pairs })
        .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
        .join(',')}}`;
    const pairs = (m: Map<string, number>, a: string, b: string, name: string) =>
      [...m].map(([key, n]) => {
        const [x, y] = JSON.parse(key) as [string, string];
        return `${name}${l({ [a]: x, [b]: y })} ${n}`;
      });
    family('qga_play_watch_events_total', 'libvirt events seen for targeted domains, by trigger (ignored: no trigger).', 'counter', pairs(this.events, 'connect', 'trigger', 'qga_play_watch_events_total'));
    family('qga_play_watch_runs_total', 'Runs of the steps on one VM, by what caused them and how they ended.', 'counter', pairs(this.runs, 'reason', 'status', 'qga_play_watch_runs_total'));
    family('qga_play_watch_coalesced_total', 'Requests folded into a run already settling, waiting or running.', 'counter', [`qga_play_watch_coalesced_total${l({})} ${this.coalesced}`]);
    family('qga_play_watch_full_passes_total', 'Runs of the whole playbook (start, every:, after a reconnect).', 'counter', [`qga_play_watch_full_passes_total${l({})} ${this.passes}`]);
    family('qga_play_watch_runs_in_flight', 'VMs being run now.', 'gauge', [`qga_play_watch_runs_in_flight${l({})} ${this.inFlight}`]);
    family('qga_play_watch_stream_up', 'Whether the event stream of a libvirt connection is up.', 'gauge', [...this.streamUp].map(([uri, v]) => `qga_play_watch_stream_up${l({ connect: uri })} ${v}`));
    family('qga_play_watch_stream_starts_total', 'Event streams started per connection (the first and every reconnect).', 'counter', [...this.streamStarts].map(([uri, v]) => `qga_play_watch_stream_starts_total${l({ connect: uri })} ${v}`));
    family('qga_play_watch_event_to_corrected_seconds', 'From the libvirt event to the guest clock proven corrected (time-sync that set the clock).', 'histogram', [
      ...DELAY_BUCKETS.map((le, i) => `qga_play_watch_event_to_corrected_seconds_bucket${l({ le: String(le) })} ${this.buckets[i]}`),
      `qga_play_watch_event_to_corrected_seconds_bucket${l({ le: '+Inf' })} ${this.delayCount}`,
      `qga_play_watch_event_to_corrected_seconds_sum${l({})} ${this.delaySum}`,
      `qga_play_watch_event_to_corrected_seconds_count${l({})} ${this.delayCount}`,
    ]);
    family('qga_play_watch_resident_memory_bytes', 'Resident memory of the watch process.', 'gauge', [`qga_play_watch_resident_memory_bytes${l({})} ${process.memoryUsage().rss}`]);
    const fds = openFds();
    if (fds !== undefined) family('qga_play_watch_open_fds', 'Open file descriptors of the watch process.', 'gauge', [`qga_play_watch_open_fds${l({})} ${fds}`]);
    return `${out.join('\n')}\n`;
  }
}

function bump(m: Map<string, number>, key: string): void {
  m.set(key, (m.get(key) ?? 0) + 1);
}

/** Open file descriptors of this process (Linux /proc), undefined elsewhere. */
export function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}
