import { describe, expect, test } from '@jest/globals';
import { ok, playbook, runWith } from '../helpers/memory-transport.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('exec step kind', () => {
  test('sends path, args, env and stdin; polls guest-exec-status until exited; decodes the output', async () => {
    const sent: unknown[] = [];
    let polls = 0;
    const { result, log } = await runWith(playbook('  - exec: { path: /bin/echo, args: [hi, 2], env: { A: b }, stdin: in }\n', ['a']), (_vm, req) => {
      if (req.execute === 'guest-exec') {
        sent.push(req.arguments);
        return ok({ pid: 42 });
      }
      polls++;
      return polls < 3 ? ok({ exited: false }) : ok({ exited: true, exitcode: 0, 'out-data': b64('hi 2\n'), 'err-data': '' });
    });
    expect(sent).toEqual([{ path: '/bin/echo', arg: ['hi', '2'], env: ['A=b'], 'input-data': b64('in'), 'capture-output': true }]);
    expect(log).toEqual(['a guest-exec', 'a guest-exec-status', 'a guest-exec-status', 'a guest-exec-status']);
    const step = result.vms[0]!.steps[0]!;
    expect(step.status).toBe('ok');
    expect(step.result).toMatchObject({ pid: 42, exitCode: 0, stdout: 'hi 2\n', stderr: '', truncated: false });
  });

  test('a non-zero exit code fails the step by its default expectation', async () => {
    const { result } = await runWith(playbook('  - exec: { path: /bin/false }\n', ['a']), (_vm, req) =>
      req.execute === 'guest-exec' ? ok({ pid: 1 }) : ok({ exited: true, exitcode: 1 }),
    );
    expect(result.vms[0]!.steps[0]!).toMatchObject({ status: 'failed', result: { exitCode: 1 } });
  });

  test('a guest-exec reply without a pid is a protocol error, never retried', async () => {
    const { result, log } = await runWith(playbook('  - exec: { path: /bin/true }\n    retries: 2\n    retry-delay: 1ms\n', ['a']), () => ok({}));
    expect(log).toEqual(['a guest-exec']);
    expect(result.vms[0]!.steps[0]!.error?.message).toBe('guest-exec answered a reply qga-play cannot read: return has no pid');
  });
});
