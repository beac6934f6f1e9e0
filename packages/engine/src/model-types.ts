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
  /** Qwen3-MoE: the sparse MLP blocks; absent for dense decoders. */
  moe?: MoeConfig;
}

/** The routed-experts MLP of Qwen3-MoE (`Qwen3MoeSparseMoeBlock` in transformers). */
export interface MoeConfig {
  numExperts: number;
  /** k of top-k. */
  numExpertsPerTok: number;
  /** Hidden width of one expert. */
  moeIntermediateSize: number;
  /** Renormalise the k selected router probabilities to sum to 1. */
  normTopkProb: boolean;
  /** Layer l is sparse when (l + 1) % decoderSparseStep == 0 and l is not in mlpOnlyLayers. */
  decoderSparseStep: number;
  mlpOnlyLayers: number[];
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
  down: W; // [d, ff]; gate/up/down are empty in sparse layers
  /** The routed experts of a sparse layer (null in dense layers); the router stays f32. */
  moe?: MoeLayerWeights<W> | null;
}

/** One sparse layer's router and experts, stacked as transformers 5 holds them; W as in LayerWeights. */
export interface MoeLayerWeights<W extends FrozenWeight = Float32Array> {
  router: Float32Array; // [E, d], frozen (small: kept f32)
  gateUp: W; // [E, 2*ffe, d]: per expert the gate rows, then the up rows
  down: W; // [E, d, ffe]
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
  /** The optimizer chosen at creation, fixed for the adapter's life; absent = AdamW. */
  optimizer?: OptimizerKind;
  /** Dimuon's momentum (a Dimuon adapter keeps no AdamW moments: adamM and adamV are empty). */
  dimuonMomentum?: LoraParams;
}

/** The optimizer families an adapter can be created with. */
export type OptimizerKind = 'adamw' | 'dimuon';

/** A base model held in memory; many adapters share one. W: how its frozen weights are stored (the engine takes either). */
export interface LoadedModel<W extends FrozenWeight = Float32Array> {
  name: string;
  config: ModelConfig;
  weights: ModelWeights<W>;
}
