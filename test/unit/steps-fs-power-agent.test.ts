import { describe, expect, test } from '@jest/globals';
import { UnreachableError } from '../../src/errors.js';
import { agentError, NO_REPLY, ok, playbook, runWith } from '../helpers/memory-transport.js';

describe('fsfreeze, fsthaw, fstrim, shutdown, reboot, set-password and agent step kinds', () => {
  test('fsfreeze with mountpoints uses the list command; fsthaw thaws; fstrim passes minimum', async () => {
    const args: unknown[] = [];
    const { result, log } = await runWith(playbook('  - fsfreeze: { mountpoints: [/] }\n  - fsthaw\n  - fstrim: { minimum: 4096 }\n', ['a']), (_vm, req) => {
      args.push(req.arguments);
      return ok(req.execute === 'guest-fstrim' ? { paths: [] } : 1);
    });
    expect(log).toEqual(['a guest-fsfreeze-freeze-list', 'a guest-fsfreeze-thaw', 'a guest-fstrim']);
    expect(args).toEqual([{ mountpoints: ['/'] }, undefined, { minimum: 4096 }]);
    expect(result.vms[0]!.steps.map((s) => s.result)).toEqual([{ frozen: 1 }, { thawed: 1 }, { trimmed: { paths: [] } }]);
  });

  test('shutdown without libvirt is confirmed by the agent going away', async () => {
    let down = false;
    const { result } = await runWith(playbook('  - shutdown\n', ['a']), (_vm, req) => {
      if (req.execute === 'guest-shutdown') {
        down = true;
        return NO_REPLY;
      }
      if (down) throw new UnreachableError('gone', 'AGENT_NOT_CONNECTED');
      return ok({});
    });
    expect(result.vms[0]!.steps[0]!).toMatchObject({ status: 'ok', result: { mode: 'powerdown', confirmedBy: 'agent loss' } });
  });

  test('reboot refused by the agent fails AGENT_ERROR', async () => {
    const { result } = await runWith(playbook('  - reboot\n', ['a']), () => agentError('GenericError', 'no'));
    expect(result.vms[0]!.steps[0]!.error).toMatchObject({ code: 'AGENT_ERROR' });
  });

  test('set-password sends the password base64-encoded and keeps only the user', async () => {
    const sent: unknown[] = [];
    const { result } = await runWith(playbook('  - set-password: { user: root, password: s3cret }\n', ['a']), (_vm, req) => {
      sent.push(req.arguments);
      return ok({});
    });
    expect(sent).toEqual([{ username: 'root', password: Buffer.from('s3cret').toString('base64'), crypted: false }]);
    expect(result.vms[0]!.steps[0]!.result).toEqual({ user: 'root' });
  });

  test('agent keeps the reply as sent; an error reply fails AGENT_ERROR with the reply', async () => {
    const good = await runWith(playbook('  - agent: { execute: guest-get-host-name }\n', ['a']), () => ok({ 'host-name': 'h' }));
    expect(good.result.vms[0]!.steps[0]!).toMatchObject({ name: 'guest-get-host-name', status: 'ok', result: { return: { 'host-name': 'h' } } });
    const bad = await runWith(playbook('  - agent: { execute: guest-get-host-name }\n', ['a']), () => agentError('GenericError', 'nope'));
    expect(bad.result.vms[0]!.steps[0]!).toMatchObject({ status: 'failed', error: { code: 'AGENT_ERROR' }, result: { error: { desc: 'nope' } } });
  });
});
