import { ProtocolError } from '../errors.js';
import type { GuestNetworkInterface } from '../qga/commands.js';
import { defineStep } from './context.js';

const none = () => [];

export const ping = defineStep({
  kind: 'ping',
  commands: () => ['guest-ping'],
  async run(_params, ctx) {
    const started = performance.now();
    await ctx.call('guest-ping', undefined);
    return { rttMs: round(performance.now() - started) };
  },
});

export const info = defineStep({
  kind: 'info',
  commands: none,
  async run(_params, ctx) {
    const result = await ctx.call('guest-info', undefined);
    if (!Array.isArray(result?.supported_commands)) throw new ProtocolError(`guest-info reply has no supported_commands list: ${JSON.stringify(result).slice(0, 200)}`);
    ctx.facts.info = result;
    const disabled = result.supported_commands.filter((c) => !c.enabled).map((c) => c.name).sort();
    return { version: result.version, commands: result.supported_commands.length, disabled };
  },
});

export const network = defineStep({
  kind: 'network',
  commands: () => ['guest-network-get-interfaces'],
  async run(_params, ctx) {
    const interfaces = await ctx.call('guest-network-get-interfaces', undefined);
    return { interfaces: interfaces.map(summariseInterface) };
  },
});

function summariseInterface(i: GuestNetworkInterface) {
  const addresses = (i['ip-addresses'] ?? []).map((a) => `${a['ip-address']}/${a.prefix}`);
  return { name: i.name, mac: i['hardware-address'], addresses };
}

export const osinfo = defineStep({
  kind: 'osinfo',
  commands: () => ['guest-get-osinfo'],
  run: (_params, ctx) => ctx.call('guest-get-osinfo', undefined),
});

export const hostname = defineStep({
  kind: 'hostname',
  commands: () => ['guest-get-host-name'],
  async run(_params, ctx) {
    return { hostname: (await ctx.call('guest-get-host-name', undefined))['host-name'] };
  },
});

export const users = defineStep({
  kind: 'users',
  commands: () => ['guest-get-users'],
  async run(_params, ctx) {
    return { users: await ctx.call('guest-get-users', undefined) };
  },
});

export const timezone = defineStep({
  kind: 'timezone',
  commands: () => ['guest-get-timezone'],
  run: (_params, ctx) => ctx.call('guest-get-timezone', undefined),
});

export const fsinfo = defineStep({
  kind: 'fsinfo',
  commands: () => ['guest-get-fsinfo'],
  async run(_params, ctx) {
    return { filesystems: await ctx.call('guest-get-fsinfo', undefined) };
  },
});

export const disks = defineStep({
  kind: 'disks',
  commands: () => ['guest-get-disks'],
  async run(_params, ctx) {
    return { disks: await ctx.call('guest-get-disks', undefined) };
  },
});

export function round(ms: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(ms * f) / f;
}
