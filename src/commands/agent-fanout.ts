import pLimit from 'p-limit';
import picomatch from 'picomatch';
import { CanceledError, errorMessage, QgaPlayError, UsageError } from '../errors.js';
import { EXIT, errorOutcome } from '../exit-codes.js';
import { listRunningDomains } from '../inventory/libvirt.js';
import { TransportProvider } from '../inventory/provider.js';
import type { VirshMode } from '../inventory/route.js';
import type { QgaRequest } from '../qga/protocol.js';
import { printable } from '../report/format.js';
import { parsePositiveInt, type Io } from './common.js';

/** True when a DOMAIN argument names several VMs: a glob, a comma list or a `!exclusion`. */
export function isPattern(text: string): boolean {
  return /[*?[\]{},!]/.test(text);
}

/** `web-*,db-1,!web-9` as Ansible's --limit reads it: names and globs, `!` excludes. */
export function patternMatcher(pattern: string): (name: string) => boolean {
  const parts = pattern.split(',').map((p) => p.trim()).filter(Boolean);
  const include = parts.filter((p) => !p.startsWith('!'));
  const exclude = parts.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
  const inc = include.length > 0 ? picomatch(include) : () => true;
  const exc = exclude.length > 0 ? picomatch(exclude) : () => false;
  return (name) => inc(name) && !exc(name);
}

/** One VM's line: the agent's reply, or why there is none. */
type Line = { vm: string; reply: unknown } | { vm: string; error: { code: string; message: string } };

export interface FanOutOptions {
  uri: string;
  pattern: string;
  request: QgaRequest;
  channel?: string;
  maxReplyBytes?: number;
  virshMode?: VirshMode;
  timeoutMs: number;
  concurrency?: number;
}

/**
 * Sends one request to every running domain `pattern` matches, `concurrency` at a time, and
 * prints one JSON line per VM as each answers. Exit status as for `run`: 1 when any agent
 * answered with an error or failed, else 3 when any was unreachable, 130 when interrupted.
 */
export async function fanOut(options: FanOutOptions, io: Io, signal: AbortSignal): Promise<number> {
  const concurrency = options.concurrency === undefined ? 8 : parsePositiveInt(options.concurrency, 'concurrency');
  const provider = new TransportProvider({ maxReplyBytes: options.maxReplyBytes, virshMode: options.virshMode }, concurrency);
  try {
    return await fanOutWith(provider, concurrency, options, io, signal);
  } finally {
    await provider.close();
  }
}

async function fanOutWith(provider: TransportProvider, concurrency: number, options: FanOutOptions, io: Io, signal: AbortSignal): Promise<number> {
  const matches = patternMatcher(options.pattern);
  const vms = (await listRunningDomains(options.uri, provider.lookup(options.timeoutMs, signal))).filter(matches);
  if (vms.length === 0) throw new UsageError(`${JSON.stringify(options.pattern)} matches no running domain on ${options.uri}`);
  let failed = false;
  let unreachable = false;
  const print = (line: Line) => io.stdout(`${JSON.stringify(line)}\n`);
  const one = async (vm: string): Promise<void> => {
    if (signal.aborted) return;
    try {
      const transport = await provider.open({ uri: options.uri, domain: vm, channel: options.channel }, { timeoutMs: options.timeoutMs, signal });
      const raw = await transport.request(options.request, { timeoutMs: options.timeoutMs, signal });
      print({ vm, reply: raw === null ? null : raw.reply });
      if (raw !== null && 'error' in raw.reply) {
        failed = true;
        io.stderr(`qga-play: ${printable(vm)}: agent error ${printable(raw.reply.error.class)}: ${printable(raw.reply.error.desc)}\n`);
      }
    } catch (err) {
      if (err instanceof CanceledError) return;
      const code = err instanceof QgaPlayError ? err.code : 'INTERNAL';
      print({ vm, error: { code, message: errorMessage(err) } });
      io.stderr(`qga-play: ${printable(vm)}: ${printable(errorMessage(err))}\n`);
      // As for run: unreachable and timed-out VMs make 3, anything else that went wrong 1.
      if (errorOutcome(err).exit === EXIT.unreachable) unreachable = true;
      else failed = true;
    }
  };
  const limit = pLimit(concurrency);
  await Promise.all(vms.map((vm) => limit(() => one(vm))));
  if (signal.aborted) return EXIT.interrupted;
  return failed ? EXIT.failed : unreachable ? EXIT.unreachable : EXIT.ok;
}
