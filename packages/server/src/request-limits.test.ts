/**
 * What one request may cost, over real HTTP against startServer: bodies over a route's limit
 * (declared, streamed, or inflated from a zstd bomb) are refused at once with a 413 naming the
 * limit while healthz keeps answering and memory stays flat; deeply nested JSON is a 400; a
 * request asking the engine for too many tokens is a 400; and HTTP that node:http cannot parse
 * gets the same JSON error body as everything else.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { zstdCompress } from '@tinker-ts/protocol';
import { DEFAULT_REQUEST_LIMITS } from './limits.js';
import { startServer, type RunningServer } from './server.js';
import { TestClient, TINY_MODEL, nextTokenDatum } from './testkit.js';

const API_KEY = 'tml-limits';
let server: RunningServer;
let dataDir: string;
let client: TestClient;
let modelId: string;

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-request-limits-'));
  // Default body limits; small compute caps so the refusals are cheap to provoke.
  server = await startServer({ dataDir, port: 0, limits: { maxTrainingTokens: 64, maxSampledTokens: 64 } });
  client = new TestClient(server.url, API_KEY);
  modelId = await client.createModel(await client.createSession(), 0, 2, 1);
  await zstdCompress(new Uint8Array(1)); // the codec loads once, not inside a timed test
});

after(async () => {
  await server.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** A zstd frame without a declared size of `blocks` RLE blocks: 4 bytes in, 128 KiB out, each. */
function rleBomb(blocks: number): Uint8Array {
  const out = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 13 << 3];
  for (let i = 0; i < blocks; i++) {
    const header = ((128 * 1024) << 3) | (1 << 1) | (i === blocks - 1 ? 1 : 0);
    out.push(header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff, 0x7b);
  }
  return new Uint8Array(out);
}

/** Polls healthz until stopped; the slowest answer it saw. */
function watchHealthz(): { stop(): Promise<number> } {
  let running = true;
  let worst = 0;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      const res = await fetch(`${server.url}/api/v1/healthz`);
      await res.arrayBuffer();
      worst = Math.max(worst, performance.now() - t0);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return worst;
    },
  };
}

interface Answer {
  status: number;
  json: any;
  ms: number;
  /** Body bytes written before the answer came. */
  sent: number;
}

/**
 * Sends a body of `total` bytes (chunked when `declare` is false) in 256 KiB pieces, stopping as
 * soon as the server answers; resolves with that answer.
 */
function upload(route: string, total: number, declare: boolean): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let sent = 0;
    let answered = false;
    const req = http.request(`${server.url}/api/v1/${route}`, {
      method: 'POST',
      headers: { 'X-API-Key': API_KEY, 'Content-Type': 'application/json', ...(declare ? { 'Content-Length': String(total) } : {}) },
    });
    req.on('response', (res) => {
      answered = true;
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(parts).toString()), ms: performance.now() - t0, sent }));
    });
    // The server closes the connection behind its answer; writes after that fail, as they should.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const piece = Buffer.alloc(256 * 1024, 0x20);
    const pump = () => {
      while (!answered && sent < total) {
        sent += piece.length;
        if (!req.write(piece)) return void req.once('drain', pump);
      }
      if (!answered) req.end();
    };
    req.write('{"tags": [');
    pump();
  });
}

test('a zstd bomb is refused from its headers at once: healthz keeps answering and memory stays flat', async () => {
  const bomb = rleBomb(8192); // 32 KiB that would inflate to 1 GiB
  const rssBefore = process.memoryUsage().rss;
  const health = watchHealthz();
  const answers = await Promise.all(
    Array.from({ length: 8 }, async () => {
      const t0 = performance.now();
      const res = await client.request('POST', 'telemetry', undefined, { raw: bomb, headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'zstd' } });
      return { ...res, ms: performance.now() - t0 };
    }),
  );
  const worstHealthz = await health.stop();
  for (const a of answers) {
    assert.equal(a.status, 413);
    assert.match(a.json.error, new RegExp(`limit of ${DEFAULT_REQUEST_LIMITS.maxDecompressedBytes} bytes`));
    assert.ok(a.ms < 1000, `refused after ${a.ms.toFixed(0)} ms`);
  }
  assert.ok(worstHealthz < 1000, `healthz took up to ${worstHealthz.toFixed(0)} ms`);
  const growth = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  assert.ok(growth < 200, `RSS grew by ${growth.toFixed(0)} MiB`);
});

test('a body over the route limit is refused from its Content-Length, and while it streams', async () => {
  const rssBefore = process.memoryUsage().rss;
  const health = watchHealthz();
  // Declared: 250 MB to a small-body route, answered before the body is sent.
  const declared = await upload('create_session', 250_000_000, true);
  assert.equal(declared.status, 413);
  assert.match(declared.json.error, new RegExp(`250000000 bytes exceeds the limit of ${DEFAULT_REQUEST_LIMITS.maxBodyBytes} bytes`));
  assert.ok(declared.ms < 1000, `refused after ${declared.ms.toFixed(0)} ms`);
  // Streamed without a length to a data route: reading stops at its limit.
  const streamed = await upload('forward_backward', 250_000_000, false);
  assert.equal(streamed.status, 413);
  assert.match(streamed.json.error, new RegExp(`limit of ${DEFAULT_REQUEST_LIMITS.maxDataBodyBytes} bytes`));
  assert.ok(streamed.sent < DEFAULT_REQUEST_LIMITS.maxDataBodyBytes + 32 * 2 ** 20, `${streamed.sent} bytes sent before the answer`);
  const worstHealthz = await health.stop();
  assert.ok(worstHealthz < 1000, `healthz took up to ${worstHealthz.toFixed(0)} ms`);
  const growth = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  assert.ok(growth < 200, `RSS grew by ${growth.toFixed(0)} MiB`);
  // A body within the limit of the same route still works.
  assert.equal((await client.request('POST', 'create_session', { tags: [], user_metadata: null, sdk_version: '0.31.0' })).status, 200);
});

test('JSON nested deeper than the limit is a 400 on every JSON route, plain or zstd', async () => {
  const deep = `{"ttl_seconds": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
  const routes: Array<[string, string]> = [
    ['PUT', `training_runs/${encodeURIComponent(modelId)}/checkpoints/weights/none/ttl`],
    ['POST', 'create_session'],
    ['POST', 'save_weights'],
    ['POST', 'asample'],
    ['POST', 'forward_backward'],
  ];
  const depth = new RegExp(`deeper than ${DEFAULT_REQUEST_LIMITS.maxJsonDepth} levels`);
  for (const [method, route] of routes) {
    const plain = await client.request(method, route, undefined, { raw: new TextEncoder().encode(deep), headers: { 'Content-Type': 'application/json' } });
    assert.equal(plain.status, 400, `${method} ${route}: ${Buffer.from(plain.body).toString().slice(0, 200)}`);
    assert.match(plain.json.error, depth);
  }
  const packed = await zstdCompress(new TextEncoder().encode(deep));
  const zstd = await client.request('POST', 'create_session', undefined, { raw: packed, headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'zstd' } });
  assert.equal(zstd.status, 400);
  assert.match(zstd.json.error, depth);
  // Within the limit, nesting in user metadata is fine.
  let nested: unknown = 'leaf';
  for (let i = 0; i < 50; i++) nested = { n: nested };
  assert.equal((await client.request('POST', 'create_session', { tags: [], user_metadata: { nested }, sdk_version: '0.31.0' })).status, 200);
});

test('a request asking the engine for more tokens than one request may is a 400 naming the limit', async () => {
  const long = Array.from({ length: 80 }, (_, i) => i + 1);
  const fb = await client.request('POST', 'forward_backward', { model_id: modelId, seq_id: 1, forward_backward_input: { data: [nextTokenDatum(long)], loss_fn: 'cross_entropy' } });
  assert.equal(fb.status, 400);
  assert.match(fb.json.error, /holds 79 tokens in 1 datums; one request may carry at most 64/);
  const sample = (over: Record<string, unknown>) =>
    client.request('POST', 'asample', { base_model: TINY_MODEL, prompt: { chunks: [{ tokens: [1, 2, 3] }] }, num_samples: 8, sampling_params: { max_tokens: 16 }, ...over });
  const many = await sample({});
  assert.equal(many.status, 400);
  assert.match(many.json.error, /num_samples \(8\) × max_tokens \(16\) = 128 tokens; one request may generate at most 64/);
  const unset = await sample({ num_samples: 1, sampling_params: {} });
  assert.equal(unset.status, 400);
  assert.match(unset.json.error, /max_tokens \(unset: the rest of the context/);
  // Within the caps both run.
  const ok = await client.request('POST', 'forward_backward', { model_id: modelId, seq_id: 2, forward_backward_input: { data: [nextTokenDatum(long.slice(0, 20))], loss_fn: 'cross_entropy' } });
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  await client.result(ok.json.request_id);
  const fits = await sample({ num_samples: 4 });
  assert.equal(fits.status, 200);
  await client.result(fits.json.request_id);
});

/** Writes raw bytes on a fresh connection; everything the server sends back before closing. */
function rawExchange(bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, '127.0.0.1');
    const parts: Buffer[] = [];
    socket.on('data', (c) => parts.push(c));
    socket.on('end', () => resolve(Buffer.concat(parts).toString('latin1')));
    socket.on('error', reject);
    socket.end(bytes);
  });
}

function jsonAnswer(raw: string): { status: number; body: any } {
  const m = /^HTTP\/1\.1 (\d{3}) [^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(raw);
  assert.ok(m, `not an HTTP response: ${JSON.stringify(raw.slice(0, 200))}`);
  assert.match(m[2]!, /content-type: application\/json/i);
  return { status: Number(m[1]), body: JSON.parse(m[3]!) };
}

test('HTTP node cannot parse gets the JSON error shape', async () => {
  const badLength = jsonAnswer(await rawExchange('POST /api/v1/create_session HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}'));
  assert.equal(badLength.status, 400);
  assert.equal(badLength.body.code, 'bad_request');
  assert.match(badLength.body.error, /malformed HTTP request: .*Content-Length/i);

  const garbage = jsonAnswer(await rawExchange('\x00\x01\x02 not http at all\r\n\r\n'));
  assert.equal(garbage.status, 400);
  assert.match(garbage.body.error, /malformed HTTP request/);

  const huge = jsonAnswer(await rawExchange(`GET /api/v1/healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`));
  assert.equal(huge.status, 431);
  assert.match(huge.body.error, /request headers exceed the limit of \d+ bytes/);

  // A Content-Length shorter than the body: the rest is read as a next request, which is
  // malformed; the connection's last answer says so (the first may not get out before it).
  const lying = await rawExchange('POST /api/v1/create_session HTTP/1.1\r\nHost: x\r\nX-API-Key: tml-limits\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}garbage after the body\r\n\r\n');
  const last = jsonAnswer(lying.slice(lying.lastIndexOf('HTTP/1.1 ')));
  assert.equal(last.status, 400);
  assert.match(last.body.error, /malformed HTTP request/);
});
