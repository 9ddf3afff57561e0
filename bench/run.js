// npm run bench (after npm run build): prints ratios against baselines run in this process.
import { benchSocket } from './socket.js';
import { benchFleet } from './fleet.js';
import { benchStartup } from './startup.js';
import { benchFleetFloor } from './fleet-floor.js';

const only = process.argv[2];
if (!only || only === 'startup') benchStartup();
if (!only || only === 'socket') await benchSocket();
if (!only || only === 'fleet') await benchFleet();
if (!only || only === 'floor') await benchFleetFloor();
