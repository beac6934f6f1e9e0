/**
 * Every Tinker wire type, spelled exactly as its JSON (snake_case).
 *
 * Optional fields are `?: T | null` wherever the official SDK declares
 * `Optional[...] = None`: its pydantic models accept a missing key and an
 * explicit null alike, so a server may send either. Fields that the SDK
 * requires (no default) are required here, because the SDK validates
 * responses strictly.
 */

import type { DimuonParamsInput, OptimizerConfig } from './optimizer.js';

export * from './optimizer.js';

// ---------------------------------------------------------------- scalars

export type ModelID = string;
export type RequestID = string;

/** Wire dtypes of TensorData. Only these two exist in JSON. */
export type TensorDtype = 'int64' | 'float32';

export type LossFnType = 'cross_entropy' | 'importance_sampling' | 'ppo' | 'cispo' | 'dro';
export const LOSS_FN_TYPES: readonly LossFnType[] = [
  'cross_entropy',
  'importance_sampling',
  'ppo',
  'cispo',
  'dro',
];

export type StopReason = 'stop' | 'length';
export type ImageFormat = 'png' | 'jpeg';

// ---------------------------------------------------------------- model input

export interface EncodedTextChunk {
  tokens: number[];
  type: 'encoded_text';
}

export interface ImageChunk {
  /** Base64 of the image bytes. */
  data: string;
  format: ImageFormat;
  expected_tokens?: number | null;
  type: 'image';
}

export interface ImageAssetPointerChunk {
  format: ImageFormat;
  location: string;
  expected_tokens?: number | null;
  type: 'image_asset_pointer';
}

/** DMel model token tensor: base64 of TensorContainer bytes. */
export interface DmelChunk {
  dmel: string;
  type: 'dmel';
}

export type ModelInputChunk = EncodedTextChunk | ImageChunk | ImageAssetPointerChunk | DmelChunk;

export interface ModelInput {
  chunks: ModelInputChunk[];
}

// ---------------------------------------------------------------- tensors

/**
 * Flat tensor. Dense: `data` holds prod(shape) values (shape absent = 1-D).
 * Sparse CSR (2-D only): `data` holds the nnz values, `sparse_crow_indices`
 * has rows+1 entries, `sparse_col_indices` has nnz entries, `shape` required.
 */
export interface TensorData {
  data: number[];
  dtype: TensorDtype;
  shape?: number[] | null;
  sparse_crow_indices?: number[] | null;
  sparse_col_indices?: number[] | null;
}

export type LossFnInputs = Record<string, TensorData>;
export type LossFnOutput = Record<string, TensorData>;

/** Provenance run over a sampling request's prompt (SDK ≥ 0.29). */
export interface PromptProvenanceSpan {
  type: 'prompt_tokens';
  sequence_id: string;
  offset: number;
  length: number;
}

/** Provenance run over a sampled sequence's tokens (SDK ≥ 0.29). */
export interface SampledProvenanceSpan {
  type: 'sampled_tokens';
  sequence_id: string;
  offset: number;
  length: number;
}

export type ProvenanceSpan = PromptProvenanceSpan | SampledProvenanceSpan;

export interface Datum {
  model_input: ModelInput;
  loss_fn_inputs: LossFnInputs;
  /** Newer SDKs only (proto Datum field 3). */
  model_input_spans?: ProvenanceSpan[] | null;
  /** Newer SDKs only (proto Datum field 4). */
  loss_fn_input_spans?: ProvenanceSpan[] | null;
}

// ---------------------------------------------------------------- training

/** Loss function config values; newer wire also allows strings (LossConfigValue.text). */
export type LossFnConfig = Record<string, number>;

export interface ForwardBackwardInput {
  data: Datum[];
  /** A built-in loss, or 'custom' for a loss registered with create_custom_loss (custom-loss.ts). */
  loss_fn: LossFnType | 'custom';
  loss_fn_config?: LossFnConfig | null;
  /** With loss_fn 'custom': the CreateCustomLossResponse.loss_id of this session's loss. */
  loss_id?: string | null;
}

/** JSON form of `POST forward_backward` (pre-0.25 clients, or JSON fallback). */
export interface ForwardBackwardRequest {
  forward_backward_input: ForwardBackwardInput;
  model_id: ModelID;
  seq_id?: number | null;
  /** Proto-only flag mirrored here so one in-memory shape serves both routes. */
  forward_only?: boolean;
}

/** JSON form of the legacy `POST forward` route. */
export interface ForwardRequest {
  forward_input: ForwardBackwardInput;
  model_id: ModelID;
  seq_id?: number | null;
}

export interface ForwardBackwardOutput {
  /** Class name of the per-datum records, e.g. 'ArrayRecord'. */
  loss_fn_output_type: string;
  loss_fn_outputs: LossFnOutput[];
  /** Every key has exactly one ':' naming its reduction, e.g. 'loss:sum'. */
  metrics: Record<string, number>;
}

export interface AdamParams {
  learning_rate: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled (AdamW) weight decay. */
  weight_decay: number;
  /** Max global gradient norm; 0 = no clipping. */
  grad_clip_norm: number;
}

/** Defaults of the official SDK's AdamParams. */
export const ADAM_PARAMS_DEFAULTS: Readonly<AdamParams> = Object.freeze({
  learning_rate: 1e-4,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-12,
  weight_decay: 0.0,
  grad_clip_norm: 0.0,
});

export interface OptimStepRequest {
  /** AdamW's parameters (every SDK sends these for AdamW). */
  adam_params?: Partial<AdamParams> | null;
  /** Another family's parameters, tagged with `type` (0.38: DimuonParams). */
  optimizer_params?: DimuonParamsInput | null;
  /** The 0.38 SDK's own field name, which it also accepts: either family. */
  optim_params?: Partial<AdamParams> | DimuonParamsInput | null;
  model_id: ModelID;
  seq_id?: number | null;
  type?: 'optim_step';
}

export interface OptimStepResponse {
  metrics?: Record<string, number> | null;
}

// ---------------------------------------------------------------- models

export interface LoraConfig {
  rank: number;
  seed?: number | null;
  /** Default true. */
  train_unembed?: boolean;
  /** Default true. */
  train_mlp?: boolean;
  /** Default true. */
  train_attn?: boolean;
}

export const LORA_CONFIG_DEFAULTS = Object.freeze({
  train_unembed: true,
  train_mlp: true,
  train_attn: true,
});

export interface CreateModelRequest {
  session_id: string;
  /** Numbers the training clients within a session. */
  model_seq_id: number;
  base_model: string;
  user_metadata?: Record<string, unknown> | null;
  lora_config?: LoraConfig | null;
  /** Fixed for the model's life; absent = AdamW. */
  optimizer_config?: OptimizerConfig | null;
  type?: 'create_model';
}

export interface CreateModelResponse {
  model_id: ModelID;
  type: 'create_model';
}

export interface GetInfoRequest {
  model_id: ModelID;
  type?: 'get_info';
}

export interface ModelData {
  arch?: string | null;
  model_name?: string | null;
  tokenizer_id?: string | null;
}

export interface GetInfoResponse {
  type?: 'get_info' | null;
  model_data: ModelData;
  model_id: ModelID;
  is_lora?: boolean | null;
  lora_rank?: number | null;
  model_name?: string | null;
}

export interface UnloadModelRequest {
  model_id: ModelID;
  type?: 'unload_model';
}

export interface UnloadModelResponse {
  model_id: ModelID;
  type?: 'unload_model' | null;
}

// ---------------------------------------------------------------- weights

export interface SaveWeightsRequest {
  model_id: ModelID;
  path?: string | null;
  seq_id?: number | null;
  ttl_seconds?: number | null;
  /** Default false. */
  overwrite?: boolean;
  user_metadata?: Record<string, string> | null;
  type?: 'save_weights';
}

export interface SaveWeightsResponse {
  /** tinker://<run_id>/weights/<name> */
  path: string;
  type?: 'save_weights' | null;
}

export interface SaveWeightsForSamplerRequest {
  model_id: ModelID;
  path?: string | null;
  sampling_session_seq_id?: number | null;
  seq_id?: number | null;
  ttl_seconds?: number | null;
  user_metadata?: Record<string, string> | null;
  type?: 'save_weights_for_sampler';
}

/**
 * What the server returns. `path` is absent when the request had no path
 * and only an ephemeral sampling session was created.
 */
export interface SaveWeightsForSamplerResponseInternal {
  path?: string | null;
  sampling_session_id?: string | null;
  type?: 'save_weights_for_sampler' | null;
}

export interface SaveWeightsForSamplerResponse {
  path: string;
  type?: 'save_weights_for_sampler' | null;
}

export interface LoadWeightsRequest {
  /** Legacy addressing, with seq_id; exclusive with session_id. */
  model_id?: ModelID | null;
  seq_id?: number | null;
  /** Create-via-load addressing, with model_seq_id. */
  session_id?: string | null;
  model_seq_id?: number | null;
  base_model?: string | null;
  user_metadata?: Record<string, unknown> | null;
  path: string;
  optimizer: boolean;
  /** The optimizer of a model this load creates; absent = the checkpoint's with `optimizer`, else AdamW. */
  optimizer_config?: OptimizerConfig | null;
  weights_access_token?: string | null;
  type?: 'load_weights';
}

export interface LoadWeightsResponse {
  path?: string | null;
  model_id?: string | null;
  /** The loaded model's optimizer: tinker-ts servers report it (the official SDK ignores extra response fields). */
  optimizer_config?: OptimizerConfig | null;
  type?: 'load_weights' | null;
}

export interface WeightsInfoRequest {
  tinker_path: string;
}

export interface WeightsInfoResponse {
  base_model: string;
  is_lora: boolean;
  lora_rank?: number | null;
  train_unembed?: boolean | null;
  train_mlp?: boolean | null;
  train_attn?: boolean | null;
  /** The optimizer the checkpoint's run was created with; absent = AdamW. */
  optimizer_config?: OptimizerConfig | null;
}

export interface CopyWeightsRequest {
  session_id: string;
  model_seq_id: number;
  source_path: string;
  ttl_seconds?: number | null;
  weights_access_token?: string | null;
}

export interface CopyWeightsResponse {
  tinker_path: string;
}

// ---------------------------------------------------------------- sessions

export interface CreateSessionRequest {
  tags: string[];
  user_metadata: Record<string, unknown> | null;
  sdk_version: string;
  project_id?: string | null;
  type?: 'create_session';
}

export interface CreateSessionResponse {
  type: 'create_session';
  info_message?: string | null;
  warning_message?: string | null;
  error_message?: string | null;
  session_id: string;
}

export interface SessionHeartbeatRequest {
  session_id: string;
  type?: 'session_heartbeat';
}

export interface SessionHeartbeatResponse {
  type: 'session_heartbeat';
}

export interface CreateSamplingSessionRequest {
  session_id: string;
  sampling_session_seq_id: number;
  base_model?: string | null;
  model_path?: string | null;
  type?: 'create_sampling_session';
}

export interface CreateSamplingSessionResponse {
  type: 'create_sampling_session';
  sampling_session_id: string;
}

// ---------------------------------------------------------------- sampling

export interface SamplingParams {
  max_tokens?: number | null;
  seed?: number | null;
  stop?: string | string[] | number[] | null;
  /** Default 1. */
  temperature?: number;
  /** Default -1 (no limit). */
  top_k?: number;
  /** Default 1. */
  top_p?: number;
}

export const SAMPLING_PARAMS_DEFAULTS = Object.freeze({
  temperature: 1,
  top_k: -1,
  top_p: 1,
});

export interface SampleRequest {
  /** Default 1. */
  num_samples?: number;
  prompt: ModelInput;
  sampling_params: SamplingParams;
  base_model?: string | null;
  model_path?: string | null;
  sampling_session_id?: string | null;
  seq_id?: number | null;
  prompt_logprobs?: boolean | null;
  /** Default 0 = off. */
  topk_prompt_logprobs?: number;
  /** Newer SDKs: top-k logprobs per sampled token; 0 = off. */
  topk_sample_logprobs?: number;
  /** Newer SDKs: int64 [len(prompt)-1, K], -1 = skip; may be CSR. */
  target_prompt_logprobs?: TensorData | null;
  record_stability_info?: boolean | null;
  prompt_alt_tokens_k?: number | null;
  /** Newer SDKs: only the last n prompt logprobs (needs prompt_logprobs). */
  prompt_logprobs_last_n?: number | null;
  type?: 'sample';
}

/** Dense [len(prompt) - 1, k] draws from the next-token distribution at each prompt position. */
export interface PromptAltTokens {
  /** int64 token ids. */
  tokens: TensorData;
  /** float32 logprobs of those tokens. */
  logprobs: TensorData;
}

/** Sentinel logprob for empty top-k slots (token id 0). */
export const MASK_LOGPROB = -99999.0;

export interface SampledSequence {
  stop_reason: StopReason;
  tokens: number[];
  logprobs?: number[] | null;
  /**
   * Newer SDKs (request `topk_sample_logprobs`): per sampled token, up to k
   * [token_id, logprob] pairs. Proto field `topk_sampled_logprobs`; the SDK
   * exposes it as `SampledSequence.topk_logprobs`.
   */
  topk_logprobs?: Array<Array<[number, number]> | null> | null;
  /**
   * Client-side only (never on the wire): the id the sampling future's
   * `sample_sequence_ids` assigned to this sequence, stamped by the SDK.
   */
  sequence_id?: string;
}

export interface SampleResponse {
  sequences: SampledSequence[];
  /** null entries where not computed (the first prompt token). */
  prompt_logprobs?: Array<number | null> | null;
  /** Per prompt position: up to k [token_id, logprob] pairs, or null. */
  topk_prompt_logprobs?: Array<Array<[number, number]> | null> | null;
  prompt_cache_hit_tokens?: number;
  /** Newer SDKs: same shape as the request's `target_prompt_logprobs`, float32. */
  target_prompt_logprobs?: TensorData | null;
  /** Newer SDKs: k draws per prompt position (request `prompt_alt_tokens_k`). */
  prompt_alt_tokens?: PromptAltTokens | null;
  /** Pre-0.25 JSON responses carried this literal tag. */
  type?: 'sample';
}

// ---------------------------------------------------------------- futures

export interface UntypedAPIFuture {
  request_id: RequestID;
  model_id?: ModelID | null;
  /** Sampling futures only (SDK ≥ 0.26.2): one id per requested sample. */
  sample_sequence_ids?: string[] | null;
}

export interface FutureRetrieveRequest {
  request_id: RequestID;
  /** Default false. */
  allow_metadata_only?: boolean;
}

export type QueueState = 'active' | 'paused_capacity' | 'paused_rate_limit';

export interface TryAgainResponse {
  type: 'try_again';
  request_id: RequestID;
  queue_state: QueueState;
  queue_state_reason?: string | null;
}

/** Wire spelling of RequestErrorCategory (Python StrEnum with auto() = lower-case). */
export type RequestErrorCategory = 'unknown' | 'server' | 'user';

export interface RequestFailedResponse {
  error: string;
  category: RequestErrorCategory;
}

/** Sent instead of a large payload when the client allowed metadata only. */
export interface FutureMetadataResponse {
  status: 'complete_metadata';
  response_payload_size: number;
}

export interface CancelFutureRequest {
  request_id: RequestID;
}

export interface SamplingSessionFuturesTarget {
  type?: 'sampling_session';
  sampling_session_id: string;
  /** seq_id // 1e9 for cloned sampling clients; default 0 (the original). */
  cloned_sampler_id?: number;
}

export interface FuturesRetrieveRequest {
  target: SamplingSessionFuturesTarget;
  /** Opaque cursor from the previous response; default 0 starts from the beginning. */
  prev_cursor?: number;
  /** Long-poll hold in seconds. */
  timeout?: number | null;
}

/** A finished request reported by `retrieve_futures`; the size lets the client reserve its byte budget. */
export interface FutureFinished {
  state: 'finished';
  request_id: RequestID;
  response_payload_uncompressed_size?: number | null;
}

export interface FutureFailed {
  state: 'failed';
  request_id: RequestID;
}

export interface FuturesRetrieveResponse {
  completions: Array<FutureFinished | FutureFailed>;
  cursor: number;
}

/** Another client (e.g. another process, from a sampler handle) joins an existing sampling session. */
export interface JoinSamplingSessionRequest {
  sampling_session_id: string;
  type?: 'join_sampling_session';
}

export interface JoinSamplingSessionResponse {
  type: 'join_sampling_session';
  /** Unique among the sampling session's clients (the creating client is 0); its seq_ids start at client_counter × 1e9. */
  client_counter: number;
}

// ---------------------------------------------------------------- client config

export interface ClientConfigRequest {
  sdk_version: string;
}

export interface ClientConfigResponse {
  pjwt_auth_enabled: boolean;
  credential_default_source: string;
  sample_dispatch_bytes_semaphore_size: number;
  inflight_response_bytes_semaphore_size: number;
  parallel_fwdbwd_chunks: boolean;
  proto_compress_fwdbwd: boolean;
  fwdbwd_max_chunk_len: number;
  fwdbwd_max_chunk_bytes_count: number;
  fwdbwd_dispatch_bytes_semaphore_size: number;
  billing_exception_max_pause_duration_sec: number;
  sample_no_retries: boolean;
  sample_enable_stuck_detection: boolean;
  sample_max_concurrent_requests: number;
  use_pyqwest_transport: boolean;
  create_model_via_load_weights: boolean;
  sample_use_retrieve_futures: boolean;
}

/** The SDK's defaults for every flag (a server may send any subset). */
export const CLIENT_CONFIG_DEFAULTS: Readonly<ClientConfigResponse> = Object.freeze({
  pjwt_auth_enabled: false,
  credential_default_source: 'api_key',
  sample_dispatch_bytes_semaphore_size: 10 * 1024 * 1024,
  inflight_response_bytes_semaphore_size: 50 * 1024 * 1024,
  parallel_fwdbwd_chunks: true,
  proto_compress_fwdbwd: false,
  fwdbwd_max_chunk_len: 1024,
  fwdbwd_max_chunk_bytes_count: 5_000_000,
  fwdbwd_dispatch_bytes_semaphore_size: 50 * 1000 * 1000,
  billing_exception_max_pause_duration_sec: 60 * 60,
  sample_no_retries: false,
  sample_enable_stuck_detection: true,
  sample_max_concurrent_requests: 2000,
  use_pyqwest_transport: true,
  create_model_via_load_weights: false,
  sample_use_retrieve_futures: false,
});

export interface ClientDynamicConfigResponse {
  refresh_interval_sec: number;
  sample_cancel_enabled: boolean;
  sample_cancel_max_batch_size: number;
}

export const DYNAMIC_CONFIG_DEFAULTS: Readonly<ClientDynamicConfigResponse> = Object.freeze({
  refresh_interval_sec: 300,
  sample_cancel_enabled: false,
  sample_cancel_max_batch_size: 64,
});

export interface AuthTokenResponse {
  jwt: string;
}

// ---------------------------------------------------------------- service

export interface HealthResponse {
  status: 'ok';
}

export interface SupportedModel {
  model_name?: string | null;
  max_context_length?: number | null;
  trainable?: boolean | null;
  sampleable?: boolean | null;
  /** tinker-ts: a small random-weight decoder registered under the hosted name. */
  stand_in?: boolean | null;
  /** tinker-ts: set when hosted Tinker retired this model (still served here). */
  deprecation_notice?: string | null;
}

export interface GetServerCapabilitiesResponse {
  supported_models: SupportedModel[];
}

// ---------------------------------------------------------------- telemetry

export type TelemetryEventType =
  | 'SESSION_START'
  | 'SESSION_END'
  | 'UNHANDLED_EXCEPTION'
  | 'GENERIC_EVENT';
export type Severity = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';

interface TelemetryEventBase {
  event: TelemetryEventType;
  event_id: string;
  event_session_index: number;
  severity: Severity;
  /** ISO 8601. */
  timestamp: string;
}

export interface SessionStartEvent extends TelemetryEventBase {}

export interface SessionEndEvent extends TelemetryEventBase {
  /** ISO 8601 duration. */
  duration: string;
}

export interface UnhandledExceptionEvent extends TelemetryEventBase {
  error_message: string;
  error_type: string;
  traceback?: string | null;
}

export interface GenericEvent extends TelemetryEventBase {
  event_name: string;
  event_data?: Record<string, unknown>;
}

export type TelemetryEvent =
  | SessionStartEvent
  | SessionEndEvent
  | UnhandledExceptionEvent
  | GenericEvent;

export interface TelemetrySendRequest {
  events: TelemetryEvent[];
  platform: string;
  sdk_version: string;
  session_id: string;
  process_uuid: string;
}

export interface TelemetryResponse {
  status: 'accepted';
}

// ---------------------------------------------------------------- REST

export type CheckpointType = 'training' | 'sampler';

export interface Checkpoint {
  /** e.g. 'weights/step-10' or 'sampler_weights/final'. */
  checkpoint_id: string;
  checkpoint_type: CheckpointType;
  /** ISO 8601 datetime. */
  time: string;
  tinker_path: string;
  size_bytes?: number | null;
  /** Default false. */
  public?: boolean;
  /** ISO 8601; null = never. */
  expires_at?: string | null;
  user_metadata?: Record<string, string> | null;
  /** The base model of the run that saved it (newer SDKs). */
  base_model?: string | null;
}

export interface Cursor {
  offset: number;
  limit: number;
  total_count: number;
}

export interface TrainingRun {
  training_run_id: string;
  base_model: string;
  model_owner: string;
  is_lora: boolean;
  /** Default false. */
  corrupted?: boolean;
  lora_rank?: number | null;
  /** ISO 8601 datetime. */
  last_request_time: string;
  last_checkpoint?: Checkpoint | null;
  last_sampler_checkpoint?: Checkpoint | null;
  user_metadata?: Record<string, string> | null;
}

export interface TrainingRunsResponse {
  training_runs: TrainingRun[];
  cursor: Cursor;
}

export interface CheckpointsListResponse {
  checkpoints: Checkpoint[];
  cursor?: Cursor | null;
}

export interface CheckpointArchiveUrlResponse {
  url: string;
  /** ISO 8601 datetime. */
  expires: string;
}

export interface CheckpointTtlRequest {
  ttl_seconds: number | null;
}

export interface ListSessionsResponse {
  sessions: string[];
}

export interface GetSessionResponse {
  training_run_ids: ModelID[];
  sampler_ids: string[];
}

export interface GetSamplerResponse {
  sampler_id: string;
  base_model: string;
  model_path?: string | null;
}

export interface AuditLogEntry {
  /** ISO 8601 datetime. */
  timestamp: string;
  event: string;
  event_details?: Record<string, unknown> | null;
  model_id?: string | null;
  tinker_path?: string | null;
  purpose?: string | null;
}

export interface AuditLogResponse {
  entries: AuditLogEntry[];
}

export interface WhoamiResponse {
  user_urn: string;
  email?: string | null;
}

/** Any response `retrieve_future` may return. */
export type FutureRetrieveResponse =
  | TryAgainResponse
  | FutureMetadataResponse
  | RequestFailedResponse
  | ForwardBackwardOutput
  | OptimStepResponse
  | SaveWeightsResponse
  | SaveWeightsForSamplerResponseInternal
  | LoadWeightsResponse
  | CreateModelResponse
  | UnloadModelResponse
  | SampleResponse;
