import { describe, expect, test } from '@jest/globals';
import { agentError, ok, playbook, runWith } from '../helpers/memory-transport.js';

describe('file-read and file-write step kinds', () => {
  test('file-read reads in chunks until eof and closes its handle', async () => {
    const chunks = ['hel', 'lo'];
    const { result, log } = await runWith(playbook('  - file-read: { path: /etc/x }\n', ['a']), (_vm, req) => {
      if (req.execute === 'guest-file-open') return ok(7);
      if (req.execute === 'guest-file-read') {
        const c = chunks.shift()!;
        return ok({ count: c.length, 'buf-b64': Buffer.from(c).toString('base64'), eof: chunks.length === 0 });
      }
      return ok({});
    });
    expect(log).toEqual(['a guest-file-open', 'a guest-file-read', 'a guest-file-read', 'a guest-file-close']);
    expect(result.vms[0]!.steps[0]!.result).toEqual({ path: '/etc/x', bytes: 5, content: 'hello' });
  });

  test('file-read over max-size fails FILE_TOO_LARGE and still closes', async () => {
    const { result, log } = await runWith(playbook('  - file-read: { path: /x, max-size: 4 }\n', ['a']), (_vm, req) =>
      req.execute === 'guest-file-read' ? ok({ count: 5, 'buf-b64': Buffer.from('12345').toString('base64'), eof: true }) : ok(1),
    );
    expect(result.vms[0]!.steps[0]!.error?.code).toBe('FILE_TOO_LARGE');
    expect(log[log.length - 1]).toBe('a guest-file-close');
  });

  test('file-write writes the content, flushes and closes', async () => {
    const written: string[] = [];
    const { result, log } = await runWith(playbook('  - file-write: { path: /tmp/y, content: abc }\n', ['a']), (_vm, req) => {
      if (req.execute === 'guest-file-write') {
        written.push(Buffer.from(String(req.arguments!['buf-b64']), 'base64').toString());
        return ok({ count: 3, eof: false });
      }
      return req.execute === 'guest-file-open' ? ok(3) : ok({});
    });
    expect(written).toEqual(['abc']);
    expect(log).toEqual(['a guest-file-open', 'a guest-file-write', 'a guest-file-flush', 'a guest-file-close']);
    expect(result.vms[0]!.steps[0]!.result).toEqual({ path: '/tmp/y', bytes: 3, calls: 1 });
  });

  test('a write that makes no progress fails SHORT_WRITE', async () => {
    const { result } = await runWith(playbook('  - file-write: { path: /tmp/y, content: abc }\n', ['a']), (_vm, req) =>
      req.execute === 'guest-file-write' ? ok({ count: 0, eof: false }) : req.execute === 'guest-file-open' ? ok(3) : agentError('GenericError', 'x'),
    );
    expect(result.vms[0]!.steps[0]!.error?.code).toBe('SHORT_WRITE');
  });
});
