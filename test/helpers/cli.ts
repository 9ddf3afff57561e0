import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type Options } from 'execa';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FAKE_BIN = path.join(ROOT, 'fixtures/bin');
export const FAKE_VIRSH = path.join(FAKE_BIN, 'virsh');

/** Runs the built CLI (npm test builds before jest) as a real process. */
export async function runCli(args: string[], options: Options & { fakeVirsh?: boolean } = {}) {
  const { fakeVirsh, ...rest } = options;
  const env = { ...process.env, ...(rest.env ?? {}) } as Record<string, string>;
  if (fakeVirsh) env.PATH = `${FAKE_BIN}:${env.PATH ?? ''}`;
  const result = await execa(process.execPath, [path.join(ROOT, 'bin/qga-play.js'), ...args], { ...rest, env, reject: false, stripFinalNewline: false });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}
