/**
 * The SDK's session-wide sample poll against the real server: with `sample_use_retrieve_futures`
 * a sampling client long-polls retrieve_futures for its session and fetches each finished
 * sample's payload once; without it (or when the server cannot serve the poll) every sample
 * polls on its own. Sampler handles let a second client join the same sampling session.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ServiceClient, ValidationError } from '@tinker-ts/sdk';
import { startServer, type RunningServer } from './server.js';
import { E2E_API_KEY, E2E_MODEL, startClientConfigProxy } from './e2e-testkit.js';

interface Seen {
  path: string;
  body: any;
}

/** fetch that records every request (path and JSON body) and can answer some paths itself. */
function recordingFetch(seen: Seen[], answer: (path: string) => Response | undefined = () => undefined): typeof fetch {
  return async (input, init) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    const p = url.pathname.replace(/^\/api\/v1\//, '');
    let body: any;
    try {
      body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    } catch {
      body = undefined;
    }
    seen.push({ path: p, body });
    return answer(p) ?? fetch(input, init);
  };
}

const dataDirs: string[] = [];
const servers: RunningServer[] = [];
const clients: ServiceClient[] = [];

async function serve(settings: Record<string, unknown> = {}): Promise<RunningServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-sdk-session-poll-'));
  dataDirs.push(dataDir);
  const s = await startServer({ dataDir, port: 0, settings: { longPollMs: 2_000, ...settings } });
  servers.push(s);
  return s;
}

function client(server: RunningServer, fetchImpl?: typeof fetch): ServiceClient {
  const sc = new ServiceClient({ baseURL: server.url, apiKey: E2E_API_KEY, ...(fetchImpl ? { fetch: fetchImpl } : {}) });
  clients.push(sc);
  return sc;
}

let shared: RunningServer;
before(async () => {
  shared = await serve();
});

after(async () => {
  for (const c of clients) await c.close();
  for (const s of servers) await s.close();
  for (const d of dataDirs) fs.rmSync(d, { recursive: true, force: true });
});

const params = { maxTokens: 6, seed: 11, temperature: 1 };

test('with the flag, samples wait on one retrieve_futures poll and fetch their payload once', async () => {
  const seen: Seen[] = [];
  const sc = client(shared, recordingFetch(seen));
  const sampler = await sc.createSamplingClient({ baseModel: E2E_MODEL });
  const results = await Promise.all([1, 2, 3].map((t) => sampler.sample({ prompt: [t, t + 1, t + 2], samplingParams: params })));
  for (const r of results) assert.equal(r.sequences[0]!.tokens.length, 6);

  const polls = seen.filter((s) => s.path === 'retrieve_futures');
  assert.ok(polls.length >= 1, 'the session poll was used');
  for (const p of polls) {
    assert.equal(p.body.target.sampling_session_id, sampler.samplingSessionId);
    assert.equal(p.body.target.cloned_sampler_id, 0);
  }
  const fetches = seen.filter((s) => s.path === 'retrieve_future');
  assert.equal(fetches.length, 3, 'one payload fetch per sample, no per-sample long polls');
  for (const f of fetches) assert.equal(f.body.allow_metadata_only, false, 'the size came with the completion');

  // Same seeds without the poll give the same tokens: the poll changes how results arrive, not what they are.
  const offServer = await serve({ sessionFuturesPoll: false });
  const offSeen: Seen[] = [];
  const off = client(offServer, recordingFetch(offSeen));
  const offSampler = await off.createSamplingClient({ baseModel: E2E_MODEL });
  const again = await Promise.all([1, 2, 3].map((t) => offSampler.sample({ prompt: [t, t + 1, t + 2], samplingParams: params })));
  assert.deepEqual(again.map((r) => r.sequences[0]!.tokens), results.map((r) => r.sequences[0]!.tokens));
  assert.equal(offSeen.filter((s) => s.path === 'retrieve_futures').length, 0, 'no session poll without the flag');
});

test('a server that cannot serve the poll sends samples back to polling each request', async () => {
  const seen: Seen[] = [];
  const notServed = (p: string) =>
    p === 'retrieve_futures' ? new Response(JSON.stringify({ detail: 'Not Found' }), { status: 404, headers: { 'content-type': 'application/json' } }) : undefined;
  const sc = client(shared, recordingFetch(seen, notServed));
  const sampler = await sc.createSamplingClient({ baseModel: E2E_MODEL });
  const first = await sampler.sample({ prompt: [5, 6, 7], samplingParams: params });
  const second = await sampler.sample({ prompt: [5, 6, 7], samplingParams: params });
  assert.deepEqual(first.sequences[0]!.tokens, second.sequences[0]!.tokens);
  assert.equal(seen.filter((s) => s.path === 'retrieve_futures').length, 1, 'the poll is not tried again after a 404');
  assert.ok(seen.filter((s) => s.path === 'retrieve_future').length >= 2);
});

test('the session poll also runs on the network thread (no injected fetch)', async () => {
  const proxy = await startClientConfigProxy(shared.url, {});
  try {
    const sc = new ServiceClient({ baseURL: proxy.url, apiKey: E2E_API_KEY });
    clients.push(sc);
    const sampler = await sc.createSamplingClient({ baseModel: E2E_MODEL });
    const res = await sampler.sample({ prompt: [9, 8, 7], samplingParams: params });
    assert.equal(res.sequences[0]!.tokens.length, 6);
    assert.ok((proxy.requestCounts.get('/api/v1/retrieve_futures') ?? 0) >= 1, 'the worker polled the session');
    assert.equal(proxy.requestCounts.get('/api/v1/retrieve_future'), 1, 'and fetched the payload once');
    await sc.close();
  } finally {
    await proxy.close();
  }
});

test('a sampler handle lets another client join the sampling session and sample with its own numbers', async () => {
  const owner = client(shared);
  const sampler = await owner.createSamplingClient({ baseModel: E2E_MODEL });
  const own = await sampler.sample({ prompt: [3, 1, 4], samplingParams: params });
  const handle = sampler.getSamplerHandle();
  assert.match(handle, /^tinker-sampler:v1:/);
  assert.ok(!handle.includes(E2E_API_KEY) && !Buffer.from(handle.split(':').pop()!, 'base64url').toString().includes(E2E_API_KEY), 'no credentials in the handle');

  const seen: Seen[] = [];
  const other = client(shared, recordingFetch(seen));
  const joined = await other.samplingClientFromHandle(handle);
  assert.equal(joined.samplingSessionId, sampler.samplingSessionId);
  assert.equal(joined.clientCounter, 1);
  const theirs = await joined.sample({ prompt: [3, 1, 4], samplingParams: params });
  assert.deepEqual(theirs.sequences[0]!.tokens, own.sequences[0]!.tokens, 'the same sampler, the same seed, the same tokens');
  const submit = seen.find((s) => s.path === 'asample')!;
  assert.equal(submit.body.seq_id, 1_000_000_000, 'joined clients number their samples from client_counter × 1e9');
  const poll = seen.find((s) => s.path === 'retrieve_futures');
  assert.equal(poll?.body.target.cloned_sampler_id, 1);
  assert.equal((await other.samplingClientFromHandle(handle)).clientCounter, 2);

  // A handle of another server, or no handle at all, is refused before anything is sent.
  const elsewhere = client(await serve());
  await assert.rejects(async () => elsewhere.samplingClientFromHandle(handle), (e: unknown) => e instanceof ValidationError && /baseURL/.test(e.message));
  assert.throws(() => other.samplingClientFromHandle('not-a-handle'), ValidationError);
  assert.throws(() => other.samplingClientFromHandle('tinker-sampler:v1:e30'), /names no sampling session/);
});
