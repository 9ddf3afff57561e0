import { Duplex } from 'node:stream';
import { execa } from 'execa';
import { abortError, UnreachableError } from '../errors.js';
import type { Connector } from './socket.js';

/** Quotes one word for the remote shell that ssh hands its command to. */
export function quoteForRemoteShell(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Reaches a unix socket on another host through `ssh HOST socat - UNIX-CONNECT:PATH`. The
 * child's stdin is never closed while the transport lives: socat would half-close the socket,
 * which QEMU treats as a disconnect.
 */
export function sshConnector(host: string, path: string, sshOptions: string[] = []): Connector {
  return async (_deadline, signal) => {
    if (signal?.aborted) throw abortError(signal);
    const remote = ['socat', '-', `UNIX-CONNECT:${path}`].map(quoteForRemoteShell).join(' ');
    const child = execa('ssh', ['-o', 'BatchMode=yes', ...sshOptions, '--', host, remote], {
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
    const stream = Duplex.from({ readable: child.stdout!, writable: child.stdin! });
    void child.then((result) => {
      const why = stderr.trim() || `ssh exited with ${String(result.exitCode ?? result.signal)}`;
      stream.destroy(new UnreachableError(`${host}:${path} via ssh: ${why}`, 'SSH_FAILED'));
    });
    const kill = stream.destroy.bind(stream);
    stream.destroy = (err?: Error | null) => {
      child.kill();
      return kill(err ?? undefined);
    };
    return stream;
  };
}
