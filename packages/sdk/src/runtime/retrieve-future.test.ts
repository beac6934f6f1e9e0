// The retrieve_future state machine (the Tinker wire protocol), driven against a scripted server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BadRequestError, NotFoundError, RequestFailedError, TinkerError, ValidationError } from '../errors.js';
import { harness } from './testing/harness.js';

const submitOk = (id: string) => ({ body: { request_id: id } });
const result = { body: { loss: 1.5, type: 'optim_step' } };
const spec = { path: 'optim_step', body: { model_id: 'm', seq_id: 1 }, requestType: 'OptimStep', resultKind: 'json' as const };

test('try_again is polled again until the result, reporting queue states', async () => {
  const h = await harness({
    routes: {
      optim_step: [submitOk('r1')],
      retrieve_future: [
        { body: { type: 'try_again', request_id: 'r1', queue_state: 'paused_capacity', queue_state_reason: 'busy' } },
        { body: { type: 'try_again', request_id: 'r1', queue_state: 'active' } },
        { body: { type: 'try_again', request_id: 'r1' } },
        result,
      ],
    },
  });
  try {
    const states: Array<[string, string | undefined]> = [];
    const f = h.runtime.submit<{ loss: number }>(spec, { onQueueState: (s, r) => states.push([s, r]) });
    assert.deepEqual(await f, { loss: 1.5, type: 'optim_step' });
    assert.equal(f.requestId, 'r1');
    assert.deepEqual(states, [['paused_capacity', 'busy'], ['active', undefined]]);
    const polls = await h.peer.requests('retrieve_future');
    assert.equal(polls.length, 4);
    assert.deepEqual(polls.map((p) => p.headers['x-tinker-request-iteration']), ['0', '1', '2', '3']);
    assert.equal(polls[0]!.headers['x-tinker-request-type'], 'OptimStep');
    assert.ok(Number.isFinite(Number(polls[0]!.headers['x-tinker-create-promise-roundtrip-time'])));
    assert.equal(polls[1]!.headers['x-tinker-create-promise-roundtrip-time'], undefined);
    assert.deepEqual(polls[0]!.json, { request_id: 'r1', allow_metadata_only: true });
    assert.equal(polls[0]!.headers['x-api-key'], 'tml-test');
  } finally {
    await h.close();
  }
});

test('408 and 5xx are polled again at once', async () => {
  const h = await harness({
    routes: {
      optim_step: [submitOk('r1')],
      retrieve_future: [{ status: 408, body: { queue_state: 'paused_rate_limit' } }, { status: 502 }, { status: 500, body: 'oops' }, result],
    },
  });
  try {
    const states: string[] = [];
    const t0 = Date.now();
    assert.equal(((await h.runtime.submit<{ loss: number }>(spec, { onQueueState: (s) => states.push(s) })) as { loss: number }).loss, 1.5);
    assert.ok(Date.now() - t0 < 2000);
    assert.deepEqual(states, ['paused_rate_limit']);
    assert.equal((await h.peer.requests('retrieve_future')).length, 4);
  } finally {
    await h.close();
  }
});

test('410 submits the original request again and polls the new request id', async () => {
  const h = await harness({
    routes: {
      optim_step: [submitOk('old'), submitOk('new')],
      retrieve_future: [{ status: 410, body: { detail: 'expired' } }, result],
    },
  });
  try {
    const f = h.runtime.submit(spec);
    await f;
    assert.equal(f.requestId, 'new');
    const submits = await h.peer.requests('optim_step');
    assert.equal(submits.length, 2);
    assert.deepEqual(submits[0]!.json, submits[1]!.json);
    assert.deepEqual((await h.peer.requests('retrieve_future')).map((p) => (p.json as { request_id: string }).request_id), ['old', 'new']);
  } finally {
    await h.close();
  }
});

test('429 on a poll backs off exponentially (min(2^n, 30) units)', async () => {
  const h = await harness(
    { routes: { optim_step: [submitOk('r1')], retrieve_future: [{ status: 429 }, { status: 429 }, { status: 429 }, result] } },
    { timing: { backoffUnitMs: 40 } },
  );
  try {
    await h.runtime.submit(spec);
    const at = (await h.peer.requests('retrieve_future')).map((p) => p.at);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    // 1, 2, 4 units of 40 ms
    assert.ok(gaps[0]! >= 35 && gaps[1]! >= 75 && gaps[2]! >= 155, `gaps ${gaps}`);
  } finally {
    await h.close();
  }
});

test('a bare 400 is retried up to 3 times', async () => {
  const bare = { status: 400 };
  const h = await harness({ routes: { optim_step: [submitOk('a'), submitOk('b')], retrieve_future: [bare, bare, bare, result, bare, bare, bare, bare] } });
  try {
    assert.deepEqual(await h.runtime.submit(spec), result.body);
    await assert.rejects(h.runtime.submit(spec).future(), BadRequestError);
    assert.equal((await h.peer.requests('retrieve_future')).length, 8);
  } finally {
    await h.close();
  }
});

test('a 400 with a body and other 4xx fail at once with the typed error', async () => {
  const h = await harness({
    routes: {
      optim_step: [submitOk('a'), submitOk('b')],
      retrieve_future: [{ status: 400, body: { detail: 'bad seq_id' } }, { status: 404, body: { detail: 'unknown request' } }],
    },
  });
  try {
    await assert.rejects(h.runtime.submit(spec).future(), (e: unknown) => e instanceof BadRequestError && /bad seq_id/.test(e.message));
    await assert.rejects(h.runtime.submit(spec).future(), (e: unknown) => e instanceof NotFoundError && e.requestId === 'b');
  } finally {
    await h.close();
  }
});

test('402 pauses and retries inside the billing window', async () => {
  const h = await harness({ routes: { optim_step: [submitOk('r1')], retrieve_future: [{ status: 402, body: { detail: 'billing' } }, { status: 402 }, result] } });
  try {
    assert.deepEqual(await h.runtime.submit(spec), result.body);
    assert.ok(h.warnings.some((w) => /billing/.test(w)), h.warnings.join('\n'));
  } finally {
    await h.close();
  }
});

test('402 beyond billing_exception_max_pause_duration_sec fails', async () => {
  const h = await harness(
    {
      routes: { 'client/config': [{ body: { billing_exception_max_pause_duration_sec: 0 } }], optim_step: [submitOk('r1')] },
      defaults: { retrieve_future: { status: 402, body: { detail: 'billing' }, delayMs: 5 } },
    },
  );
  try {
    await assert.rejects(h.runtime.submit(spec).future(), (e: unknown) => (e as { status?: number }).status === 402);
  } finally {
    await h.close();
  }
});

test('complete_metadata takes the byte budget, then polls for the payload without metadata', async () => {
  const h = await harness({
    routes: {
      optim_step: [submitOk('r1')],
      retrieve_future: [{ body: { status: 'complete_metadata', response_payload_size: 1234 } }, result],
    },
  });
  try {
    assert.deepEqual(await h.runtime.submit(spec), result.body);
    const polls = await h.peer.requests('retrieve_future');
    assert.deepEqual(polls.map((p) => (p.json as { allow_metadata_only: boolean }).allow_metadata_only), [true, false]);
  } finally {
    await h.close();
  }
});

test('{error, category} fails with RequestFailedError carrying the category', async () => {
  const h = await harness({
    routes: { optim_step: [submitOk('r1'), submitOk('r2')], retrieve_future: [{ body: { error: 'seq out of order', category: 'user' } }, { body: { error: 'x', category: 'Server' } }] },
  });
  try {
    await assert.rejects(h.runtime.submit(spec).future(), (e: unknown) =>
      e instanceof RequestFailedError && e.category === 'user' && e.requestId === 'r1' && /seq out of order/.test(e.message));
    await assert.rejects(h.runtime.submit(spec).future(), (e: unknown) => e instanceof RequestFailedError && e.category === 'server');
  } finally {
    await h.close();
  }
});

test('proto result kinds ask for protobuf; a JSON answer is accepted from a server without proto flags', async () => {
  const sample = { sequences: [{ tokens: [1, 2], stop_reason: 'stop' }] };
  const h = await harness({ routes: { asample: [submitOk('s1')], retrieve_future: [{ body: sample }] } });
  try {
    const out = await h.runtime.submit({ path: 'asample', body: {}, requestType: 'Sample', resultKind: 'SampleResponse' });
    assert.deepEqual(out, sample);
    const [poll] = await h.peer.requests('retrieve_future');
    assert.equal(poll!.headers['accept'], 'application/x-protobuf');
  } finally {
    await h.close();
  }
});

test('a JSON answer for a proto kind is rejected when the server announces protobuf support', async () => {
  const h = await harness({
    routes: { 'client/config': [{ body: { proto_compress_fwdbwd: false } }], asample: [submitOk('s1')], retrieve_future: [{ body: { sequences: [] } }] },
  });
  try {
    await assert.rejects(
      h.runtime.submit({ path: 'asample', body: {}, requestType: 'Sample', resultKind: 'SampleResponse' }).future(),
      (e: unknown) => e instanceof TinkerError && /JSON/.test(e.message),
    );
  } finally {
    await h.close();
  }
});

test('submit retries 5xx/429/connection-level failures with backoff, then fails fast on other 4xx', async () => {
  const h = await harness({
    routes: {
      optim_step: [{ status: 503 }, { status: 429, headers: { 'retry-after-ms': '30' } }, { status: 409 }, submitOk('r1'), { status: 422, body: { detail: 'bad field' } }],
      retrieve_future: [result],
    },
  });
  try {
    assert.deepEqual(await h.runtime.submit(spec), result.body);
    const at = (await h.peer.requests('optim_step')).map((r) => r.at);
    assert.ok(at[2]! - at[1]! >= 28, 'Retry-After honoured');
    await assert.rejects(h.runtime.submit(spec).future(), /bad field/);
    assert.equal((await h.peer.requests('optim_step')).length, 5);
  } finally {
    await h.close();
  }
});

test('submit gives up after maxRetries', async () => {
  const h = await harness({ defaults: { optim_step: { status: 500, body: { detail: 'down' } } } });
  try {
    await assert.rejects(h.runtime.submit(spec, { maxRetries: 2 }).future(), /down/);
    assert.equal((await h.peer.requests('optim_step')).length, 3);
  } finally {
    await h.close();
  }
});

test('protobuf results are decoded on the network thread', async () => {
  const { encodeForwardBackwardOutput, encodeSampleResponse } = await import('@tinker-ts/protocol');
  const fb = {
    loss_fn_output_type: 'ArrayRecord',
    loss_fn_outputs: [{ logprobs: { data: [-0.5, -1.25], dtype: 'float32' as const, shape: [2] } }],
    metrics: { 'loss:sum': 1.75 },
  };
  const sample = { sequences: [{ tokens: [5, 6, 7], stop_reason: 'length' as const, logprobs: [-0.5, -0.25, -1] }] };
  const proto = 'application/x-protobuf';
  const h = await harness({
    routes: {
      forward_backward: [submitOk('f1')],
      asample: [submitOk('s1')],
      retrieve_future: [{ bytes: [...encodeForwardBackwardOutput(fb)], contentType: proto }, { bytes: [...encodeSampleResponse(sample)], contentType: proto }],
    },
  });
  try {
    const out = (await h.runtime.submit({ path: 'forward_backward', body: {}, requestType: 'ForwardBackward', resultKind: 'ForwardBackwardOutput' })) as typeof fb;
    assert.equal(out.metrics['loss:sum'], 1.75);
    assert.deepEqual(Array.from(out.loss_fn_outputs[0]!.logprobs!.data), [-0.5, -1.25]);
    const s = (await h.runtime.submit({ path: 'asample', body: {}, requestType: 'Sample', resultKind: 'SampleResponse' })) as typeof sample;
    assert.deepEqual(Array.from(s.sequences[0]!.tokens), [5, 6, 7]);
    assert.equal(s.sequences[0]!.stop_reason, 'length');
  } finally {
    await h.close();
  }
});

test('corrupt protobuf fails with a clear error', async () => {
  const h = await harness({ routes: { forward_backward: [submitOk('f1')], retrieve_future: [{ bytes: [0xff, 0xff, 0xff], contentType: 'application/x-protobuf' }] } });
  try {
    await assert.rejects(
      h.runtime.submit({ path: 'forward_backward', body: {}, requestType: 'ForwardBackward', resultKind: 'ForwardBackwardOutput' }).future(),
      (e: unknown) => e instanceof TinkerError && /decode the ForwardBackwardOutput/.test(e.message),
    );
  } finally {
    await h.close();
  }
});

test('ForwardBackwardRequest bodies go out as protobuf, zstd-compressed when the server asks', async () => {
  const { decodeForwardBackwardRequest, zstdDecompress } = await import('@tinker-ts/protocol');
  const body = {
    model_id: 'm1',
    seq_id: 3,
    forward_backward_input: {
      loss_fn: 'cross_entropy' as const,
      data: [{ model_input: { chunks: [{ type: 'encoded_text' as const, tokens: [1, 2, 3] }] }, loss_fn_inputs: { target_tokens: { data: [2, 3, 4], dtype: 'int64' as const }, weights: { data: [1, 1, 1], dtype: 'float32' as const } } }],
    },
  };
  for (const compressed of [false, true]) {
    const h = await harness({
      routes: { 'client/config': [{ body: { proto_compress_fwdbwd: compressed } }], forward_backward: [submitOk('f1')], retrieve_future: [{ body: { ok: true } }] },
    });
    try {
      await h.runtime.submit({ path: 'forward_backward', body, requestType: 'ForwardBackward', resultKind: 'json', proto: 'ForwardBackwardRequest' });
      const [sent] = await h.peer.requests('forward_backward');
      assert.equal(sent!.headers['content-type'], 'application/x-protobuf');
      assert.equal(sent!.headers['content-encoding'], compressed ? 'zstd' : undefined);
      let bytes: Uint8Array = Uint8Array.from(sent!.bytes);
      if (compressed) bytes = await zstdDecompress(bytes);
      const back = decodeForwardBackwardRequest(bytes);
      assert.equal(back.model_id, 'm1');
      assert.equal(back.seq_id, 3);
      assert.deepEqual(Array.from(back.forward_backward_input.data[0]!.loss_fn_inputs['target_tokens']!.data), [2, 3, 4]);
    } finally {
      await h.close();
    }
  }
});

test('a body the protobuf encoder rejects fails the call without sending it', async () => {
  const h = await harness({ routes: { forward_backward: [submitOk('f1')] } });
  try {
    const bad = { model_id: 'm', seq_id: 2 ** 40, forward_backward_input: { loss_fn: 'cross_entropy', data: [] } };
    await assert.rejects(h.runtime.submit({ path: 'forward_backward', body: bad, requestType: 'ForwardBackward', resultKind: 'json', proto: 'ForwardBackwardRequest' }).future(), (e: unknown) => e instanceof ValidationError && e.field === 'seq_id');
    assert.equal((await h.peer.requests('forward_backward')).length, 0);
  } finally {
    await h.close();
  }
});
