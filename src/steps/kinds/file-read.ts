import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { errorMessage, notRetryable, StepFailedError } from '../../errors.js';
import { parseSize } from '../../playbook/duration.js';
import { withHandle } from '../file-handle.js';
import { defineKind, optional } from '../kind.js';

const MiB = 1024 * 1024;
const DEFAULT_MAX_BYTES = 10 * MiB;
// libvirt refuses replies over 10 MiB and strings over 4 MiB, and a small guest's agent can be
// OOM-killed by multi-MiB reads: 1 MiB per call is safe everywhere.
const READ_CHUNK = MiB;

/**
 * The local file for one VM: `{vm}` becomes the VM's name made safe as one path component
 * (a guest's name is not trusted to be a path).
 */
export function destinationFor(to: string, vm: string): string {
  const safe = vm.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, (dots) => '_'.repeat(dots.length)) || '_';
  return to.replaceAll('{vm}', safe);
}

function suggestVmPath(to: string): string {
  const slash = to.lastIndexOf('/');
  return `${to.slice(0, slash + 1)}{vm}/${to.slice(slash + 1)}`;
}

/** Reads a guest file in chunks, into a local file or into the report. */
export const fileRead = defineKind({
  kind: 'file-read',
  schema: {
    description: 'Read a guest file into a local file or into the report. Result: {path, bytes, to} with `to`; else {path, bytes, content} (UTF-8 text) or {path, bytes, contentBase64}.',
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: { description: 'Path in the guest.', type: 'string', minLength: 1 },
      to: {
        description: 'Local file to write, relative to the playbook; `{vm}` becomes the VM name (required when the targets can name several VMs); missing directories are created. Default: the content goes into the report.',
        type: 'string',
        minLength: 1,
      },
      'max-size': { description: 'Fail when the file is larger. Default: 10MiB.', $ref: '#/definitions/size', default: '10MiB' },
    },
  },
  normalise: (w, ctx): { path: string; to?: string; maxBytes: number } => ({
    path: String(w.path),
    ...optional('to', w.to, (to) => ctx.local(String(to))),
    maxBytes: w['max-size'] === undefined ? DEFAULT_MAX_BYTES : (parseSize(w['max-size'] as string | number) ?? DEFAULT_MAX_BYTES),
  }),
  defaultName: (params) => `file-read ${params.path}`,
  // A `to:` shared by many VMs would hold only the last one's file: it needs `{vm}`.
  rule(ctx) {
    const to = ctx.params?.to;
    if (!ctx.manyVms || typeof to !== 'string' || to.includes('{vm}')) return;
    ctx.error(
      [...ctx.at, 'to'],
      `\`to: ${to}\` is one file for every VM of the targets: each VM would overwrite the last; put \`{vm}\` in it (e.g. \`${suggestVmPath(to)}\`)`,
    );
  },
  commands: () => ['guest-file-open', 'guest-file-read', 'guest-file-close'],
  async run(params, ctx): Promise<{ path: string; bytes: number; to?: string; content?: string; contentBase64?: string }> {
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
