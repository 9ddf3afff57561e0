import type { GuestNetworkInterface } from '../../qga/agent-commands.js';
import { defineKind, noParams, none } from '../kind.js';

function summariseInterface(i: GuestNetworkInterface) {
  const addresses = (i['ip-addresses'] ?? []).map((a) => `${a['ip-address']}/${a.prefix}`);
  return { name: i.name, mac: i['hardware-address'], addresses };
}

/** guest-network-get-interfaces, reshaped to names, MACs and CIDR addresses. */
export const network = defineKind({
  kind: 'network',
  schema: noParams('guest-network-get-interfaces: interfaces and addresses. Result (reshaped): {interfaces: [{name, mac, addresses: ["10.0.0.5/24", ...]}]}.'),
  normalise: none,
  commands: () => ['guest-network-get-interfaces'],
  async run(_params, ctx) {
    const interfaces = await ctx.call('guest-network-get-interfaces', undefined);
    return { interfaces: interfaces.map(summariseInterface) };
  },
});
