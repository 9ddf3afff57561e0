// npm run bench (after npm run build): prints ratios against baselines run in this process.
import { benchSocket } from './socket.js';
import { benchFleet } from './fleet.js';
import { benchWatch } from './watch.js';

const only = process.argv[2];
if (!only || only === 'socket') await benchSocket();
if (!only || only === 'fleet') await benchFleet();
if (only === 'watch') await benchWatch();
