/**
 * What a client does around training: the bootstrap calls (healthz, client/config,
 * dynamic_config, telemetry, heartbeat), sampling sessions on a base model, large results
 * announced as metadata first, zstd-compressed protobuf bodies, and unload_model.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeForwardBackwardOutput, encodeForwardBackwardRequest, type ForwardBackwardRequest } from '@tinker-ts/protocol';
import { zstdCompress } from '@tinker-ts/protocol/zstd';
import { startServer, type RunningServer } from './server.js';
import { TestClient, TINY_MODEL, tinyBatch } from './testkit.js';

let server: RunningServer;
let dataDir: string;
let client: TestClient;

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-server-boot-'));
  // A tiny metadata threshold so that every result is "large".
  server = await startServer({ dataDir, port: 0, settings: { longPollMs: 300, metadataOnlyThresholdBytes: 64 } });
  client = new TestClient(server.url);
});

after(async () => {
  await server.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function fb(modelId: string, seq: number): ForwardBackwardRequest {
  return {
    forward_backward_input: { data: tinyBatch(), loss_fn: 'cross_entropy', loss_fn_config: null },
    model_id: modelId,
    seq_id: seq,
    forward_only: true,
  };
}

test('bootstrap calls answer as the official SDK expects', async () => {
  assert.deepEqual((await client.request('GET', 'healthz')).json, { status: 'ok' });
  const config = await client.post('client/config', { sdk_version: '0.25.0' });
  assert.equal(config.use_pyqwest_transport, false);
  assert.equal(config.pjwt_auth_enabled, false);
  assert.equal(config.proto_compress_fwdbwd, false);
  assert.equal(config.fwdbwd_max_chunk_len, 1024);
  assert.equal(typeof config.create_model_via_load_weights, 'boolean');
  const dynamic = await client.post('client/dynamic_config', {});
  assert.equal(dynamic.refresh_interval_sec, 300);
  assert.deepEqual(await client.post('telemetry', { events: [], platform: 'x', sdk_version: '0', session_id: 's', process_uuid: 'p' }), {
    status: 'accepted',
  });
  const jwt = await client.request('POST', 'auth/token', {});
  assert.equal(jwt.status, 404);
  assert.match(jwt.json.error, /JWT/);

  const sessionId = await client.createSession();
  assert.deepEqual(await client.post('session_heartbeat', { session_id: sessionId, type: 'session_heartbeat' }), { type: 'session_heartbeat' });
  const unknown = await client.request('POST', 'session_heartbeat', { session_id: 'nope' });
  assert.equal(unknown.status, 404);
});

test('a sampling session on a base model samples, and large results come as metadata first', async () => {
  const sessionId = await client.createSession();
  const ss = await client.post('create_sampling_session', {
    session_id: sessionId,
    sampling_session_seq_id: 0,
    base_model: TINY_MODEL,
    type: 'create_sampling_session',
  });
  assert.equal(ss.sampling_session_id, `${sessionId}:sample:0`);
  const sub = await client.post('asample', {
    prompt: { chunks: [{ type: 'encoded_text', tokens: [5, 6, 7] }] },
    sampling_params: { max_tokens: 3, temperature: 1, seed: 3 },
    sampling_session_id: ss.sampling_session_id,
    seq_id: 0,
    num_samples: 3,
  });
  assert.deepEqual(sub.sample_sequence_ids, [0, 1, 2].map((i) => `${sub.request_id}:${i}`));
  // Resubmission of the same sampling request (same session seq_id) is the same future.
  const again = await client.post('asample', {
    prompt: { chunks: [{ type: 'encoded_text', tokens: [5, 6, 7] }] },
    sampling_params: { max_tokens: 3, temperature: 1, seed: 3 },
    sampling_session_id: ss.sampling_session_id,
    seq_id: 0,
    num_samples: 3,
  });
  assert.equal(again.request_id, sub.request_id);

  let first: any;
  for (;;) {
    const r = await client.request('POST', 'retrieve_future', { request_id: sub.request_id, allow_metadata_only: true }, {
      headers: { Accept: 'application/x-protobuf' },
    });
    if (r.json?.type === 'try_again') continue;
    first = r;
    break;
  }
  assert.equal(first.json.status, 'complete_metadata');
  assert.ok(first.json.response_payload_size > 64);
  const full = await client.request('POST', 'retrieve_future', { request_id: sub.request_id, allow_metadata_only: false }, {
    headers: { Accept: 'application/x-protobuf' },
  });
  assert.match(full.contentType, /application\/x-protobuf/);
  assert.equal(full.body.byteLength, first.json.response_payload_size);
  const sr = await client.sampleResult(sub.request_id);
  assert.equal(sr.sequences.length, 3);
});

test('zstd-compressed protobuf forward_backward bodies are accepted', async () => {
  const sessionId = await client.createSession();
  const modelId = await client.createModel(sessionId, 0);
  const body = await zstdCompress(encodeForwardBackwardRequest(fb(modelId, 1)));
  const res = await client.request('POST', 'forward_backward', undefined, {
    raw: body,
    headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'zstd' },
  });
  assert.equal(res.status, 200, Buffer.from(res.body).toString());
  const raw = await client.retrieveRaw(res.json.request_id, { protobuf: true });
  const out = decodeForwardBackwardOutput(raw.body);
  assert.ok(out.metrics['loss:sum']! > 0);
  assert.equal(out.loss_fn_outputs.length, 2);
});

test('after unload_model the model refuses further requests', async () => {
  const sessionId = await client.createSession();
  const modelId = await client.createModel(sessionId, 0);
  const unload = await client.post('unload_model', { model_id: modelId, type: 'unload_model' });
  assert.deepEqual(await client.result(unload.request_id), { model_id: modelId, type: 'unload_model' });
  const late = await client.forwardBackwardProto(fb(modelId, 1));
  const res = await client.retrieveRaw(late.json.request_id);
  assert.equal(res.json.category, 'user');
  assert.match(res.json.error, /unloaded/);
});

test('older clients: JSON forward_backward and forward bodies, JSON results', async () => {
  const sessionId = await client.createSession();
  const modelId = await client.createModel(sessionId, 0);
  const input = { data: tinyBatch(), loss_fn: 'cross_entropy', loss_fn_config: null };
  const fwd = await client.post('forward', { forward_input: input, model_id: modelId, seq_id: 1 });
  const fb = await client.post('forward_backward', { forward_backward_input: input, model_id: modelId, seq_id: 2, type: 'forward_backward' });
  const fwdOut = await client.result(fwd.request_id);
  const fbOut = await client.result(fb.request_id);
  assert.equal(fwdOut.loss_fn_outputs.length, 2);
  assert.equal(fwdOut.loss_fn_outputs[0].logprobs.dtype, 'float32');
  assert.equal(fwdOut.loss_fn_outputs[0].logprobs.data.length, 7);
  assert.ok(Math.abs(fwdOut.metrics['loss:sum'] - fbOut.metrics['loss:sum']) < 1e-5 * fbOut.metrics['loss:sum']);
  for (const key of Object.keys(fbOut.metrics)) assert.equal(key.split(':').length, 2, `metric key ${key}`);
});
