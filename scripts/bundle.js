// Bundles the compiled CLI (dist/cli.js) and what it imports into dist/bundle/: a command loads
// a few files instead of ~300 modules (execa alone is 60), which is most of a run's fixed cost.
// The lazily imported commands stay chunks of their own. dist/bundle/ sits two levels below the
// package root like dist/<dir>/, so paths taken from import.meta.url resolve the same way.
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const root = fileURLToPath(new URL('../', import.meta.url));
const dir = fileURLToPath(new URL('../dist/bundle/', import.meta.url));
rmSync(dir, { recursive: true, force: true });
await build({
  cwd: root,
  input: { cli: 'dist/cli.js' },
  platform: 'node',
  logLevel: 'warn',
  output: { dir, format: 'esm', entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js', sourcemap: true },
});
console.log(`wrote ${dir}`);
