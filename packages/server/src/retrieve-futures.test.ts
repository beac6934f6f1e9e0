/**
 * The session-wide sample poll over raw HTTP: retrieve_futures reports each sample of a
 * sampling session (one client of it) as it finishes, with a cursor that acknowledges what was
 * seen; join_sampling_session numbers further clients; client/config offers the poll only to
 * SDKs that have it; completions and client numbers survive a restart of the server.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from './server.js';
import { TestClient, TINY_MODEL } from './testkit.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-retrieve-futures-'));
let server: RunningServer | undefined;

after(async () => {
  await server?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function start(settings: Record<string, unknown> = {}): Promise<TestClient> {
  await server?.close();
  server = await startServer({ dataDir, port: 0, settings: { longPollMs: 1500, ...settings } });
  return new TestClient(server.url);
}

async function samplingSession(client: TestClient): Promise<string> {
  const sessionId = await client.createSession();
  const res = await client.post('create_sampling_session', {
    session_id: sessionId, sampling_session_seq_id: 0, base_model: TINY_MODEL, type: 'create_sampling_session',
  });
  return res.sampling_session_id as string;
}

async function asample(client: TestClient, samplingSessionId: string, seqId: number, maxTokens = 2): Promise<string> {
  const res = await client.post('asample', {
    sampling_session_id: samplingSessionId, seq_id: seqId, num_samples: 1,
    prompt: { chunks: [{ type: 'encoded_text', tokens: [1, 2, 3] }] },
    sampling_params: { max_tokens: maxTokens, temperature: 1, seed: 5 },
    type: 'sample',
  });
  return res.request_id as string;
}

function poll(client: TestClient, samplingSessionId: string, prevCursor: number, clone = 0, timeout?: number) {
  return client.request('POST', 'retrieve_futures', {
    target: { type: 'sampling_session', sampling_session_id: samplingSessionId, cloned_sampler_id: clone },
    prev_cursor: prevCursor,
    ...(timeout !== undefined ? { timeout } : {}),
  });
}

/** Polls until `ids` have all been reported; returns the completions and the last cursor. */
async function collect(client: TestClient, samplingSessionId: string, ids: string[], clone = 0, from = 0) {
  const seen = new Map<string, any>();
  let cursor = from;
  for (let i = 0; i < 20 && ids.some((id) => !seen.has(id)); i++) {
    const res = await poll(client, samplingSessionId, cursor, clone);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    for (const c of res.json.completions) seen.set(c.request_id, c);
    assert.ok(res.json.cursor >= cursor, 'the cursor never goes back');
    cursor = res.json.cursor;
  }
  return { seen, cursor };
}

test('retrieve_futures reports finished samples once, with their payload size, and holds until one finishes', async () => {
  const client = await start();
  const sid = await samplingSession(client);
  const a = await asample(client, sid, 0);
  const b = await asample(client, sid, 1);
  const { seen, cursor } = await collect(client, sid, [a, b]);
  for (const id of [a, b]) {
    const c = seen.get(id);
    assert.equal(c.state, 'finished');
    // The size is what retrieve_future then sends (the protobuf result).
    const payload = await client.retrieveRaw(id, { protobuf: true });
    assert.equal(c.response_payload_uncompressed_size, payload.body.byteLength);
  }
  // Acknowledged by the cursor: the next poll holds for its timeout and reports nothing.
  const started = Date.now();
  const quiet = await poll(client, sid, cursor, 0, 0.4);
  assert.deepEqual(quiet.json.completions, []);
  assert.equal(quiet.json.cursor, cursor);
  assert.ok(Date.now() - started >= 350, 'an empty poll is held, not answered at once');
  // A poll in progress returns as soon as a new sample finishes.
  const waiting = poll(client, sid, cursor);
  const c = await asample(client, sid, 2);
  const res = await waiting;
  assert.deepEqual(res.json.completions.map((x: any) => x.request_id), [c]);
  assert.ok(res.json.cursor > cursor);
});

test('a failed sample is reported as failed; unknown or foreign sampling sessions answer 404', async () => {
  const client = await start();
  const sid = await samplingSession(client);
  // The base model's sampler runs one request at a time: two long ones keep the third queued,
  // and cancelling it fails its future.
  const ahead = [await asample(client, sid, 0, 48), await asample(client, sid, 1, 48)];
  const victim = await asample(client, sid, 2, 48);
  assert.deepEqual(await client.post('cancel_future', { request_id: victim }), { request_id: victim, cancelled: true });
  const { seen } = await collect(client, sid, [...ahead, victim]);
  assert.deepEqual(seen.get(victim), { state: 'failed', request_id: victim });
  for (const id of ahead) assert.equal(seen.get(id).state, 'finished');
  assert.equal((await poll(client, 'no-such-sampler', 0)).status, 404);
  const other = new TestClient(server!.url, 'tml-someone-else');
  assert.equal((await poll(other, sid, 0, 0, 0)).status, 404);
  // Malformed polls are 400s that say what is wrong.
  const bad = await client.request('POST', 'retrieve_futures', { target: { sampling_session_id: sid }, prev_cursor: -1 });
  assert.equal(bad.status, 400);
  assert.match(JSON.stringify(bad.json), /prev_cursor/);
});

test('join_sampling_session numbers clients 1, 2, …; each client polls only its own samples', async () => {
  const client = await start();
  const sid = await samplingSession(client);
  const join = () => client.post('join_sampling_session', { sampling_session_id: sid, type: 'join_sampling_session' });
  assert.deepEqual(await join(), { type: 'join_sampling_session', client_counter: 1 });
  assert.equal((await join()).client_counter, 2);
  const mine = await asample(client, sid, 0);
  const theirs = await asample(client, sid, 1_000_000_000);
  const one = await collect(client, sid, [theirs], 1);
  assert.deepEqual([...one.seen.keys()], [theirs], 'client 1 sees only its own samples');
  const zero = await collect(client, sid, [mine], 0);
  assert.deepEqual([...zero.seen.keys()], [mine]);
  const foreign = await new TestClient(server!.url, 'tml-someone-else').request('POST', 'join_sampling_session', { sampling_session_id: sid });
  assert.equal(foreign.status, 404);

  // After a restart: what finished before is still reported, client numbers are not reused,
  // and new completions sort after the old ones.
  const restarted = await start();
  const again = await collect(restarted, sid, [mine], 0);
  assert.equal(again.seen.get(mine).state, 'finished');
  assert.equal((await restarted.post('join_sampling_session', { sampling_session_id: sid })).client_counter, 3);
  const later = await asample(restarted, sid, 1);
  const after = await collect(restarted, sid, [later], 0, again.cursor);
  assert.deepEqual([...after.seen.keys()], [later]);
});

test('client/config offers the session poll to SDKs from 0.33 on, unless the server turns it off', async () => {
  let client = await start();
  const flag = async (sdk_version: string) => (await client.post('client/config', { sdk_version })).sample_use_retrieve_futures;
  assert.equal(await flag('0.25.0'), false, '0.25 has no session poller');
  assert.equal(await flag('0.32.1'), false);
  assert.equal(await flag('0.33.1'), true);
  assert.equal(await flag('0.38.0'), true);
  client = await start({ sessionFuturesPoll: false });
  assert.equal(await flag('0.38.0'), false);
});

test('create_session warns what hosted Tinker does with old SDKs and what this server does not serve', async () => {
  const client = await start();
  const session = async (sdk_version: string) =>
    client.post('create_session', { tags: [], user_metadata: null, sdk_version, type: 'create_session' });
  assert.match((await session('0.25.0')).warning_message, /Hosted Tinker refuses SDK 0\.25\.0/);
  assert.match((await session('0.31.0')).warning_message, /Hosted Tinker warns SDK 0\.31\.0/);
  const current = await session('0.38.0');
  assert.doesNotMatch(current.warning_message, /Hosted Tinker/);
  assert.match(current.warning_message, /stable_reinforce/);
  assert.match((await session('0.45.0')).warning_message, /newer than the wire this server implements/);
});
