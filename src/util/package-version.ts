import { readFileSync } from 'node:fs';

/** The package's version, read without loading anything else. */
export function packageVersion(): string {
  // Two levels up from dist/util/ and from the bundle's dist/bundle/ alike: the package root.
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}
