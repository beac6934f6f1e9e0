// The SDK's user-facing types (camelCase) and their conversions from and to the wire (snake_case).
import type * as wire from '@tinker-ts/protocol';
import { TinkerProtocolError } from '@tinker-ts/protocol';
import { ValidationError } from './errors.js';
import { TensorData } from './tensor-data.js';

export type { LossFnType, StopReason, ImageFormat, CheckpointType, QueueState } from '@tinker-ts/protocol';

/** Loss function config, e.g. `{ clip_low_threshold: 0.8 }` for ppo or `{ beta: 0.1 }` for dro. */
export type LossFnConfig = Record<string, number>;

/** Runs one of @tinker-ts/protocol's checks, reporting its failure as the SDK's ValidationError. */
export function protocolCheck<T>(check: () => T): T {
  try {
    return check();
  } catch (e) {
    // The protocol's ValidationError is the SDK's; re-making it would repeat the field prefix.
    if (e instanceof ValidationError) throw e;
    if (e instanceof TinkerProtocolError) {
      const prefix = e.field ? `${e.field}: ` : '';
      throw new ValidationError(prefix && e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message, { field: e.field });
    }
    throw e;
  }
}

/** Throws unless `path` is a tinker:// path. */
/**
 * A checkpoint path the SDK passes on to the server: only a non-empty string is required here. Its
 * form (`tinker://<run>/weights/<name>`, or what another Tinker-compatible server hands out, such as
 * `tinker://<run>/<name>`) is the server's to judge, as with the official SDK.
 */
export function checkTinkerPath(path: unknown, field: string): asserts path is string {
  if (typeof path !== 'string' || path.trim().length === 0) {
    throw new ValidationError(
      `${field}: expected a checkpoint path such as tinker://<run_id>/weights/<name> or tinker://<run_id>/sampler_weights/<name>, got ${JSON.stringify(path)}`,
      { field },
    );
  }
}

// ---------------------------------------------------------------- parameters

export interface SamplingParams {
  maxTokens?: number;
  seed?: number;
  /** Stop strings, or stop token ids. */
  stop?: string | string[] | number[];
  /** Default 1. */
  temperature?: number;
  /** Default -1 (no limit). */
  topK?: number;
  /** Default 1. */
  topP?: number;
}

export function samplingParamsToWire(p: SamplingParams): wire.SamplingParams {
  const out: wire.SamplingParams = {
    temperature: p.temperature ?? 1,
    top_k: p.topK ?? -1,
    top_p: p.topP ?? 1,
  };
  if (p.maxTokens !== undefined) out.max_tokens = p.maxTokens;
  if (p.seed !== undefined) out.seed = p.seed;
  if (p.stop !== undefined) out.stop = p.stop;
  return out;
}

export interface AdamParams {
  /** Default 1e-4. */
  learningRate?: number;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.95. */
  beta2?: number;
  /** Default 1e-12. */
  eps?: number;
  /** Decoupled (AdamW) weight decay; default 0. */
  weightDecay?: number;
  /** Max global gradient norm; 0 (default) = no clipping. */
  gradClipNorm?: number;
}

/** Tinker's AdamParams defaults. */
export const DEFAULT_ADAM_PARAMS: Readonly<Required<AdamParams>> = Object.freeze({
  learningRate: 1e-4,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-12,
  weightDecay: 0,
  gradClipNorm: 0,
});

export function adamParamsToWire(p: AdamParams = {}): wire.AdamParams {
  const d = DEFAULT_ADAM_PARAMS;
  return {
    learning_rate: p.learningRate ?? d.learningRate,
    beta1: p.beta1 ?? d.beta1,
    beta2: p.beta2 ?? d.beta2,
    eps: p.eps ?? d.eps,
    weight_decay: p.weightDecay ?? d.weightDecay,
    grad_clip_norm: p.gradClipNorm ?? d.gradClipNorm,
  };
}

// ---------------------------------------------------------------- training outputs

/** Per-datum outputs of a loss, e.g. `logprobs` (one per target token) and `elementwise_loss`. */
export type LossFnOutput = Record<string, TensorData>;

export interface ForwardBackwardOutput {
  lossFnOutputType: string;
  /** One record per datum, in the order the data was given. */
  lossFnOutputs: LossFnOutput[];
  /** Keys name their reduction after ':', e.g. `loss:sum`. */
  metrics: Record<string, number>;
}

export function forwardBackwardOutputFromWire(w: wire.ForwardBackwardOutput): ForwardBackwardOutput {
  if (!w || !Array.isArray(w.loss_fn_outputs)) {
    throw new ValidationError('ForwardBackwardOutput.loss_fn_outputs: missing from the server response', { field: 'loss_fn_outputs' });
  }
  return {
    lossFnOutputType: w.loss_fn_output_type ?? '',
    lossFnOutputs: w.loss_fn_outputs.map((rec, i) => {
      const out: LossFnOutput = {};
      for (const [k, t] of Object.entries(rec)) out[k] = TensorData.fromWire(t, `loss_fn_outputs[${i}].${k}`);
      return out;
    }),
    metrics: { ...(w.metrics ?? {}) },
  };
}

export interface OptimStepResponse {
  metrics?: Record<string, number> | undefined;
}

export interface SaveWeightsResponse {
  /** tinker://<run_id>/weights/<name> */
  path: string;
}

export interface SaveWeightsForSamplerResponse {
  /** tinker://<run_id>/sampler_weights/<name> */
  path: string;
}

export interface LoadWeightsResponse {
  path?: string | undefined;
  modelId?: string | undefined;
}

export interface ModelData {
  arch?: string | undefined;
  modelName?: string | undefined;
  tokenizerId?: string | undefined;
}

export interface GetInfoResponse {
  modelId: string;
  modelData: ModelData;
  isLora?: boolean | undefined;
  loraRank?: number | undefined;
  modelName?: string | undefined;
}

export function getInfoFromWire(w: wire.GetInfoResponse): GetInfoResponse {
  return {
    modelId: w.model_id,
    modelData: {
      arch: w.model_data?.arch ?? undefined,
      modelName: w.model_data?.model_name ?? undefined,
      tokenizerId: w.model_data?.tokenizer_id ?? undefined,
    },
    isLora: w.is_lora ?? undefined,
    loraRank: w.lora_rank ?? undefined,
    modelName: w.model_name ?? w.model_data?.model_name ?? undefined,
  };
}

export interface UnloadModelResponse {
  modelId: string;
}

// ---------------------------------------------------------------- sampling outputs

export interface SampledSequence {
  stopReason: wire.StopReason;
  tokens: number[];
  /** Logprob of each sampled token, when the server returns them. */
  logprobs?: number[] | undefined;
  /** With `topkSampleLogprobs`: per sampled token, up to k [tokenId, logprob] pairs, best first. */
  topkLogprobs?: Array<Array<[number, number]> | null> | undefined;
  /** Identity of this sample (servers ≥ 0.26.2 protocol), for provenance. */
  sequenceId?: string | undefined;
}

export interface SampleResponse {
  sequences: SampledSequence[];
  /** Logprob of each prompt token; null where not computed (the first token). */
  promptLogprobs?: Array<number | null> | undefined;
  /** Per prompt position, up to k [tokenId, logprob] pairs, or null. */
  topkPromptLogprobs?: Array<Array<[number, number]> | null> | undefined;
  promptCacheHitTokens: number;
  /**
   * With `targetPromptLogprobs`: float32 in the request's shape and layout (dense or CSR); cell
   * [i, j] is the logprob of the requested id at prompt position i + 1, 0 where -1 was sent.
   */
  targetPromptLogprobs?: TensorData | undefined;
  /** With `promptAltTokensK` = k: draws at every prompt position after the first. */
  promptAltTokens?: PromptAltTokens | undefined;
}

/** k draws per prompt position after the first; row i holds alternatives to prompt token i + 1. */
export interface PromptAltTokens {
  /** int64 [len(prompt) - 1, k]. */
  tokens: TensorData;
  /** float32 [len(prompt) - 1, k]: the model's (untempered) logprob of each drawn token there. */
  logprobs: TensorData;
}

/** Wire sample responses as decoded from JSON or protobuf (typed arrays, NaN for missing). */
type WireSampleResponseLike = Omit<wire.SampleResponse, 'sequences' | 'prompt_logprobs'> & {
  sequences: Array<Omit<wire.SampledSequence, 'tokens' | 'logprobs'> & { tokens: ArrayLike<number>; logprobs?: ArrayLike<number> | null }>;
  prompt_logprobs?: ArrayLike<number | null> | null;
};

export function sampleResponseFromWire(w: WireSampleResponseLike, sequenceIds?: readonly string[] | null): SampleResponse {
  if (!w || !Array.isArray(w.sequences)) {
    throw new ValidationError('SampleResponse.sequences: missing from the server response', { field: 'sequences' });
  }
  if (sequenceIds && sequenceIds.length !== w.sequences.length) {
    throw new ValidationError(
      `sample_sequence_ids: the server sent ${sequenceIds.length} ids for ${w.sequences.length} sequences`,
      { field: 'sample_sequence_ids' },
    );
  }
  const out: SampleResponse = {
    sequences: w.sequences.map((s, i) => {
      const seq: SampledSequence = { stopReason: s.stop_reason, tokens: Array.from(s.tokens) };
      if (s.logprobs) seq.logprobs = Array.from(s.logprobs);
      if (s.topk_logprobs) seq.topkLogprobs = s.topk_logprobs.map((row) => (row ? row.map(([t, lp]) => [t, lp] as [number, number]) : null));
      if (sequenceIds) seq.sequenceId = sequenceIds[i];
      return seq;
    }),
    promptCacheHitTokens: w.prompt_cache_hit_tokens ?? 0,
  };
  if (w.prompt_logprobs) {
    out.promptLogprobs = Array.from(w.prompt_logprobs, (v) => (v === null || Number.isNaN(v) ? null : v));
  }
  if (w.topk_prompt_logprobs) {
    out.topkPromptLogprobs = w.topk_prompt_logprobs.map((row) => (row ? row.map(([t, lp]) => [t, lp] as [number, number]) : null));
  }
  if (w.target_prompt_logprobs) out.targetPromptLogprobs = TensorData.fromWire(w.target_prompt_logprobs, 'target_prompt_logprobs');
  if (w.prompt_alt_tokens) {
    out.promptAltTokens = {
      tokens: TensorData.fromWire(w.prompt_alt_tokens.tokens, 'prompt_alt_tokens.tokens'),
      logprobs: TensorData.fromWire(w.prompt_alt_tokens.logprobs, 'prompt_alt_tokens.logprobs'),
    };
  }
  return out;
}

// ---------------------------------------------------------------- service and REST

export interface SupportedModel {
  modelName?: string | undefined;
  maxContextLength?: number | undefined;
  trainable?: boolean | undefined;
  sampleable?: boolean | undefined;
  /** tinker-ts servers: a small random-weight stand-in registered under the hosted name. */
  standIn?: boolean | undefined;
  /** tinker-ts servers: set when hosted Tinker retired the model. */
  deprecationNotice?: string | undefined;
}

export interface GetServerCapabilitiesResponse {
  supportedModels: SupportedModel[];
}

export function capabilitiesFromWire(w: wire.GetServerCapabilitiesResponse): GetServerCapabilitiesResponse {
  return {
    supportedModels: (w.supported_models ?? []).map((m) => ({
      modelName: m.model_name ?? undefined,
      maxContextLength: m.max_context_length ?? undefined,
      trainable: m.trainable ?? undefined,
      sampleable: m.sampleable ?? undefined,
      // tinker-ts extensions: present only when the server sends them.
      ...(m.stand_in != null ? { standIn: m.stand_in } : {}),
      ...(m.deprecation_notice != null ? { deprecationNotice: m.deprecation_notice } : {}),
    })),
  };
}

export interface WeightsInfoResponse {
  baseModel: string;
  isLora: boolean;
  loraRank?: number | undefined;
  trainUnembed?: boolean | undefined;
  trainMlp?: boolean | undefined;
  trainAttn?: boolean | undefined;
  /** The optimizer of the checkpoint's run, when the server reports it (0.38); absent = AdamW. */
  optimizerConfig?: wire.OptimizerConfig | undefined;
}

export function weightsInfoFromWire(w: wire.WeightsInfoResponse): WeightsInfoResponse {
  return {
    baseModel: w.base_model,
    isLora: w.is_lora,
    loraRank: w.lora_rank ?? undefined,
    trainUnembed: w.train_unembed ?? undefined,
    trainMlp: w.train_mlp ?? undefined,
    trainAttn: w.train_attn ?? undefined,
    ...(w.optimizer_config ? { optimizerConfig: w.optimizer_config } : {}),
  };
}

export interface Checkpoint {
  /** e.g. 'weights/step-10' or 'sampler_weights/final'. */
  checkpointId: string;
  checkpointType: wire.CheckpointType;
  time: Date;
  tinkerPath: string;
  sizeBytes?: number | undefined;
  public: boolean;
  expiresAt?: Date | undefined;
  userMetadata?: Record<string, string> | undefined;
  /** The base model of the run that saved it (servers of newer SDKs report it). */
  baseModel?: string | undefined;
}

export function checkpointFromWire(w: wire.Checkpoint): Checkpoint {
  return {
    checkpointId: w.checkpoint_id,
    checkpointType: w.checkpoint_type,
    time: new Date(w.time),
    tinkerPath: w.tinker_path,
    sizeBytes: w.size_bytes ?? undefined,
    public: w.public ?? false,
    expiresAt: w.expires_at ? new Date(w.expires_at) : undefined,
    userMetadata: w.user_metadata ?? undefined,
    ...(w.base_model != null ? { baseModel: w.base_model } : {}),
  };
}

export interface Cursor {
  offset: number;
  limit: number;
  totalCount: number;
}

export function cursorFromWire(w: wire.Cursor): Cursor {
  return { offset: w.offset, limit: w.limit, totalCount: w.total_count };
}

export interface TrainingRun {
  trainingRunId: string;
  baseModel: string;
  modelOwner: string;
  isLora: boolean;
  corrupted: boolean;
  loraRank?: number | undefined;
  lastRequestTime: Date;
  lastCheckpoint?: Checkpoint | undefined;
  lastSamplerCheckpoint?: Checkpoint | undefined;
  userMetadata?: Record<string, string> | undefined;
}

export function trainingRunFromWire(w: wire.TrainingRun): TrainingRun {
  return {
    trainingRunId: w.training_run_id,
    baseModel: w.base_model,
    modelOwner: w.model_owner,
    isLora: w.is_lora,
    corrupted: w.corrupted ?? false,
    loraRank: w.lora_rank ?? undefined,
    lastRequestTime: new Date(w.last_request_time),
    lastCheckpoint: w.last_checkpoint ? checkpointFromWire(w.last_checkpoint) : undefined,
    lastSamplerCheckpoint: w.last_sampler_checkpoint ? checkpointFromWire(w.last_sampler_checkpoint) : undefined,
    userMetadata: w.user_metadata ?? undefined,
  };
}

export interface CheckpointArchiveUrlResponse {
  url: string;
  expires: Date;
}

export interface GetSessionResponse {
  trainingRunIds: string[];
  samplerIds: string[];
}

/**
 * A session's requests as Chrome trace-event JSON (the object format): load it in Perfetto
 * (ui.perfetto.dev) or chrome://tracing. Kept as the server sent it.
 */
export interface SessionTrace {
  traceEvents: Array<{ name: string; ph: string; ts: number; pid: number; tid: number; dur?: number; args?: Record<string, unknown> }>;
  displayTimeUnit?: string;
  otherData?: Record<string, unknown>;
}

/** One record of a run's metrics, as a tinker-ts server keeps them (see RestClient.getTrainingRunMetrics). */
export interface TrainingMetricsRecord {
  /** Increasing in arrival order: pass the last one seen as `after` to get only newer ones. */
  id: number;
  /** The optimizer step it belongs to (optim_steps the run had completed before it). */
  step: number;
  /** Which result it came from; 'reported' = sent with RestClient.reportMetrics. */
  kind: 'forward' | 'forward_backward' | 'optim_step' | 'reported';
  requestId: string | null;
  seqId: number | null;
  metrics: Record<string, number>;
  time: Date;
}

export interface TrainingRunMetrics {
  trainingRunId: string;
  records: TrainingMetricsRecord[];
  /** Optimizer steps the run has completed. */
  optimSteps: number;
  /** Records the run has in all (not only in this answer). */
  totalCount: number;
}

export interface GetSamplerResponse {
  samplerId: string;
  baseModel: string;
  modelPath?: string | undefined;
}

export function samplerFromWire(w: wire.GetSamplerResponse): GetSamplerResponse {
  return { samplerId: w.sampler_id, baseModel: w.base_model, modelPath: w.model_path ?? undefined };
}
