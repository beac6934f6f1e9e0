import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeForwardBackwardOutput,
  decodeForwardBackwardRequest,
  decodeSampleResponse,
  decodeSamplingParams,
  decodeTensor,
  encodeForwardBackwardOutput,
  encodeForwardBackwardRequest,
  encodeSampleResponse,
  encodeSamplingParams,
  encodeTensor,
} from './proto.js';
import { ProtocolError, ValidationError } from './errors.js';
import type { ForwardBackwardOutput, ForwardBackwardRequest, SampleResponse } from './types.js';

/** Bytes from a hex string with spaces and `"text"` literals for readability. */
function hex(spec: string): Uint8Array {
  const out: number[] = [];
  for (const part of spec.match(/"[^"]*"|[0-9a-fA-F]{2}/g) ?? []) {
    if (part.startsWith('"')) out.push(...Buffer.from(part.slice(1, -1), 'utf8'));
    else out.push(parseInt(part, 16));
  }
  return new Uint8Array(out);
}

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// ---------------------------------------------------------------- golden vectors

test('Tensor golden bytes: dense float32 [1.0] with shape [1]', () => {
  // dense=1 (4 bytes) | dtype=3 FLOAT32 | shape=4 packed [1]
  const golden = hex('0a 04 0000803f  18 01  22 01 01');
  assert.equal(toHex(encodeTensor({ data: [1], dtype: 'float32', shape: [1] })), toHex(golden));
  assert.deepEqual(decodeTensor(golden), { data: [1], dtype: 'float32', shape: [1] });
});

test('Tensor golden bytes: sparse CSR int64 with int64 indices', () => {
  // 2x3 matrix [[0, 7, 0], [0, 0, 0]] → values [7], crow [0,1,1], col [1]
  const golden = hex(`
    12 2e
       0a 08 0700000000000000
       12 18 0000000000000000 0100000000000000 0100000000000000
       1a 08 0100000000000000
    18 02
    22 02 02 03`);
  const td = { data: [7], dtype: 'int64' as const, shape: [2, 3], sparse_crow_indices: [0, 1, 1], sparse_col_indices: [1] };
  assert.equal(toHex(encodeTensor(td)), toHex(golden));
  assert.deepEqual(decodeTensor(golden), td);
});

const goldenRequest = hex(`
  0a 01 "m"
  10 01
  1a 38
     0a 0c 0a 0a 0a 08 01000000 02000000
     12 28
        0a 0d "target_tokens"
        12 17
           0a 10 0200000000000000 0300000000000000
           18 02
           22 01 02
  22 0d "cross_entropy"`);

const jsonRequest: ForwardBackwardRequest = {
  forward_backward_input: {
    data: [
      {
        model_input: { chunks: [{ type: 'encoded_text', tokens: [1, 2] }] },
        loss_fn_inputs: { target_tokens: { data: [2, 3], dtype: 'int64', shape: [2] } },
      },
    ],
    loss_fn: 'cross_entropy',
  },
  model_id: 'm',
  seq_id: 1,
};

test('ForwardBackwardRequest golden bytes encode and decode', () => {
  assert.equal(toHex(encodeForwardBackwardRequest(jsonRequest)), toHex(goldenRequest));
  assert.deepEqual(decodeForwardBackwardRequest(goldenRequest), jsonRequest);
});

const goldenOutput = hex(`
  0a 0b "ArrayRecord"
  12 47
     0a 0b "ArrayRecord"
     12 36
        0a 08 "logprobs"
        12 2a
           0a 0c 000080bf 000000c0 000000bf
           12 18 0000000000000000 0400000000000000 0c00000000000000
           18 01
     18 02
  1a 13 0a 08 "loss:sum" 11 0000000000000c40`);

const jsonOutput: ForwardBackwardOutput = {
  loss_fn_output_type: 'ArrayRecord',
  loss_fn_outputs: [
    { logprobs: { data: [-1], dtype: 'float32', shape: [1] } },
    { logprobs: { data: [-2, -0.5], dtype: 'float32', shape: [2] } },
  ],
  metrics: { 'loss:sum': 3.5 },
};

test('seq_id 0 on the wire (the SDK\'s "unset") decodes as absent', () => {
  const decoded = decodeForwardBackwardRequest(encodeForwardBackwardRequest({ ...jsonRequest, seq_id: null }));
  assert.equal('seq_id' in decoded, false);
});

test('ForwardBackwardOutput golden bytes encode and decode (one ArrayRecord, byte offsets)', () => {
  assert.equal(toHex(encodeForwardBackwardOutput(jsonOutput)), toHex(goldenOutput));
  assert.deepEqual(decodeForwardBackwardOutput(goldenOutput), jsonOutput);
});

test('SampleResponse golden bytes: stop reason, NaN prompt logprob ↔ null', () => {
  const golden = hex(`
    0a 0e 08 01 12 04 05000000 1a 04 000000bf
    12 08 0000c07f 000080bf`);
  const json: SampleResponse = {
    sequences: [{ stop_reason: 'length', tokens: [5], logprobs: [-0.5] }],
    prompt_logprobs: [null, -1],
  };
  assert.equal(toHex(encodeSampleResponse(json)), toHex(golden));
  assert.deepEqual(decodeSampleResponse(golden), { ...json, prompt_cache_hit_tokens: 0 });
});

test('SampleResponse golden bytes: top-k prompt logprobs with -99999 sentinel rows', () => {
  // TopkPromptLogprobs{token_ids=[0,7], logprobs=[-99999, -0.25], k=1, prompt_length=2}
  const golden = hex(`
    0a 02 12 00
    1a 18 0a 08 00000000 07000000 12 08 804fc3c7 000080be 18 01 20 02`);
  const decoded = decodeSampleResponse(golden);
  assert.deepEqual(decoded.topk_prompt_logprobs, [null, [[7, -0.25]]]);
  assert.deepEqual(decoded.sequences, [{ stop_reason: 'stop', tokens: [] }]);
  assert.equal(
    toHex(encodeSampleResponse({ sequences: [{ stop_reason: 'stop', tokens: [] }], topk_prompt_logprobs: [null, [[7, -0.25]]] })),
    toHex(golden),
  );
});

test('SampleResponse decodes the newer TopkLogprobs `length` field and prompt_cache_hit_tokens', () => {
  const golden = hex('20 09');
  assert.deepEqual(decodeSampleResponse(golden), { sequences: [], prompt_cache_hit_tokens: 9 });
});

// ---------------------------------------------------------------- round trips

test('ForwardBackwardRequest round trip: images, sparse 2-D inputs, config, forward_only, spans', () => {
  const req: ForwardBackwardRequest = {
    forward_backward_input: {
      data: [
        {
          model_input: {
            chunks: [
              { type: 'encoded_text', tokens: [10, 20, 30] },
              { type: 'image', data: Buffer.from([1, 2, 3, 255]).toString('base64'), format: 'png', expected_tokens: 2 },
            ],
          },
          loss_fn_inputs: {
            target_tokens: { data: [5, 9], dtype: 'int64', shape: [5, 2], sparse_crow_indices: [0, 1, 1, 2, 2, 2], sparse_col_indices: [0, 1] },
            weights: { data: [0.5, 0.25, 1, 0, 0, 0, 0, 0, 0, 0], dtype: 'float32', shape: [5, 2] },
          },
          model_input_spans: [{ type: 'prompt_tokens', sequence_id: 's1', offset: 0, length: 3 }],
          loss_fn_input_spans: [{ type: 'sampled_tokens', sequence_id: 's2', offset: 4, length: 5 }],
        },
        {
          model_input: { chunks: [{ type: 'encoded_text', tokens: [] }] },
          loss_fn_inputs: {
            target_tokens: { data: [], dtype: 'int64' },
            logprobs: { data: [], dtype: 'float32' },
            advantages: { data: [], dtype: 'float32' },
          },
        },
      ],
      loss_fn: 'ppo',
      loss_fn_config: { clip_low_threshold: 0.7, clip_high_threshold: 1.3 },
    },
    model_id: 'run-1',
    seq_id: 42,
    forward_only: true,
  };
  assert.deepEqual(decodeForwardBackwardRequest(encodeForwardBackwardRequest(req)), req);
});

test('loss_fn_config_v2 (field 7) is preferred over field 5', () => {
  // field 5 {beta: 1.0}; field 7 {beta: LossConfigValue{number: 2.0}}
  const bytes = hex(`
    22 03 "dro"
    2a 0f 0a 04 "beta" 11 000000000000f03f
    3a 11 0a 04 "beta" 12 09 09 0000000000000040`);
  assert.deepEqual(decodeForwardBackwardRequest(bytes).forward_backward_input.loss_fn_config, { beta: 2 });
});

test('ForwardBackwardOutput round trip with ragged trailing shapes splits into records', () => {
  const out: ForwardBackwardOutput = {
    loss_fn_output_type: 'ArrayRecord',
    loss_fn_outputs: [
      { logprobs: { data: [1, 2, 3, 4], dtype: 'float32', shape: [2, 2] }, elementwise_loss: { data: [0.5, 0.25], dtype: 'float32', shape: [2] } },
      { logprobs: { data: [1, 2, 3], dtype: 'float32', shape: [1, 3] }, elementwise_loss: { data: [0.125], dtype: 'float32', shape: [1] } },
    ],
    metrics: { 'loss:sum': -1.25, 'tokens:sum': 3 },
  };
  assert.deepEqual(decodeForwardBackwardOutput(encodeForwardBackwardOutput(out)), out);
});

test('ForwardBackwardOutput with no outputs keeps its metrics', () => {
  const out: ForwardBackwardOutput = { loss_fn_output_type: 'ArrayRecord', loss_fn_outputs: [], metrics: { 'loss:sum': 0 } };
  assert.deepEqual(decodeForwardBackwardOutput(encodeForwardBackwardOutput(out)), out);
});

test('float32 values round through float32 precision on the wire', () => {
  const out = decodeTensor(encodeTensor({ data: [0.1], dtype: 'float32' }));
  assert.equal(out.data[0], Math.fround(0.1));
  assert.notEqual(out.data[0], 0.1);
});

test('bfloat16 and int32 batched tensors widen to float32 and int64', () => {
  // BatchedTensor dtype BFLOAT16: 0x3fc0 = 1.5, 0xc000 = -2 ; one datum
  const bf16 = hex(`
    12 28 12 26 0a 08 "logprobs"
       12 1a 0a 04 c03f 00c0 12 10 0000000000000000 0400000000000000 18 04
    `);
  const decoded = decodeForwardBackwardOutput(bf16);
  assert.deepEqual(decoded.loss_fn_outputs, [{ logprobs: { data: [1.5, -2], dtype: 'float32', shape: [2] } }]);
  const int32 = hex(`
    12 28 12 26 0a 08 "tokenids"
       12 1a 0a 04 0700ffff 12 10 0000000000000000 0200000000000000 18 03
    `);
  // Two int32 items would need 8 data bytes; this one has 4 bytes = one item (0xffff0007) and offsets [0, 2] (misaligned).
  assert.throws(() => decodeForwardBackwardOutput(int32), ProtocolError);
  const int32ok = hex(`
    12 28 12 26 0a 08 "tokenids"
       12 1a 0a 04 07000000 12 10 0000000000000000 0400000000000000 18 03
    `);
  assert.deepEqual(decodeForwardBackwardOutput(int32ok).loss_fn_outputs, [{ tokenids: { data: [7], dtype: 'int64', shape: [1] } }]);
});

test('SampleResponse round trip with top-k sampled logprobs and newer fields', () => {
  const resp = {
    sequences: [
      { stop_reason: 'stop' as const, tokens: [1, 2], logprobs: [-0.5, -0.25], topk_logprobs: [[[1, -0.5], [3, -1]], [[2, -0.25]]] as Array<Array<[number, number]>> },
      { stop_reason: 'length' as const, tokens: [4] },
    ],
    prompt_logprobs: [null, -2, -3],
    topk_prompt_logprobs: [null, [[5, -1], [6, -2]], [[7, -0.5]]] as Array<Array<[number, number]> | null>,
    prompt_cache_hit_tokens: 3,
    target_prompt_logprobs: { data: [0.5, -1], dtype: 'float32' as const, shape: [2] },
    prompt_alt_tokens: {
      tokens: { data: [8, 9, 10, 11], dtype: 'int64' as const, shape: [2, 2] },
      logprobs: { data: [-0.5, -4, -1, -2], dtype: 'float32' as const, shape: [2, 2] },
    },
  };
  assert.deepEqual(decodeSampleResponse(encodeSampleResponse(resp)), resp);
});

test('SamplingParams round trip for stop strings and stop tokens', () => {
  const a = { max_tokens: 16, seed: 2 ** 40, temperature: 0.5, top_k: 50, top_p: 0.75, stop: ['\n\n', 'END'] };
  assert.deepEqual(decodeSamplingParams(encodeSamplingParams(a)), a);
  const b = { max_tokens: 1, stop: [128001, 7] };
  assert.deepEqual(decodeSamplingParams(encodeSamplingParams(b)), b);
});

test('unknown fields (newer senders) are skipped', () => {
  // field 99 varint, field 100 length-delimited, then model_id
  const bytes = hex('98 06 05  a2 06 03 010203  0a 01 "x"');
  assert.equal(decodeForwardBackwardRequest(bytes).model_id, 'x');
});

// ---------------------------------------------------------------- rejection

test('every truncation of a valid request is rejected with ProtocolError, never a hang', () => {
  const full = encodeForwardBackwardRequest(jsonRequest);
  let rejected = 0;
  for (let n = 1; n < full.length; n++) {
    try {
      decodeForwardBackwardRequest(full.subarray(0, n));
    } catch (err) {
      assert.ok(err instanceof ProtocolError, `prefix ${n}: ${String(err)}`);
      rejected++;
    }
  }
  // A few prefixes end exactly on a field boundary and are valid shorter messages.
  assert.ok(rejected >= full.length - 6, `only ${rejected} of ${full.length - 1} prefixes rejected`);
});

test('every truncation of a ForwardBackwardOutput and SampleResponse is rejected or decodes cleanly', () => {
  for (const [bytes, decode] of [
    [goldenOutput, decodeForwardBackwardOutput],
    [encodeSampleResponse({ sequences: [{ stop_reason: 'stop', tokens: [1, 2, 3], logprobs: [-1, -2, -3] }] }), decodeSampleResponse],
  ] as const) {
    for (let n = 1; n < bytes.length; n++) {
      try {
        (decode as (b: Uint8Array) => unknown)(bytes.subarray(0, n));
      } catch (err) {
        assert.ok(err instanceof ProtocolError, `prefix ${n}: ${String(err)}`);
      }
    }
  }
});

test('a length prefix larger than the input is rejected without allocating it', () => {
  // data field claiming 2^31 bytes
  const bytes = hex('1a 80 80 80 80 08 00');
  assert.throws(() => decodeForwardBackwardRequest(bytes), (err: unknown) => err instanceof ProtocolError && /runs past|truncated/.test(err.message));
});

test('random corruption never throws anything but ProtocolError', () => {
  const base = encodeForwardBackwardRequest(jsonRequest);
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < 2000; i++) {
    const bytes = base.slice();
    const flips = 1 + Math.floor(rand() * 4);
    for (let f = 0; f < flips; f++) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
    try {
      decodeForwardBackwardRequest(bytes);
    } catch (err) {
      assert.ok(err instanceof ProtocolError, String(err));
    }
  }
});

test('wrong wire type for a known field names the field', () => {
  // model_id (field 1) sent as varint
  assert.throws(
    () => decodeForwardBackwardRequest(hex('08 01')),
    (err: unknown) => err instanceof ProtocolError && err.field === 'model_id',
  );
});

test('a tensor without dtype is rejected naming the tensor', () => {
  const bytes = hex(`1a 14 12 12 0a 0d "target_tokens" 12 01 00`);
  // value is an empty Tensor: dtype UNSPECIFIED
  const fixed = hex(`1a 13 12 11 0a 0d "target_tokens" 12 00`);
  assert.throws(() => decodeForwardBackwardRequest(bytes), ProtocolError);
  assert.throws(
    () => decodeForwardBackwardRequest(fixed),
    (err: unknown) => err instanceof ProtocolError && err.field === 'forward_backward_input.data[0].loss_fn_inputs.target_tokens.dtype',
  );
});

test('dense bytes that are not a whole number of items are rejected', () => {
  assert.throws(() => decodeTensor(hex('0a 03 000000 18 01')), (err: unknown) => err instanceof ProtocolError && /multiple of 4/.test(err.message));
});

test('unknown stop reason is rejected', () => {
  assert.throws(() => decodeSampleResponse(hex('0a 02 08 07')), (err: unknown) => err instanceof ProtocolError && err.field === 'sequences[0].stop_reason');
});

test('encoding rejects values the wire cannot carry', () => {
  assert.throws(() => encodeTensor({ data: [1.5], dtype: 'int64' }), ValidationError);
  assert.throws(() => encodeTensor({ data: [2 ** 60], dtype: 'int64' }), ValidationError);
  const withPointer: ForwardBackwardRequest = {
    ...jsonRequest,
    forward_backward_input: {
      ...jsonRequest.forward_backward_input,
      data: [{ model_input: { chunks: [{ type: 'image_asset_pointer', format: 'png', location: 'x' }] }, loss_fn_inputs: {} }],
    },
  };
  assert.throws(() => encodeForwardBackwardRequest(withPointer), /no protobuf form/);
});

test('int64 values beyond 2^53 are rejected on decode', () => {
  assert.throws(() => decodeTensor(hex('0a 08 0000000000000040 18 02')), (err: unknown) => err instanceof ProtocolError && /exactly/.test(err.message));
});

test('decoding 1M tokens is fast', () => {
  const tokens = Array.from({ length: 1 << 20 }, (_, i) => i % 50000);
  const req: ForwardBackwardRequest = {
    forward_backward_input: {
      data: [{ model_input: { chunks: [{ type: 'encoded_text', tokens }] }, loss_fn_inputs: { target_tokens: { data: tokens, dtype: 'int64' } } }],
      loss_fn: 'cross_entropy',
    },
    model_id: 'm',
    seq_id: 1,
  };
  const t0 = performance.now();
  const bytes = encodeForwardBackwardRequest(req);
  const back = decodeForwardBackwardRequest(bytes);
  const ms = performance.now() - t0;
  assert.equal(back.forward_backward_input.data[0]!.loss_fn_inputs.target_tokens!.data.length, tokens.length);
  assert.ok(ms < 5000, `took ${ms} ms`);
});
