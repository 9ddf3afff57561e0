import { Duplex } from 'node:stream';
import { abortError, UnreachableError } from '../errors.js';
import type { Connector } from './socket.js';

/** Quotes one word for the remote shell that ssh hands its command to. */
export function quoteForRemoteShell(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Reaches a unix socket on another host through `ssh HOST socat - UNIX-CONNECT:PATH`. The
 * stream ends only when ssh exits, with ssh's (or socat's) own words as the error. The child's
 * stdin is never closed while the transport lives: socat would half-close the socket, which
 * QEMU treats as a disconnect. (socat parses its address itself: a path with `'` or `,` in it
 * cannot be reached this way.)
 */
export function sshConnector(host: string, path: string, sshOptions: string[] = [], command = 'ssh'): Connector {
  return async (deadline, signal) => {
    if (signal?.aborted) throw abortError(signal);
    const remote = ['socat', '-', `UNIX-CONNECT:${path}`].map(quoteForRemoteShell).join(' ');
    // ConnectTimeout: a host that never answers is the step's timeout, not ssh's two minutes.
    const { execa } = await import('execa');
    // The import took a turn of the event loop: a cancel meanwhile starts nothing.
    if (signal?.aborted) throw abortError(signal);
    const connectSeconds = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
    const child = execa(command, ['-o', 'BatchMode=yes', '-o', `ConnectTimeout=${connectSeconds}`, ...sshOptions, '--', host, remote], {
      buffer: false,
      reject: false,
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    child.stdin!.on('error', () => undefined);
    const stream = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        if (child.stdin!.destroyed) callback();
        else child.stdin!.write(chunk, () => callback());
      },
      destroy(err, callback) {
        child.kill();
        callback(err);
      },
    });
    child.stdout!.on('data', (chunk: Buffer) => stream.push(chunk));
    void child.then((result) => {
      const words = stderr.trim().split('\n').filter(Boolean).at(-1);
      const why = words ?? `ssh exited with ${String(result.exitCode ?? result.signal)}`;
      stream.destroy(new UnreachableError(`${host}:${path} via ssh: ${why}`, 'SSH_FAILED'));
    });
    return stream;
  };
}
