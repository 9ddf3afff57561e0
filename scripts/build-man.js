// Writes man/qga-play.1 from the command table (after tsc: it reads dist/). A unit test checks
// that the committed page is current.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderManPage } from '../dist/man-page.js';

const root = new URL('../', import.meta.url);
const { version } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
mkdirSync(new URL('man/', root), { recursive: true });
const out = fileURLToPath(new URL('man/qga-play.1', root));
writeFileSync(out, renderManPage(version));
console.log(`wrote ${out}`);
