/**
 * The router's error contract: every failure is a JSON `{error, ...}` with the right 4xx
 * status and a message naming the problem; bodies are size-capped before and after zstd.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse, schema } from '@tinker-ts/protocol';
import { zstdCompress } from '@tinker-ts/protocol/zstd';
import { createAuthenticator } from './auth.js';
import { BadRequestError } from './errors.js';
import { json, Router } from './router.js';

let server: http.Server;
let base: string;

before(async () => {
  const router = new Router({
    authenticate: createAuthenticator({ 'tml-good': 'alice' }),
    limits: { maxBodyBytes: 64 * 1024, maxDecompressedBytes: 256 * 1024 },
  });
  const echoSchema = schema.object({ name: schema.string({ minLength: 1 }), count: schema.int({ min: 0 }) });
  router.addAll([
    { method: 'GET', path: '/api/v1/healthz', auth: false, handler: () => json({ status: 'ok' }) },
    {
      method: 'POST',
      path: '/api/v1/echo',
      body: (v) => parse(echoSchema, v),
      protobuf: (bytes) => ({ name: `proto:${bytes.length}`, count: 0 }),
      handler: ({ user, body, bodyFormat }) => json({ user, body, bodyFormat }),
    },
    { method: 'GET', path: '/api/v1/items/{item_id}', handler: ({ params }) => json({ id: params.item_id }) },
    {
      method: 'POST',
      path: '/api/v1/boom',
      handler: () => {
        throw new Error('kaput');
      },
    },
    {
      method: 'POST',
      path: '/api/v1/refuse',
      handler: () => {
        throw new BadRequestError('no thanks', { field: 'x' });
      },
    },
  ]);
  server = http.createServer(router.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
});

after(() => new Promise<void>((r) => server.close(() => r())));

async function call(method: string, path: string, body?: string | Uint8Array, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/${path}`, { method, body, headers: { 'X-API-Key': 'tml-good', ...headers } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

test('unknown routes are 404 and wrong methods 405 with Allow', async () => {
  const missing = await call('GET', 'nowhere');
  assert.equal(missing.status, 404);
  assert.match(missing.body.error, /no route GET \/api\/v1\/nowhere/);
  const wrong = await call('GET', 'echo');
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get('allow'), 'POST');
  assert.match(wrong.body.error, /GET is not allowed/);
});

test('missing or unknown API keys are 401; open routes need none', async () => {
  const none = await fetch(`${base}/items/1`);
  assert.equal(none.status, 401);
  assert.match(((await none.json()) as { error: string }).error, /missing X-API-Key/);
  const bad = await call('GET', 'items/1', undefined, { 'X-API-Key': 'tml-bad' });
  assert.equal(bad.status, 401);
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  const ok = await call('GET', 'items/a%20b');
  assert.deepEqual(ok.body, { id: 'a b' });
});

test('bad JSON and invalid fields are 400 naming the problem', async () => {
  const garbled = await call('POST', 'echo', '{"name": ', { 'Content-Type': 'application/json' });
  assert.equal(garbled.status, 400);
  assert.match(garbled.body.error, /not valid JSON/);
  const invalid = await call('POST', 'echo', JSON.stringify({ name: 'x', count: -1 }), { 'Content-Type': 'application/json' });
  assert.equal(invalid.status, 400);
  assert.equal(invalid.body.field, 'count');
  const missing = await call('POST', 'echo', '', { 'Content-Type': 'application/json' });
  assert.equal(missing.status, 400);
  assert.equal(missing.body.field, 'name');
  const wrongType = await call('POST', 'echo', 'name=x', { 'Content-Type': 'text/plain' });
  assert.equal(wrongType.status, 415);
  const refused = await call('POST', 'refuse');
  assert.deepEqual([refused.status, refused.body.field], [400, 'x']);
});

test('handler faults are a JSON 500 and the server keeps serving', async () => {
  const boom = await call('POST', 'boom');
  assert.equal(boom.status, 500);
  assert.match(boom.body.error, /kaput/);
  assert.equal((await call('GET', 'items/2')).status, 200);
});

test('protobuf and zstd bodies are decoded; oversized ones are 413', async () => {
  const proto = await call('POST', 'echo', new Uint8Array([1, 2, 3]), { 'Content-Type': 'application/x-protobuf' });
  assert.deepEqual(proto.body.body, { name: 'proto:3', count: 0 });
  const packed = await zstdCompress(Buffer.from(JSON.stringify({ name: 'z', count: 2 })));
  const zipped = await call('POST', 'echo', packed, { 'Content-Type': 'application/json', 'Content-Encoding': 'zstd' });
  assert.equal(zipped.status, 200, JSON.stringify(zipped.body));
  assert.deepEqual(zipped.body.body, { name: 'z', count: 2 });

  const bomb = await zstdCompress(Buffer.alloc(1024 * 1024, 32));
  assert.ok(bomb.length < 64 * 1024);
  const exploded = await call('POST', 'echo', bomb, { 'Content-Type': 'application/json', 'Content-Encoding': 'zstd' });
  assert.equal(exploded.status, 413);

  const huge = await call('POST', 'echo', Buffer.alloc(100 * 1024, 32), { 'Content-Type': 'application/json' });
  assert.equal(huge.status, 413);
  const corrupt = await call('POST', 'echo', new Uint8Array([1, 2, 3, 4, 5]), { 'Content-Encoding': 'zstd' });
  assert.equal(corrupt.status, 400);
  const unknownEncoding = await call('POST', 'echo', 'x', { 'Content-Encoding': 'br' });
  assert.equal(unknownEncoding.status, 415);
});
