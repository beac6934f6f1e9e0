/**
 * Cross-checks the hand-written codec against @bufbuild/protobuf's reflective
 * codec, driven by a descriptor of `tinker_public` written out below (the
 * field numbers of the descriptor the SDK ships, plus the newer fields). Each
 * side decodes what the other encodes, so packing, map entries, oneofs and
 * proto3 optionals are checked against a reference implementation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, createFileRegistry, fromBinary, toBinary, type DescMessage } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import {
  decodeForwardBackwardOutput,
  decodeForwardBackwardRequest,
  decodeSampleResponse,
  encodeForwardBackwardOutput,
  encodeForwardBackwardRequest,
  encodeSampleResponse,
} from './proto.js';

const TYPE = { double: 1, float: 2, int64: 3, uint64: 4, int32: 5, bool: 8, string: 9, message: 11, bytes: 12, uint32: 13, enum: 14 } as const;
type Scalar = keyof typeof TYPE;

interface FieldOpts {
  repeated?: boolean;
  ref?: string;
  oneof?: number;
  optional?: boolean;
}

/** One field; `optional` adds proto3's synthetic oneof. */
function field(name: string, number: number, type: Scalar, opts: FieldOpts = {}) {
  return { name, number, type, opts };
}

type Field = ReturnType<typeof field>;

function message(name: string, fields: Field[], extra: { oneofs?: string[]; maps?: Array<[string, number, Scalar, string?]> } = {}) {
  const oneofDecl = (extra.oneofs ?? []).map((n) => ({ name: n }));
  const nestedType: object[] = [];
  const all: object[] = [];
  for (const f of fields) {
    let oneofIndex = f.opts.oneof;
    if (f.opts.optional) {
      oneofIndex = oneofDecl.length;
      oneofDecl.push({ name: `_${f.name}` });
    }
    all.push({
      name: f.name,
      number: f.number,
      label: f.opts.repeated ? 3 : 1,
      type: TYPE[f.type],
      ...(f.opts.ref ? { typeName: `.tinker_public.${f.opts.ref}` } : {}),
      ...(oneofIndex !== undefined ? { oneofIndex } : {}),
      ...(f.opts.optional ? { proto3Optional: true } : {}),
    });
  }
  for (const [mapName, number, valueType, valueRef] of extra.maps ?? []) {
    const entry = `${mapName.replace(/(^|_)(\w)/g, (_m, _u, c: string) => c.toUpperCase())}Entry`;
    nestedType.push({
      name: entry,
      options: { mapEntry: true },
      field: [
        { name: 'key', number: 1, label: 1, type: TYPE.string },
        { name: 'value', number: 2, label: 1, type: TYPE[valueType], ...(valueRef ? { typeName: `.tinker_public.${valueRef}` } : {}) },
      ],
    });
    all.push({ name: mapName, number, label: 3, type: TYPE.message, typeName: `.tinker_public.${name}.${entry}` });
  }
  return { name, field: all, nestedType, oneofDecl };
}

const file = create(FileDescriptorProtoSchema, {
  name: 'tinker_public.proto',
  package: 'tinker_public',
  syntax: 'proto3',
  enumType: [
    { name: 'DType', value: ['DTYPE_UNSPECIFIED', 'DTYPE_FLOAT32', 'DTYPE_INT64', 'DTYPE_INT32', 'DTYPE_BFLOAT16'].map((n, i) => ({ name: n, number: i })) },
    { name: 'StopReason', value: [{ name: 'STOP_REASON_STOP', number: 0 }, { name: 'STOP_REASON_LENGTH', number: 1 }] },
  ],
  messageType: [
    message('SparseCsr', [field('values', 1, 'bytes'), field('crow_indices', 2, 'bytes'), field('col_indices', 3, 'bytes')]),
    message(
      'Tensor',
      [
        field('dense', 1, 'bytes', { oneof: 0 }),
        field('sparse_csr', 2, 'message', { ref: 'SparseCsr', oneof: 0 }),
        field('dtype', 3, 'enum', { ref: 'DType' }),
        field('shape', 4, 'int64', { repeated: true }),
      ],
      { oneofs: ['encoding'] },
    ),
    message('EncodedTextChunk', [field('tokens', 1, 'bytes')]),
    message('ImageChunk', [field('data', 1, 'bytes'), field('format', 2, 'string'), field('expected_tokens', 3, 'int32', { optional: true })]),
    message('DmelChunk', [field('dmel', 1, 'bytes')]),
    message(
      'Chunk',
      [
        field('encoded_text', 1, 'message', { ref: 'EncodedTextChunk', oneof: 0 }),
        field('image', 2, 'message', { ref: 'ImageChunk', oneof: 0 }),
        field('dmel', 3, 'message', { ref: 'DmelChunk', oneof: 0 }),
      ],
      { oneofs: ['chunk'] },
    ),
    message('SpanRun', [field('sequence_id', 1, 'string'), field('offset', 2, 'int64'), field('length', 3, 'int64')]),
    message(
      'ProvenanceSpan',
      [field('prompt_tokens', 1, 'message', { ref: 'SpanRun', oneof: 0 }), field('sampled_tokens', 2, 'message', { ref: 'SpanRun', oneof: 0 })],
      { oneofs: ['kind'] },
    ),
    message(
      'Datum',
      [
        field('model_input', 1, 'message', { ref: 'Chunk', repeated: true }),
        field('model_input_spans', 3, 'message', { ref: 'ProvenanceSpan', repeated: true }),
        field('loss_fn_input_spans', 4, 'message', { ref: 'ProvenanceSpan', repeated: true }),
      ],
      { maps: [['loss_fn_inputs', 2, 'message', 'Tensor']] },
    ),
    message('LossConfigValue', [field('number', 1, 'double', { oneof: 0 }), field('text', 2, 'string', { oneof: 0 })], { oneofs: ['value'] }),
    message(
      'ForwardBackwardRequest',
      [
        field('model_id', 1, 'string'),
        field('seq_id', 2, 'int32'),
        field('data', 3, 'message', { ref: 'Datum', repeated: true }),
        field('loss_fn', 4, 'string'),
        field('forward_only', 6, 'bool'),
      ],
      { maps: [['loss_fn_config', 5, 'double'], ['loss_fn_config_v2', 7, 'message', 'LossConfigValue']] },
    ),
    message('BatchedTensor', [
      field('data', 1, 'bytes'),
      field('offsets', 2, 'bytes'),
      field('dtype', 3, 'enum', { ref: 'DType' }),
      field('trailing_shape', 4, 'int64', { repeated: true }),
    ]),
    message('ArrayRecord', [field('type_tag', 1, 'string'), field('num_datums', 3, 'int64')], { maps: [['fields', 2, 'message', 'BatchedTensor']] }),
    message(
      'ForwardBackwardOutput',
      [field('loss_fn_output_type', 1, 'string'), field('loss_fn_outputs', 2, 'message', { ref: 'ArrayRecord', repeated: true })],
      { maps: [['metrics', 3, 'double']] },
    ),
    message('TopkLogprobs', [field('token_ids', 1, 'bytes'), field('logprobs', 2, 'bytes'), field('k', 3, 'uint32'), field('length', 4, 'uint32')]),
    message('PromptAltTokens', [field('tokens', 1, 'message', { ref: 'Tensor' }), field('logprobs', 2, 'message', { ref: 'Tensor' })]),
    message('SampledSequence', [
      field('stop_reason', 1, 'enum', { ref: 'StopReason' }),
      field('tokens', 2, 'bytes'),
      field('logprobs', 3, 'bytes', { optional: true }),
      field('topk_sampled_logprobs', 4, 'message', { ref: 'TopkLogprobs' }),
    ]),
    message('SampleResponse', [
      field('sequences', 1, 'message', { ref: 'SampledSequence', repeated: true }),
      field('prompt_logprobs', 2, 'bytes', { optional: true }),
      field('topk_prompt_logprobs', 3, 'message', { ref: 'TopkLogprobs', optional: true }),
      field('prompt_cache_hit_tokens', 4, 'int32'),
      field('target_prompt_logprobs', 5, 'message', { ref: 'Tensor' }),
      field('prompt_alt_tokens', 6, 'message', { ref: 'PromptAltTokens' }),
    ]),
  ] as never,
});

const registry = createFileRegistry(file, () => undefined);
const desc = (name: string): DescMessage => {
  const m = registry.getMessage(`tinker_public.${name}`);
  assert.ok(m, name);
  return m;
};

const i32 = (xs: number[]) => new Uint8Array(Int32Array.from(xs).buffer);
const i64 = (xs: number[]) => new Uint8Array(BigInt64Array.from(xs.map(BigInt)).buffer);
const f32 = (xs: number[]) => new Uint8Array(Float32Array.from(xs).buffer);

test('reference-encoded ForwardBackwardRequest decodes to the JSON shape', () => {
  const Req = desc('ForwardBackwardRequest');
  const msg = create(Req, {
    modelId: 'model_abc',
    seqId: 7,
    lossFn: 'ppo',
    forwardOnly: true,
    lossFnConfig: { clip_low_threshold: 0.5 },
    data: [
      {
        modelInput: [
          { chunk: { case: 'encodedText', value: { tokens: i32([1, 2, 3]) } } },
          { chunk: { case: 'image', value: { data: new Uint8Array([137, 80]), format: 'png', expectedTokens: 1 } } },
        ],
        lossFnInputs: {
          target_tokens: { encoding: { case: 'dense', value: i64([2, 3, 4, 5]) }, dtype: 2, shape: [4n] },
          logprobs: { encoding: { case: 'dense', value: f32([-1, -2, -3, -4]) }, dtype: 1, shape: [4n] },
          advantages: {
            encoding: { case: 'sparseCsr', value: { values: f32([1.5]), crowIndices: i64([0, 1]), colIndices: i64([2]) } },
            dtype: 1,
            shape: [1n, 4n],
          },
        },
        modelInputSpans: [{ kind: { case: 'promptTokens', value: { sequenceId: 's', offset: 0n, length: 4n } } }],
      },
    ],
  } as never);
  const decoded = decodeForwardBackwardRequest(toBinary(Req, msg));
  assert.deepEqual(decoded, {
    forward_backward_input: {
      data: [
        {
          model_input: {
            chunks: [
              { type: 'encoded_text', tokens: [1, 2, 3] },
              { type: 'image', data: Buffer.from([137, 80]).toString('base64'), format: 'png', expected_tokens: 1 },
            ],
          },
          loss_fn_inputs: {
            target_tokens: { data: [2, 3, 4, 5], dtype: 'int64', shape: [4] },
            logprobs: { data: [-1, -2, -3, -4], dtype: 'float32', shape: [4] },
            advantages: { data: [1.5], dtype: 'float32', shape: [1, 4], sparse_crow_indices: [0, 1], sparse_col_indices: [2] },
          },
          model_input_spans: [{ type: 'prompt_tokens', sequence_id: 's', offset: 0, length: 4 }],
        },
      ],
      loss_fn: 'ppo',
      loss_fn_config: { clip_low_threshold: 0.5 },
    },
    model_id: 'model_abc',
    seq_id: 7,
    forward_only: true,
  });
});

test('our ForwardBackwardRequest bytes parse in the reference codec with the same values', () => {
  const bytes = encodeForwardBackwardRequest({
    forward_backward_input: {
      data: [
        {
          model_input: { chunks: [{ type: 'encoded_text', tokens: [5, 6] }] },
          loss_fn_inputs: { target_tokens: { data: [6, 7], dtype: 'int64', shape: [2] }, weights: { data: [1, 0.5], dtype: 'float32' } },
        },
      ],
      loss_fn: 'cross_entropy',
      loss_fn_config: { beta: 0.25 },
    },
    model_id: 'm',
    seq_id: 3,
  });
  const msg = fromBinary(desc('ForwardBackwardRequest'), bytes) as unknown as {
    modelId: string;
    seqId: number;
    lossFn: string;
    lossFnConfig: Record<string, number>;
    lossFnConfigV2: Record<string, { value: { case: string; value: number } }>;
    data: Array<{ modelInput: Array<{ chunk: { case: string; value: { tokens: Uint8Array } } }>; lossFnInputs: Record<string, { dtype: number; shape: bigint[]; encoding: { case: string; value: Uint8Array } }> }>;
  };
  assert.equal(msg.modelId, 'm');
  assert.equal(msg.seqId, 3);
  assert.equal(msg.lossFn, 'cross_entropy');
  assert.deepEqual(msg.lossFnConfig, { beta: 0.25 });
  assert.deepEqual(msg.lossFnConfigV2.beta!.value, { case: 'number', value: 0.25 });
  const d = msg.data[0]!;
  assert.equal(d.modelInput[0]!.chunk.case, 'encodedText');
  assert.deepEqual(Array.from(new Int32Array(d.modelInput[0]!.chunk.value.tokens.slice().buffer)), [5, 6]);
  const tt = d.lossFnInputs.target_tokens!;
  assert.equal(tt.dtype, 2);
  assert.deepEqual(tt.shape, [2n]);
  assert.deepEqual(Array.from(new BigInt64Array(tt.encoding.value.slice().buffer)), [6n, 7n]);
  assert.equal(d.lossFnInputs.weights!.encoding.case, 'dense');
  assert.deepEqual(d.lossFnInputs.weights!.shape, []);
});

test('ForwardBackwardOutput agrees with the reference codec both ways', () => {
  const Out = desc('ForwardBackwardOutput');
  const reference = create(Out, {
    lossFnOutputType: 'module:ArrayRecord',
    metrics: { 'loss:sum': 1.25 },
    lossFnOutputs: [
      {
        typeTag: 'ArrayRecord',
        numDatums: 2n,
        fields: { logprobs: { data: f32([-1, -2, -3]), offsets: i64([0, 4, 12]), dtype: 1, trailingShape: [] } },
      },
    ],
  } as never);
  assert.deepEqual(decodeForwardBackwardOutput(toBinary(Out, reference)), {
    loss_fn_output_type: 'ArrayRecord',
    loss_fn_outputs: [{ logprobs: { data: [-1], dtype: 'float32', shape: [1] } }, { logprobs: { data: [-2, -3], dtype: 'float32', shape: [2] } }],
    metrics: { 'loss:sum': 1.25 },
  });
  const ours = fromBinary(
    Out,
    encodeForwardBackwardOutput({
      loss_fn_output_type: 'ArrayRecord',
      loss_fn_outputs: [{ logprobs: { data: [-0.5, -0.25], dtype: 'float32', shape: [2] } }],
      metrics: { 'loss:sum': 0.75 },
    }),
  ) as unknown as { metrics: Record<string, number>; lossFnOutputs: Array<{ numDatums: bigint; fields: Record<string, { offsets: Uint8Array; dtype: number }> }> };
  assert.deepEqual(ours.metrics, { 'loss:sum': 0.75 });
  assert.equal(ours.lossFnOutputs[0]!.numDatums, 2n - 1n);
  assert.deepEqual(Array.from(new BigInt64Array(ours.lossFnOutputs[0]!.fields.logprobs!.offsets.slice().buffer)), [0n, 8n]);
});

test('SampleResponse agrees with the reference codec both ways', () => {
  const Resp = desc('SampleResponse');
  const reference = create(Resp, {
    sequences: [
      { stopReason: 1, tokens: i32([9, 8]), logprobs: f32([-0.5, -1]), topkSampledLogprobs: { tokenIds: i32([9, 0, 8, 0]), logprobs: f32([-0.5, -99999, -1, -99999]), k: 2, length: 2 } },
      { stopReason: 0, tokens: i32([]) },
    ],
    promptLogprobs: f32([Number.NaN, -0.75]),
    topkPromptLogprobs: { tokenIds: i32([0, 4]), logprobs: f32([-99999, -0.75]), k: 1, length: 2 },
    promptCacheHitTokens: 5,
  } as never);
  assert.deepEqual(decodeSampleResponse(toBinary(Resp, reference)), {
    sequences: [
      { stop_reason: 'length', tokens: [9, 8], logprobs: [-0.5, -1], topk_logprobs: [[[9, -0.5]], [[8, -1]]] },
      { stop_reason: 'stop', tokens: [] },
    ],
    prompt_logprobs: [null, -0.75],
    topk_prompt_logprobs: [null, [[4, -0.75]]],
    prompt_cache_hit_tokens: 5,
  });
  const ours = fromBinary(
    Resp,
    encodeSampleResponse({ sequences: [{ stop_reason: 'stop', tokens: [3], logprobs: [-2] }], prompt_logprobs: [null, -1], prompt_cache_hit_tokens: 2 }),
  ) as unknown as { sequences: Array<{ stopReason: number; tokens: Uint8Array; logprobs?: Uint8Array }>; promptLogprobs?: Uint8Array; promptCacheHitTokens: number };
  assert.equal(ours.sequences[0]!.stopReason, 0);
  assert.deepEqual(Array.from(new Int32Array(ours.sequences[0]!.tokens.slice().buffer)), [3]);
  assert.ok(ours.promptLogprobs && Number.isNaN(new Float32Array(ours.promptLogprobs.slice().buffer)[0]));
  assert.equal(ours.promptCacheHitTokens, 2);
});
