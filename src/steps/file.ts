import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import { errorMessage, notRetryable, StepFailedError } from '../errors.js';
import { call } from '../transport/transport.js';
import { defineStep, type StepContext } from './context.js';

const MiB = 1024 * 1024;
// libvirt refuses replies over 10 MiB and strings over 4 MiB, and a small guest's agent can be
// OOM-killed by multi-MiB reads: 1 MiB per call is safe everywhere.
const READ_CHUNK = MiB;
// Through virsh the request is one argv string, and Linux caps each at 128 KiB.
const WRITE_CHUNK_VIRSH = 64 * 1024;
const WRITE_CHUNK_SOCKET = MiB;
// Closing a handle must happen even after the step's deadline: give it its own small budget.
const CLOSE_TIMEOUT_MS = 5000;

async function withHandle<T>(ctx: StepContext, path: string, mode: string, use: (handle: number) => Promise<T>): Promise<T> {
  const handle = await ctx.call('guest-file-open', { path, mode });
  try {
    return await use(handle);
  } finally {
    // A handle lives until closed or the agent restarts: always close, also on errors.
    await call(ctx.transport, 'guest-file-close', { handle }, { timeoutMs: CLOSE_TIMEOUT_MS }).catch(() => undefined);
  }
}

/**
 * The local file for one VM: `{vm}` becomes the VM's name made safe as one path component
 * (a guest's name is not trusted to be a path).
 */
export function destinationFor(to: string, vm: string): string {
  const safe = vm.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, (dots) => '_'.repeat(dots.length)) || '_';
  return to.replaceAll('{vm}', safe);
}

/** Reads a guest file in chunks, into a local file or into the report. */
export const fileRead = defineStep({
  kind: 'file-read',
  commands: () => ['guest-file-open', 'guest-file-read', 'guest-file-close'],
  async run(params, ctx) {
    const chunks: Buffer[] = [];
    let bytes = 0;
    await withHandle(ctx, params.path, 'r', async (handle) => {
      for (;;) {
        const r = await ctx.call('guest-file-read', { handle, count: READ_CHUNK });
        const data = Buffer.from(r['buf-b64'], 'base64');
        bytes += data.length;
        if (bytes > params.maxBytes) {
          throw new StepFailedError(`${params.path} is larger than max-size (${params.maxBytes} bytes)`, 'FILE_TOO_LARGE', { result: { path: params.path, bytes } });
        }
        chunks.push(data);
        if (r.eof || data.length === 0) break;
      }
    });
    const content = Buffer.concat(chunks, bytes);
    if (params.to) {
      const to = destinationFor(params.to, ctx.vm);
      try {
        await mkdir(dirname(to), { recursive: true });
        await writeFileAtomic(to, content);
      } catch (err) {
        // Name the file the user asked for, not the temporary one beside it.
        throw notRetryable(new StepFailedError(`cannot write ${to}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`, 'LOCAL_WRITE_FAILED', { cause: err, result: { path: params.path, bytes, to } }));
      }
      return { path: params.path, bytes, to };
    }
    const text = content.toString('utf8');
    return Buffer.from(text, 'utf8').equals(content) ? { path: params.path, bytes, content: text } : { path: params.path, bytes, contentBase64: content.toString('base64') };
  },
});

/** Writes a local file or inline content to a guest path, continuing short writes. */
export const fileWrite = defineStep({
  kind: 'file-write',
  commands: () => ['guest-file-open', 'guest-file-write', 'guest-file-flush', 'guest-file-close'],
  async run(params, ctx) {
    const data = params.from !== undefined ? await readFile(params.from) : Buffer.from(params.content ?? '', 'utf8');
    const chunkSize = ctx.transport.kind === 'virsh' ? WRITE_CHUNK_VIRSH : WRITE_CHUNK_SOCKET;
    let written = 0;
    let calls = 0;
    await withHandle(ctx, params.path, params.mode === 'append' ? 'a' : 'w', async (handle) => {
      try {
        await writeAll(handle);
      } catch (err) {
        // Appending again after a partial write would duplicate data; overwriting starts afresh.
        throw params.mode === 'append' && written > 0 ? notRetryable(err) : err;
      }
    });
    return { path: params.path, bytes: written, calls };

    async function writeAll(handle: number): Promise<void> {
      while (written < data.length) {
        const chunk = data.subarray(written, Math.min(written + chunkSize, data.length));
        const r = await ctx.call('guest-file-write', { handle, 'buf-b64': chunk.toString('base64') });
        calls++;
        if (r.count <= 0) throw new StepFailedError(`writing ${params.path} made no progress after ${written} bytes`, 'SHORT_WRITE', { result: { path: params.path, bytes: written } });
        written += Math.min(r.count, chunk.length);
      }
      if (data.length > 0) await ctx.call('guest-file-flush', { handle });
    }
  },
});
