import { call } from '../transport/transport.js';
import type { StepContext } from './context.js';

// Closing a handle must happen even after the step's deadline: give it its own small budget.
const CLOSE_TIMEOUT_MS = 5000;

/** Opens a guest file, hands its handle to `use`, and always closes it (file-read, file-write). */
export async function withHandle<T>(ctx: StepContext, path: string, mode: string, use: (handle: number) => Promise<T>): Promise<T> {
  const handle = await ctx.call('guest-file-open', { path, mode });
  try {
    return await use(handle);
  } finally {
    // A handle lives until closed or the agent restarts: always close, also on errors.
    await call(ctx.transport, 'guest-file-close', { handle }, { timeoutMs: CLOSE_TIMEOUT_MS }).catch(() => undefined);
  }
}
