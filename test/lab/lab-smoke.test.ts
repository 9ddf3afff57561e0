/**
 * The lab itself works: every lab guest answers guest-ping on org.qemu.guest_agent.0 through
 * virsh and on org.qemu.guest_agent.1 through its unix socket (socat), independently of
 * qga-play's own transports.
 */
import { describe, expect, test } from '@jest/globals';
import { execa } from 'execa';
import { channelSocket, LAB_GUESTS, LAB_URI, labDescribe } from '../helpers/lab.js';

const labSuite = labDescribe(describe);

labSuite('lab smoke: every guest answers on both channels', () => {
  test.each([...LAB_GUESTS])('%s answers guest-ping on .0 through virsh', async (guest) => {
    const r = await execa('virsh', ['-c', LAB_URI, 'qemu-agent-command', guest, '{"execute":"guest-ping"}'], {
      timeout: 30_000,
      stdin: 'ignore',
    });
    expect(JSON.parse(r.stdout.trim())).toEqual({ return: {} });
  });

  test.each([...LAB_GUESTS])('%s answers guest-ping on .1 through socat', async (guest) => {
    // 0xFF + guest-sync-delimited first: whatever an earlier client left in the channel is
    // skipped; then the ping reply is the line after {"return": id}. shut-none: no half-close
    // (QEMU would treat it as a disconnect and drop the request).
    const id = Math.floor(Math.random() * 2 ** 31);
    const input = Buffer.concat([
      Buffer.from([0xff]),
      Buffer.from(`{"execute":"guest-sync-delimited","arguments":{"id":${id}}}{"execute":"guest-ping"}`),
    ]);
    const r = await execa('socat', ['-t2', '-', `UNIX-CONNECT:${channelSocket(guest, 1)},shut-none`], {
      input,
      timeout: 30_000,
      encoding: 'latin1',
    });
    const afterSync = r.stdout.slice(r.stdout.lastIndexOf('\xff') + 1);
    const lines = afterSync.split('\n').filter((l) => l.trim() !== '');
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([{ return: id }, { return: {} }]);
  });
});
