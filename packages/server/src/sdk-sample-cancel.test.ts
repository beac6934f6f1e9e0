/**
 * Abandoning a sample over real HTTP: with `sample_cancel_enabled` in the dynamic config, the SDK
 * sends cancel_future for an aborted sample, and the server drops it from its queue (its future
 * fails as cancelled) while the samples ahead of it finish normally. The caller's future rejects
 * with APIUserAbortError at once.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { APIUserAbortError, ServiceClient, type APIFuture } from '@tinker-ts/sdk';
import { startServer, type RunningServer } from './server.js';
import { E2E_API_KEY, E2E_MODEL } from './e2e-testkit.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-sdk-cancel-'));
let server: RunningServer | undefined;
let sc: ServiceClient | undefined;

after(async () => {
  await sc?.close();
  await server?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** fetch that turns sample cancellation on in client/dynamic_config and records cancel_future answers. */
function cancellingFetch(answers: unknown[]): typeof fetch {
  return async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    const res = await fetch(input, init);
    if (url.endsWith('/api/v1/cancel_future')) answers.push(await res.clone().json());
    if (!url.endsWith('/api/v1/client/dynamic_config') || res.status !== 200) return res;
    const body = { ...((await res.json()) as object), sample_cancel_enabled: true };
    return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
  };
}

async function accepted<T>(f: APIFuture<T>): Promise<string> {
  for (let i = 0; i < 400 && f.requestId === undefined; i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(f.requestId, 'the server never accepted the request');
  return f.requestId;
}

test('an aborted queued sample is cancelled on the server; the ones ahead finish', async () => {
  server = await startServer({ dataDir, port: 0, settings: { longPollMs: 2_000 } });
  const answers: unknown[] = [];
  sc = new ServiceClient({ baseURL: server.url, apiKey: E2E_API_KEY, fetch: cancellingFetch(answers) });
  const client = await sc.createSamplingClient({ baseModel: E2E_MODEL });
  const long = { maxTokens: 48, seed: 1 };
  // The base model's sampler runs one request at a time: these two keep the victim queued.
  const ahead = [client.sample({ prompt: [1, 2, 3], samplingParams: long }), client.sample({ prompt: [4, 5, 6], samplingParams: long })];
  const controller = new AbortController();
  const victim = client.sample({ prompt: [7, 8, 9], samplingParams: long }, { signal: controller.signal });
  const requestId = await accepted(victim);
  controller.abort();
  const t0 = Date.now();
  await assert.rejects(victim.future(), APIUserAbortError);
  assert.ok(Date.now() - t0 < 1000, 'the future did not reject at once');

  for (let i = 0; i < 200 && answers.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(answers, [{ request_id: requestId, cancelled: true }]);
  const row = server.ctx.futures.get(requestId);
  assert.equal(row?.state, 'failed');
  assert.match(row?.error ?? '', /cancel/);
  for (const f of ahead) assert.equal((await f).sequences.length, 1);
});
