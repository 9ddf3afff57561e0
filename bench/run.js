// npm run bench [-- socket|fleet|virsh] (after npm run build): prints ratios against baselines
// run in the same process (virsh needs the lab: npm run lab -- up 8, and sshd for its ssh rows).
import { benchSocket } from './socket.js';
import { benchFleet } from './fleet.js';
import { benchVirsh } from './virsh.js';
import { benchStartup } from './startup.js';
import { benchFleetFloor } from './fleet-floor.js';
import { benchDecoder } from './decoder.js';
import { benchWatch } from './watch.js';

const only = process.argv[2];
if (!only || only === 'startup') benchStartup();
if (!only || only === 'socket') await benchSocket();
if (!only || only === 'fleet') await benchFleet();
if (only === 'virsh') await benchVirsh();
if (!only || only === 'floor') await benchFleetFloor();
if (!only || only === 'decoder') await benchDecoder();
if (only === 'watch') await benchWatch();
