/**
 * The official SDK's unpickled sampling clients (TINKER_SUBPROCESS_SAMPLING=1) number their
 * asample requests from k·10^9 upwards, e.g. 295131854000000000, 295131854000000001. Those
 * exceed what a JSON number keeps exactly, so the server must not take two such neighbours
 * for the same request.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from './server.js';
import { TestClient, TINY_MODEL } from './testkit.js';

let server: RunningServer;
let dataDir: string;
let client: TestClient;

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-python-seq-ids-'));
  server = await startServer({ dataDir, port: 0 });
  client = new TestClient(server.url, 'tml-shadow-sampler');
});

after(async () => {
  await server.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** An asample body with a literal integer seq_id, written as the SDK's JSON encoder does. */
function asampleText(samplingSessionId: string, seqIdLiteral: string, prompt: number[]): string {
  return (
    `{"sampling_session_id":${JSON.stringify(samplingSessionId)},"seq_id":${seqIdLiteral},"num_samples":1,` +
    `"prompt":{"chunks":[{"type":"encoded_text","tokens":${JSON.stringify(prompt)}}]},` +
    `"sampling_params":{"max_tokens":1,"temperature":0.0},"prompt_logprobs":true,"type":"sample"}`
  );
}

async function submit(samplingSessionId: string, seqIdLiteral: string, prompt: number[]) {
  return client.request('POST', 'asample', undefined, {
    raw: new TextEncoder().encode(asampleText(samplingSessionId, seqIdLiteral, prompt)),
    headers: { 'Content-Type': 'application/json' },
  });
}

test('asample seq_ids beyond 2^53 from a subprocess sampling client are distinct requests', async () => {
  const sessionId = await client.createSession();
  const { sampling_session_id: samplingSessionId } = await client.post('create_sampling_session', {
    session_id: sessionId,
    sampling_session_seq_id: 0,
    base_model: TINY_MODEL,
    type: 'create_sampling_session',
  });

  const first = await submit(samplingSessionId, '295131854000000000', [11, 22, 33]);
  const second = await submit(samplingSessionId, '295131854000000001', [44, 55, 66, 77]);
  assert.equal(first.status, 200, Buffer.from(first.body).toString());
  assert.equal(second.status, 200, Buffer.from(second.body).toString());
  assert.notEqual(first.json.request_id, second.json.request_id);

  const a = await client.sampleResult(first.json.request_id);
  const b = await client.sampleResult(second.json.request_id);
  assert.equal(a.prompt_logprobs?.length, 3);
  assert.equal(b.prompt_logprobs?.length, 4);
});

test('asample seq_ids within 2^53 still deduplicate a resubmission', async () => {
  const sessionId = await client.createSession();
  const { sampling_session_id: samplingSessionId } = await client.post('create_sampling_session', {
    session_id: sessionId,
    sampling_session_seq_id: 0,
    base_model: TINY_MODEL,
    type: 'create_sampling_session',
  });
  const first = await submit(samplingSessionId, '7', [11, 22, 33]);
  const again = await submit(samplingSessionId, '7', [11, 22, 33]);
  assert.equal(first.status, 200);
  assert.equal(again.status, 200);
  assert.equal(again.json.request_id, first.json.request_id);
});
