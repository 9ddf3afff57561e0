import { readFile } from 'node:fs/promises';
import { notRetryable, StepFailedError } from '../../errors.js';
import { withHandle } from '../file-handle.js';
import { defineKind, optional } from '../kind.js';

const MiB = 1024 * 1024;
// Through virsh the request is one argv string, and Linux caps each at 128 KiB.
const WRITE_CHUNK_VIRSH = 64 * 1024;
const WRITE_CHUNK_SOCKET = MiB;

/** Writes a local file or inline content to a guest path, continuing short writes. */
export const fileWrite = defineKind({
  kind: 'file-write',
  schema: {
    description: 'Write a guest file from a local file (`from`) or from `content`: exactly one of the two. Result: {path, bytes, calls}.',
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: { description: 'Path in the guest.', type: 'string', minLength: 1 },
      from: { description: 'Local file to send, relative to the playbook.', type: 'string', minLength: 1 },
      content: { description: 'Text to write.', type: 'string' },
      mode: { description: 'Default: overwrite.', enum: ['overwrite', 'append'], default: 'overwrite' },
    },
  },
  normalise: (w, ctx): { path: string; from?: string; content?: string; mode: 'overwrite' | 'append' } => ({
    path: String(w.path),
    ...optional('from', w.from, (from) => ctx.local(String(from))),
    ...optional('content', w.content, String),
    mode: (w.mode as 'overwrite' | 'append' | undefined) ?? 'overwrite',
  }),
  defaultName: (params) => `file-write ${params.path}`,
  // The bytes come from exactly one place.
  rule(ctx) {
    if (!ctx.params) return;
    const hasFrom = ctx.params.from !== undefined;
    const hasContent = ctx.params.content !== undefined;
    if (hasFrom && hasContent) ctx.error([...ctx.at, 'content'], 'file-write takes `from` (a local file) or `content` (text), not both', 'key');
    if (!hasFrom && !hasContent) ctx.error(ctx.at, 'file-write needs `from` (a local file) or `content` (text)');
  },
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
