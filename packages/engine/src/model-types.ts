/**
 * The data structures shared by the model code (model.ts, lora.ts, losses.ts, adamw.ts),
 * the sampler, checkpoint I/O and the Engine. Linear weights use the Hugging Face layout
 * [out, in], so a projection is y = x · Wᵀ (gemm with transB). The linears, the embedding and the
 * head are frozen weights, stored as f32 or bf16 (weight-dtype.ts); norm weights are always f32.
 */
import type { FrozenWeight } from './weight-dtype.js';

export type ModelFamily = 'llama' | 'qwen3';

export interface RopeScaling {
  /** Only the Llama 3 scheme is supported ("llama3" in HF config.json). */
  type: 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

export interface ModelConfig {
  family: ModelFamily;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

/** One layer's weights; W is how its frozen linears are stored (f32 unless said otherwise). */
export interface LayerWeights<W extends FrozenWeight = Float32Array> {
  inputNorm: Float32Array; // [d]
  q: W; // [H*hd, d]
  k: W; // [KVH*hd, d]
  v: W; // [KVH*hd, d]
  o: W; // [d, H*hd]
  qNorm: Float32Array | null; // [hd], Qwen3 only
  kNorm: Float32Array | null; // [hd], Qwen3 only
  postAttnNorm: Float32Array; // [d]
  gate: W; // [ff, d]
  up: W; // [ff, d]
  down: W; // [d, ff]
}

/** A model's weights; W is how its frozen ones are stored (f32 unless said otherwise). */
export interface ModelWeights<W extends FrozenWeight = Float32Array> {
  embed: W; // [V, d]
  layers: LayerWeights<W>[];
  finalNorm: Float32Array; // [d]
  /** null when tied: the head is `embed`. */
  lmHead: W | null; // [V, d]
}

/** Names of the linear modules LoRA can attach to, per layer, plus the unembedding. */
export type LoraModuleKind = 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down';

export interface LoraSettings {
  rank: number;
  /** PEFT lora_alpha; the update is scaled by alpha / rank. */
  alpha: number;
  seed: number;
  trainAttn: boolean; // q, k, v, o
  trainMlp: boolean; // gate, up, down
  trainUnembed: boolean; // lm_head
}

/** One adapted linear: W' = W + (alpha/rank) · B · A (PEFT layout). */
export interface LoraPair {
  A: Float32Array; // [rank, in]
  B: Float32Array; // [out, rank]
  inDim: number;
  outDim: number;
}

/**
 * Keys are "layers.<i>.<kind>" (e.g. "layers.3.q") and "lm_head". The same keys name the
 * gradient and AdamW moment buffers, and map 1:1 to PEFT module names on export.
 */
export type LoraParams = Map<string, LoraPair>;

/** A trainable adapter with its accumulated gradients and optimizer state. */
export interface AdapterState {
  settings: LoraSettings;
  params: LoraParams;
  grads: LoraParams; // same shapes, accumulated across forward_backward calls until optim_step
  adamM: LoraParams;
  adamV: LoraParams;
  /** Number of optimizer steps taken (torch's `step`). */
  step: number;
}

/** A base model held in memory; many adapters share one. W: how its frozen weights are stored (the engine takes either). */
export interface LoadedModel<W extends FrozenWeight = Float32Array> {
  name: string;
  config: ModelConfig;
  weights: ModelWeights<W>;
}
