/**
 * One schema per JSON request body of every route. The
 * server parses each body with these before acting, so bad input gets a 400
 * naming the field. Unknown keys are stripped, never rejected: newer SDKs add
 * fields that this server must tolerate.
 */

import {
  array,
  bool,
  discriminated,
  int,
  literal,
  nullable,
  number,
  numberArray,
  object,
  optional,
  record,
  refine,
  string,
  union,
  unknownValue,
  type Schema,
} from './schema.js';
import { ValidationError } from './errors.js';
import { refusedLossReason } from './refused-losses.js';
import type * as T from './types.js';
import { createCustomLossRequestSchema } from './custom-loss.js';

/** Size limits that keep one request from exhausting the server. */
export const REQUEST_LIMITS = Object.freeze({
  /** Datums per forward_backward request (the SDK chunks at 1024). */
  maxDatums: 65_536,
  /** Elements of one token list or tensor. */
  maxElements: 1 << 24,
  /** Chunks per ModelInput. */
  maxChunks: 4096,
  /** Identifier-like strings (ids, names, paths). */
  maxIdLength: 1024,
  /** Stop strings / tags / events lists. */
  maxListItems: 1024,
  /** Samples per asample. */
  maxNumSamples: 1024,
  /**
   * Largest id a client numbers itself (seq_id, model_seq_id, sampling_session_seq_id, ...):
   * a safe integer, so it round-trips through JSON and into ids like `<session>:train:<n>`.
   */
  maxId: Number.MAX_SAFE_INTEGER,
  /**
   * Largest asample seq_id. The official SDK's subprocess samplers number from k·10^9 and go
   * past 2^53 (those requests are not deduplicated); anything an unsigned 64-bit int can hold.
   */
  maxSampleSeqId: 2 ** 64,
  /** Longest ttl_seconds on every route that takes one: ten years. */
  maxTtlSeconds: 10 * 365 * 24 * 3600,
});

const id = () => string({ minLength: 1, maxLength: REQUEST_LIMITS.maxIdLength, patternName: 'non-empty string' });
const optionalNullable = <V>(s: Schema<V>) => optional(nullable(s));
const metadata = () => optionalNullable(record(unknownValue(), { maxKeys: 1024 }));
const stringMetadata = () => optionalNullable(record(string({ maxLength: 65_536 }), { maxKeys: 1024 }));
/** An id the client numbers itself; one range on every route (see REQUEST_LIMITS.maxId). */
const clientId = () => int({ min: 0, max: REQUEST_LIMITS.maxId });
const seqId = () => optionalNullable(clientId());
/** Seconds until a checkpoint expires; null or absent = never. */
export const ttlSecondsSchema: Schema<number> = int({ min: 1, max: REQUEST_LIMITS.maxTtlSeconds });
const typeTag = <L extends string>(tag: L) => optional(literal(tag));

// ---------------------------------------------------------------- payload pieces

export const tensorDataSchema: Schema<T.TensorData> = object({
  data: numberArray('finite number', { maxLength: REQUEST_LIMITS.maxElements }),
  dtype: literal('int64', 'float32'),
  shape: optionalNullable(numberArray('integer', { min: 0, maxLength: 8 })),
  sparse_crow_indices: optionalNullable(numberArray('integer', { min: 0, maxLength: REQUEST_LIMITS.maxElements })),
  sparse_col_indices: optionalNullable(numberArray('integer', { min: 0, maxLength: REQUEST_LIMITS.maxElements })),
});

const imageFormat = literal('png', 'jpeg');
const expectedTokens = optionalNullable(int({ min: 0 }));

export const modelInputChunkSchema: Schema<T.ModelInputChunk> = discriminated<T.ModelInputChunk>(
  'type',
  {
    encoded_text: object({
      tokens: numberArray('integer', { min: 0, maxLength: REQUEST_LIMITS.maxElements }),
      type: optional(literal('encoded_text'), 'encoded_text'),
    }) as Schema<T.EncodedTextChunk>,
    image: object({
      data: string({ maxLength: 64 << 20 }),
      format: imageFormat,
      expected_tokens: expectedTokens,
      type: literal('image'),
    }) as Schema<T.ImageChunk>,
    image_asset_pointer: object({
      format: imageFormat,
      location: string({ minLength: 1, maxLength: 4096 }),
      expected_tokens: expectedTokens,
      type: literal('image_asset_pointer'),
    }) as Schema<T.ImageAssetPointerChunk>,
    dmel: object({ dmel: string({ maxLength: 64 << 20 }), type: literal('dmel') }) as Schema<T.DmelChunk>,
  },
  // A chunk without `type` is a token chunk: the SDK's EncodedTextChunk defaults it.
  'encoded_text',
);

export const modelInputSchema: Schema<T.ModelInput> = object({
  chunks: array(modelInputChunkSchema, { maxLength: REQUEST_LIMITS.maxChunks }),
});

const provenanceSpanSchema: Schema<T.ProvenanceSpan> = discriminated<T.ProvenanceSpan>('type', {
  prompt_tokens: object({
    type: literal('prompt_tokens'),
    sequence_id: id(),
    offset: int({ min: 0 }),
    length: int({ min: 1 }),
  }),
  sampled_tokens: object({
    type: literal('sampled_tokens'),
    sequence_id: id(),
    offset: int({ min: 0 }),
    length: int({ min: 1 }),
  }),
});

export const datumSchema: Schema<T.Datum> = object({
  model_input: modelInputSchema,
  loss_fn_inputs: record(tensorDataSchema, { maxKeys: 64 }),
  model_input_spans: optionalNullable(array(provenanceSpanSchema, { maxLength: REQUEST_LIMITS.maxElements })),
  loss_fn_input_spans: optionalNullable(array(provenanceSpanSchema, { maxLength: REQUEST_LIMITS.maxElements })),
});

/** A loss name from `known`; hosted names refused here (stable_reinforce) say why. */
function lossNameSchema<L extends string>(known: Schema<L>): Schema<L> {
  return {
    expected: known.expected,
    check(value, path) {
      const refused = refusedLossReason(value);
      if (refused) throw new ValidationError(refused, path);
      return known.check(value, path);
    },
  };
}

/** A built-in loss name. */
export const lossFnTypeSchema: Schema<T.LossFnType> = lossNameSchema(literal('cross_entropy', 'importance_sampling', 'ppo', 'cispo', 'dro'));

export const forwardBackwardInputSchema: Schema<T.ForwardBackwardInput> = object({
  data: array(datumSchema, { maxLength: REQUEST_LIMITS.maxDatums }),
  loss_fn: lossNameSchema(literal('cross_entropy', 'importance_sampling', 'ppo', 'cispo', 'dro', 'custom')),
  loss_fn_config: optionalNullable(record(number(), { maxKeys: 64 })),
  loss_id: optionalNullable(id()),
});

export const adamParamsSchema: Schema<Partial<T.AdamParams>> = object({
  learning_rate: optional(number()),
  beta1: optional(number()),
  beta2: optional(number()),
  eps: optional(number()),
  weight_decay: optional(number()),
  grad_clip_norm: optional(number()),
});

/** One Dimuon step's parameters; ranges and defaults are checked by checkDimuonParams. */
export const dimuonParamsSchema: Schema<T.DimuonParamsInput> = object({
  type: literal('dimuon'),
  // Required, but checked (with a clearer message) by checkDimuonParams.
  learning_rate: optional(number()) as Schema<number>,
  grad_clip_norm: optional(number()),
  beta1: optional(number()),
  damping: optional(number()),
  rank_lr_correction_exponent: optional(number()),
});

/** Either family, told apart by `type` (AdamParams has none). */
export const optimParamsSchema: Schema<Partial<T.AdamParams> | T.DimuonParamsInput> = discriminated<Partial<T.AdamParams> | T.DimuonParamsInput>(
  'type',
  { adamw: adamParamsSchema, dimuon: dimuonParamsSchema },
  'adamw',
);

export const optimizerConfigSchema: Schema<T.OptimizerConfig> = discriminated<T.OptimizerConfig>('type', {
  adamw: object({ type: literal('adamw') }),
  dimuon: object({ type: literal('dimuon'), version: optional(literal(1), 1) }) as Schema<T.DimuonOptimizerConfig>,
});

export const loraConfigSchema: Schema<T.LoraConfig> = object({
  rank: int({ min: 1 }),
  seed: optionalNullable(int()),
  train_unembed: optional(bool(), true),
  train_mlp: optional(bool(), true),
  train_attn: optional(bool(), true),
});

export const samplingParamsSchema: Schema<T.SamplingParams> = object({
  max_tokens: optionalNullable(int()),
  seed: optionalNullable(int()),
  stop: optionalNullable(
    union(
      string(),
      array(string(), { maxLength: REQUEST_LIMITS.maxListItems }),
      numberArray('integer', { min: 0, maxLength: REQUEST_LIMITS.maxListItems }),
    ),
  ),
  temperature: optional(number(), 1),
  top_k: optional(int(), -1),
  top_p: optional(number(), 1),
});

// ---------------------------------------------------------------- service routes

export const clientConfigRequestSchema: Schema<T.ClientConfigRequest> = object({
  sdk_version: string({ maxLength: 256 }),
});

/** `client/dynamic_config` takes no fields the server needs; any object passes. */
export const clientDynamicConfigRequestSchema: Schema<Record<string, unknown>> = object({}, { unknownKeys: 'keep' });

/** `auth/token` is posted with an empty object; the credential is in the header. */
export const authTokenRequestSchema: Schema<Record<string, unknown>> = object({}, { unknownKeys: 'keep' });

export const createSessionRequestSchema: Schema<T.CreateSessionRequest> = object({
  tags: array(string({ maxLength: 1024 }), { maxLength: REQUEST_LIMITS.maxListItems }),
  user_metadata: nullable(record(unknownValue(), { maxKeys: 1024 })),
  sdk_version: string({ maxLength: 256 }),
  project_id: optionalNullable(string({ maxLength: REQUEST_LIMITS.maxIdLength })),
  type: typeTag('create_session'),
});

export const sessionHeartbeatRequestSchema: Schema<T.SessionHeartbeatRequest> = object({
  session_id: id(),
  type: typeTag('session_heartbeat'),
});

export const createSamplingSessionRequestSchema: Schema<T.CreateSamplingSessionRequest> = object({
  session_id: id(),
  sampling_session_seq_id: clientId(),
  base_model: optionalNullable(id()),
  model_path: optionalNullable(id()),
  type: typeTag('create_sampling_session'),
});

const telemetryEventSchema = object(
  {
    event: literal('SESSION_START', 'SESSION_END', 'UNHANDLED_EXCEPTION', 'GENERIC_EVENT'),
    event_id: string({ maxLength: 256 }),
    event_session_index: int(),
    severity: literal('DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'),
    timestamp: string({ maxLength: 64 }),
  },
  // Event kinds carry their own extra fields; keep them for logging.
  { unknownKeys: 'keep' },
) as Schema<T.TelemetryEvent>;

export const telemetrySendRequestSchema: Schema<T.TelemetrySendRequest> = object({
  events: array(telemetryEventSchema, { maxLength: 10_000 }),
  platform: string({ maxLength: 256 }),
  sdk_version: string({ maxLength: 256 }),
  session_id: string({ maxLength: REQUEST_LIMITS.maxIdLength }),
  process_uuid: string({ maxLength: 256 }),
});

// ---------------------------------------------------------------- models

export const createModelRequestSchema: Schema<T.CreateModelRequest> = object({
  session_id: id(),
  model_seq_id: clientId(),
  base_model: id(),
  user_metadata: metadata(),
  lora_config: optionalNullable(loraConfigSchema),
  optimizer_config: optionalNullable(optimizerConfigSchema),
  type: typeTag('create_model'),
});

export const getInfoRequestSchema: Schema<T.GetInfoRequest> = object({
  model_id: id(),
  type: typeTag('get_info'),
});

export const unloadModelRequestSchema: Schema<T.UnloadModelRequest> = object({
  model_id: id(),
  type: typeTag('unload_model'),
});

// ---------------------------------------------------------------- training

export const forwardBackwardRequestSchema: Schema<T.ForwardBackwardRequest> = object({
  forward_backward_input: forwardBackwardInputSchema,
  model_id: id(),
  seq_id: seqId(),
  forward_only: optional(bool()),
});

export const forwardRequestSchema: Schema<T.ForwardRequest> = object({
  forward_input: forwardBackwardInputSchema,
  model_id: id(),
  seq_id: seqId(),
});

/** Which set of parameters it carries (exactly one) is checked by resolveOptimStepParams. */
export const optimStepRequestSchema: Schema<T.OptimStepRequest> = object({
  adam_params: optionalNullable(adamParamsSchema),
  optimizer_params: optionalNullable(dimuonParamsSchema),
  optim_params: optionalNullable(optimParamsSchema),
  model_id: id(),
  seq_id: seqId(),
  type: typeTag('optim_step'),
});

// ---------------------------------------------------------------- weights

const ttlSeconds = () => optionalNullable(ttlSecondsSchema);

export const saveWeightsRequestSchema: Schema<T.SaveWeightsRequest> = object({
  model_id: id(),
  path: optionalNullable(id()),
  seq_id: seqId(),
  ttl_seconds: ttlSeconds(),
  overwrite: optional(bool(), false),
  user_metadata: stringMetadata(),
  type: typeTag('save_weights'),
});

export const saveWeightsForSamplerRequestSchema: Schema<T.SaveWeightsForSamplerRequest> = object({
  model_id: id(),
  path: optionalNullable(id()),
  sampling_session_seq_id: optionalNullable(clientId()),
  seq_id: seqId(),
  ttl_seconds: ttlSeconds(),
  user_metadata: stringMetadata(),
  type: typeTag('save_weights_for_sampler'),
});

export const loadWeightsRequestSchema: Schema<T.LoadWeightsRequest> = refine(
  object({
    model_id: optionalNullable(id()),
    seq_id: seqId(),
    session_id: optionalNullable(id()),
    model_seq_id: optionalNullable(clientId()),
    base_model: optionalNullable(id()),
    user_metadata: metadata(),
    path: id(),
    optimizer: bool(),
    optimizer_config: optionalNullable(optimizerConfigSchema),
    weights_access_token: optionalNullable(string({ maxLength: 4096 })),
    type: typeTag('load_weights'),
  }),
  (req, path) => {
    const bySession = req.session_id != null;
    const byModel = req.model_id != null;
    if (bySession === byModel) {
      throw new ValidationError(
        'exactly one of model_id (with seq_id) or session_id (with model_seq_id) must be set',
        path ? `${path}.model_id` : 'model_id',
      );
    }
    if (bySession && req.model_seq_id == null) {
      throw new ValidationError('required with session_id', path ? `${path}.model_seq_id` : 'model_seq_id');
    }
  },
);

export const weightsInfoRequestSchema: Schema<T.WeightsInfoRequest> = object({
  tinker_path: id(),
});

export const copyWeightsRequestSchema: Schema<T.CopyWeightsRequest> = object({
  session_id: id(),
  model_seq_id: clientId(),
  source_path: id(),
  ttl_seconds: ttlSeconds(),
  weights_access_token: optionalNullable(string({ maxLength: 4096 })),
});

// ---------------------------------------------------------------- sampling

export const sampleRequestSchema: Schema<T.SampleRequest> = refine(
  object({
    num_samples: optional(int({ min: 1, max: REQUEST_LIMITS.maxNumSamples }), 1),
    prompt: modelInputSchema,
    sampling_params: samplingParamsSchema,
    base_model: optionalNullable(id()),
    model_path: optionalNullable(id()),
    sampling_session_id: optionalNullable(id()),
    seq_id: optionalNullable(int({ min: 0, max: REQUEST_LIMITS.maxSampleSeqId })),
    prompt_logprobs: optionalNullable(bool()),
    topk_prompt_logprobs: optional(int({ min: 0 }), 0),
    topk_sample_logprobs: optional(int({ min: 0 }), 0),
    target_prompt_logprobs: optionalNullable(tensorDataSchema),
    record_stability_info: optionalNullable(bool()),
    prompt_alt_tokens_k: optionalNullable(int({ min: 0 })),
    prompt_logprobs_last_n: optionalNullable(int({ min: 1 })),
    type: typeTag('sample'),
  }),
  (req, path) => {
    if (req.sampling_session_id == null && req.base_model == null && req.model_path == null) {
      throw new ValidationError(
        'one of sampling_session_id, model_path or base_model must be set',
        path ? `${path}.sampling_session_id` : 'sampling_session_id',
      );
    }
  },
);

// ---------------------------------------------------------------- futures

export const futureRetrieveRequestSchema: Schema<T.FutureRetrieveRequest> = object({
  request_id: id(),
  allow_metadata_only: optional(bool(), false),
});

export const futuresRetrieveRequestSchema: Schema<T.FuturesRetrieveRequest> = object({
  target: object({
    type: optional(literal('sampling_session'), 'sampling_session'),
    sampling_session_id: id(),
    cloned_sampler_id: optional(clientId(), 0),
  }),
  prev_cursor: optional(clientId(), 0),
  timeout: optionalNullable(number({ min: 0 })),
});

export const cancelFutureRequestSchema: Schema<T.CancelFutureRequest> = object({
  request_id: id(),
});

export const joinSamplingSessionRequestSchema: Schema<T.JoinSamplingSessionRequest> = object({
  sampling_session_id: id(),
  type: typeTag('join_sampling_session'),
});

// ---------------------------------------------------------------- REST

export const checkpointTtlRequestSchema: Schema<T.CheckpointTtlRequest> = object({
  ttl_seconds: nullable(ttlSecondsSchema),
});

export const sessionProjectRequestSchema: Schema<{ project_id: string | null }> = object({
  project_id: nullable(string({ maxLength: REQUEST_LIMITS.maxIdLength })),
});

/** Query string of list routes: `?offset=&limit=` as numbers after decoding. */
export const paginationQuerySchema: Schema<{ offset?: number; limit?: number }> = object({
  offset: optional(int({ min: 0 })),
  limit: optional(int({ min: 1, max: 10_000 })),
});

/** Route (method + path under /api/v1) → its body schema. */
export const REQUEST_SCHEMAS = {
  'POST client/config': clientConfigRequestSchema,
  'POST client/dynamic_config': clientDynamicConfigRequestSchema,
  'POST create_session': createSessionRequestSchema,
  'POST session_heartbeat': sessionHeartbeatRequestSchema,
  'POST create_sampling_session': createSamplingSessionRequestSchema,
  'POST telemetry': telemetrySendRequestSchema,
  'POST create_model': createModelRequestSchema,
  'POST get_info': getInfoRequestSchema,
  'POST unload_model': unloadModelRequestSchema,
  'POST forward_backward': forwardBackwardRequestSchema,
  'POST forward': forwardRequestSchema,
  'POST optim_step': optimStepRequestSchema,
  'POST save_weights': saveWeightsRequestSchema,
  'POST save_weights_for_sampler': saveWeightsForSamplerRequestSchema,
  'POST load_weights': loadWeightsRequestSchema,
  'POST weights_info': weightsInfoRequestSchema,
  'POST copy_weights': copyWeightsRequestSchema,
  'POST asample': sampleRequestSchema,
  'POST retrieve_future': futureRetrieveRequestSchema,
  'POST retrieve_futures': futuresRetrieveRequestSchema,
  'POST cancel_future': cancelFutureRequestSchema,
  'POST join_sampling_session': joinSamplingSessionRequestSchema,
  'POST auth/token': authTokenRequestSchema,
  'PUT training_runs/{id}/checkpoints/{checkpoint_id}/ttl': checkpointTtlRequestSchema,
  'PUT sessions/{id}/project': sessionProjectRequestSchema,
  'POST create_custom_loss': createCustomLossRequestSchema,
} as const;
