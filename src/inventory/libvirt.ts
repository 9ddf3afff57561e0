import { unreachableFrom } from '../libvirt/virsh-cli.js';
import { virshCall, type LibvirtCallOptions } from './channels.js';

/** A domain as `virsh list` shows it. */
export interface DomainEntry {
  name: string;
  state: string;
}

/** Names of the running domains (`virsh list --name`). */
export async function listRunningDomains(uri: string, options: LibvirtCallOptions): Promise<string[]> {
  const result = await virshCall(['list', '--name'], uri, uri, options);
  if (result.exitCode !== 0) throw unreachableFrom(result, uri);
  return result.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}

/** Every domain with its state (`virsh list --all`). */
export async function listAllDomains(uri: string, options: LibvirtCallOptions): Promise<DomainEntry[]> {
  const result = await virshCall(['list', '--all'], uri, uri, options);
  if (result.exitCode !== 0) throw unreachableFrom(result, uri);
  const entries: DomainEntry[] = [];
  for (const line of result.stdout.split('\n').slice(2)) {
    const m = /^\s*(\S+)\s+(\S+)\s+(.+?)\s*$/.exec(line);
    if (m) entries.push({ name: m[2]!, state: m[3]! });
  }
  return entries;
}

/** The domain's state as `virsh domstate` prints it: `running`, `shut off`, `paused`... */
export async function domainState(uri: string, domain: string, options: LibvirtCallOptions): Promise<string> {
  const what = `${domain} on ${uri}`;
  const result = await virshCall(['domstate', domain], what, uri, options);
  if (result.exitCode !== 0) throw unreachableFrom(result, what);
  return result.stdout.trim();
}
