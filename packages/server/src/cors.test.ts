/**
 * CORS for browser clients: configured origins get the Access-Control headers and answered
 * preflights; other origins and servers started without origins get none (the browser then
 * refuses, as it should); bad origins are refused when the server starts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkCorsOrigin, withCors } from './cors.js';

const PAGE = 'http://localhost:5173';
let calls = 0;
const routed: http.RequestListener = (_req, res) => {
  calls++;
  res.setHeader('Content-Type', 'application/json');
  res.end('{"ok":true}');
};

async function listen(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, close: () => new Promise((r) => server.close(() => r())) };
}

let one: Awaited<ReturnType<typeof listen>>;
let anyOrigin: Awaited<ReturnType<typeof listen>>;
let none: Awaited<ReturnType<typeof listen>>;

before(async () => {
  one = await listen(withCors(routed, [PAGE]));
  anyOrigin = await listen(withCors(routed, ['*']));
  none = await listen(withCors(routed, []));
});

after(async () => {
  await Promise.all([one.close(), anyOrigin.close(), none.close()]);
});

const preflight = (url: string, origin: string) =>
  fetch(`${url}/api/v1/create_session`, {
    method: 'OPTIONS',
    headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'x-api-key, content-type' },
  });

test('a configured origin gets its preflight answered and CORS headers on responses', async () => {
  const before = calls;
  const pre = await preflight(one.url, PAGE);
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), PAGE);
  assert.equal(pre.headers.get('access-control-allow-headers'), 'x-api-key, content-type');
  assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
  assert.equal(pre.headers.get('vary'), 'Origin');
  assert.equal(calls, before, 'a preflight never reaches the routes');

  const res = await fetch(`${one.url}/api/v1/healthz`, { headers: { Origin: PAGE } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('access-control-allow-origin'), PAGE);
  assert.match(res.headers.get('access-control-expose-headers') ?? '', /Retry-After/);
});

test('another origin, or a server without origins, gets no CORS headers', async () => {
  const other = await fetch(`${one.url}/api/v1/healthz`, { headers: { Origin: 'http://evil.example' } });
  assert.equal(other.headers.get('access-control-allow-origin'), null);
  const otherPre = await preflight(one.url, 'http://evil.example');
  assert.equal(otherPre.headers.get('access-control-allow-origin'), null);
  const plain = await preflight(none.url, PAGE);
  assert.equal(plain.headers.get('access-control-allow-origin'), null);
});

test('"*" allows any origin without Vary', async () => {
  const res = await fetch(`${anyOrigin.url}/api/v1/healthz`, { headers: { Origin: 'http://anywhere.test:8080' } });
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  assert.equal(res.headers.get('vary'), null);
});

test('origins are checked: no paths, no trailing slash, a scheme', () => {
  assert.equal(checkCorsOrigin('*'), null);
  assert.equal(checkCorsOrigin('https://app.example.com:8443'), null);
  assert.match(checkCorsOrigin('http://localhost:5173/') ?? '', /write it as "http:\/\/localhost:5173"/);
  assert.match(checkCorsOrigin('localhost') ?? '', /not an origin/);
  assert.throws(() => withCors(routed, ['example.com']), /cors: "example.com" is not an origin/);
});
