import { afterEach, describe, expect, test } from '@jest/globals';
import { request } from 'node:http';
import { isLoopback, parseListen, startHttpServer, type HttpEndpoint } from '../../src/watch/http.js';

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('--listen', () => {
  test('a bare port is 127.0.0.1; HOST:PORT and [IPV6]:PORT are read', () => {
    expect(parseListen('9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('127.0.0.2:0')).toEqual({ host: '127.0.0.2', port: 0 });
    expect(parseListen('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    expect(parseListen('localhost:80')).toEqual({ host: 'localhost', port: 80 });
  });

  test('a non-loopback address is refused unless explicitly allowed', () => {
    for (const v of ['0.0.0.0:9464', '10.0.0.5:9464', '[::]:9464', 'example.org:9464', '128.0.0.1:1']) {
      expect(() => parseListen(v)).toThrow(/not a loopback address.*--listen-non-loopback/);
    }
    expect(parseListen('0.0.0.0:9464', true)).toEqual({ host: '0.0.0.0', port: 9464 });
  });

  test('nonsense is a usage error', () => {
    for (const v of ['', 'abc', '99999', '1.2.3.4:', ':80', '[1.2.3.4]:80', 'host:port']) expect(() => parseListen(v)).toThrow(/--listen/);
  });

  test('isLoopback', () => {
    expect(['127.0.0.1', '127.255.0.9', '::1', '::ffff:127.0.0.1', 'localhost'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '::', '192.168.1.1', '::ffff:10.0.0.1', 'localhost.evil.com'].some(isLoopback)).toBe(false);
  });
});

describe('the /metrics and /healthz server (127.0.0.1, ephemeral port)', () => {
  let server: HttpEndpoint | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  test('serves metrics as Prometheus text and health as JSON, 503 when degraded; 404 and 405 otherwise', async () => {
    let healthy = true;
    let scrapes = 0;
    server = await startHttpServer(parseListen('0'), {
      metrics: () => `# TYPE x gauge\nx ${++scrapes}\n`,
      health: () => ({ ok: healthy, body: { status: healthy ? 'ok' : 'degraded' } }),
    });
    const port = server.address.port;
    expect(server.address.host).toBe('127.0.0.1');
    expect(port).toBeGreaterThan(0);
    const m = await get(port, '/metrics');
    expect([m.status, m.type, m.body]).toEqual([200, 'text/plain; version=0.0.4; charset=utf-8', '# TYPE x gauge\nx 1\n']);
    expect((await get(port, '/metrics?x=1')).body).toBe('# TYPE x gauge\nx 2\n');
    const h = await get(port, '/healthz');
    expect([h.status, JSON.parse(h.body)]).toEqual([200, { status: 'ok' }]);
    healthy = false;
    const d = await get(port, '/healthz');
    expect([d.status, JSON.parse(d.body)]).toEqual([503, { status: 'degraded' }]);
    expect((await get(port, '/')).status).toBe(404);
    expect((await get(port, '/metrics', 'POST')).status).toBe(405);
    expect((await get(port, '/metrics', 'HEAD')).status).toBe(200);
  });

  test('a failing handler is a 500, and the server goes on', async () => {
    let fail = true;
    server = await startHttpServer(parseListen('0'), {
      metrics: () => {
        if (fail) throw new Error('boom');
        return 'ok\n';
      },
      health: () => ({ ok: true, body: {} }),
    });
    expect((await get(server.address.port, '/metrics')).status).toBe(500);
    fail = false;
    expect((await get(server.address.port, '/metrics')).body).toBe('ok\n');
  });

  test('a port in use is an error at start, and close frees the port', async () => {
    server = await startHttpServer(parseListen('0'), { metrics: () => '', health: () => ({ ok: true, body: {} }) });
    const port = server.address.port;
    await expect(startHttpServer({ host: '127.0.0.1', port }, { metrics: () => '', health: () => ({ ok: true, body: {} }) })).rejects.toThrow(/EADDRINUSE/);
    await server.close();
    server = await startHttpServer({ host: '127.0.0.1', port }, { metrics: () => '', health: () => ({ ok: true, body: {} }) });
    expect(server.address.port).toBe(port);
  });
});
