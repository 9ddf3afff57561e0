import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import { UsageError } from '../errors.js';

/** Where to listen: host and port (port 0 picks a free one). */
export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Parses `--listen`: `PORT`, `HOST:PORT` or `[IPV6]:PORT`; a bare port listens on 127.0.0.1.
 * Without `allowNonLoopback`, only loopback addresses are accepted: the endpoints have no
 * authentication.
 */
export function parseListen(value: string, allowNonLoopback = false): ListenAddress {
  const m = /^(?:(?:\[([^\]]+)\]|([^:[\]]+)):)?(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`Expected --listen to be PORT, HOST:PORT or [IPV6]:PORT, got ${JSON.stringify(value)}`);
  const host = m[1] ?? m[2] ?? '127.0.0.1';
  if (m[1] !== undefined && isIP(host) !== 6) throw new UsageError(`Expected an IPv6 address inside [] in --listen, got ${JSON.stringify(m[1])}`);
  if (!allowNonLoopback && !isLoopback(host)) {
    throw new UsageError(`--listen ${value}: ${host} is not a loopback address, and /metrics and /healthz have no authentication; add --listen-non-loopback to serve them there anyway`);
  }
  return { host, port };
}

/** 127.0.0.0/8, ::1, ::ffff:127.x and `localhost`. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  const v4 = host.startsWith('::ffff:') ? host.slice(7) : host;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** What the server serves. */
export interface HttpHandlers {
  metrics: () => string;
  /** `ok` false answers 503; the body is JSON. */
  health: () => { ok: boolean; body: unknown };
}

/** A running /metrics and /healthz server. */
export interface HttpEndpoint {
  /** The address it is bound to (the real port when 0 was asked). */
  address: ListenAddress;
  close(): Promise<void>;
}

/** Serves `GET /metrics` (Prometheus text) and `GET /healthz` (JSON) on `address`. */
export async function startHttpServer(address: ListenAddress, handlers: HttpHandlers): Promise<HttpEndpoint> {
  const server: Server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    let status = 200;
    let type = 'text/plain; charset=utf-8';
    let body: string;
    try {
      // The body first: a handler that throws must not leave a 200 half sent.
      if (url === '/metrics') {
        type = 'text/plain; version=0.0.4; charset=utf-8';
        body = handlers.metrics();
      } else if (url === '/healthz') {
        const h = handlers.health();
        status = h.ok ? 200 : 503;
        type = 'application/json';
        body = `${JSON.stringify(h.body)}\n`;
      } else {
        status = 404;
        body = 'not found: try /metrics or /healthz\n';
      }
    } catch {
      status = 500;
      type = 'text/plain; charset=utf-8';
      body = 'internal error\n';
    }
    res.writeHead(status, { 'Content-Type': type }).end(req.method === 'HEAD' ? undefined : body);
  });
  // A scraper that opens connections and never sends must not hold descriptors for long.
  server.maxConnections = 64;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  const port = typeof bound === 'object' && bound ? bound.port : address.port;
  return {
    address: { host: address.host, port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
