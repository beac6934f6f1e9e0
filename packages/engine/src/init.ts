/**
 * Deterministic initialisation: random base weights for tests and benchmarks, and fresh LoRA
 * adapters (PEFT's default: A ~ kaiming_uniform(a=√5) = U(±1/√in), B = 0, so a new adapter
 * leaves the model's outputs unchanged).
 */
import { Prng } from './prng.js';
import { adaptedModules, zerosLike } from './lora.js';
import type { AdapterState, LayerWeights, LoraParams, LoraSettings, ModelConfig, ModelWeights } from './model-types.js';
import { EngineUserError } from './errors.js';
import { isSparseLayer } from './moe-config.js';

export interface RandomWeightsOptions {
  /** Standard deviation of every linear and the embedding (default 0.02, as HF initializer_range). */
  std?: number;
}

/** Random base weights: N(0, std²) for embedding and linears, ones for every norm. */
export function randomModelWeights(cfg: ModelConfig, seed: number, options: RandomWeightsOptions = {}): ModelWeights {
  const std = options.std ?? 0.02;
  const d = cfg.hiddenSize;
  const qDim = cfg.numHeads * cfg.headDim;
  const kvDim = cfg.numKvHeads * cfg.headDim;
  const ff = cfg.intermediateSize;
  const normal = (n: number, stream: string): Float32Array => new Prng(seed, stream).fillNormal(new Float32Array(n), 0, std);
  const ones = (n: number): Float32Array => new Float32Array(n).fill(1);
  const layers: LayerWeights[] = [];
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `layers.${i}.`;
    const sparse = isSparseLayer(cfg, i);
    const E = cfg.moe?.numExperts ?? 0;
    const ffe = cfg.moe?.moeIntermediateSize ?? 0;
    layers.push({
      inputNorm: ones(d),
      q: normal(qDim * d, p + 'q'),
      k: normal(kvDim * d, p + 'k'),
      v: normal(kvDim * d, p + 'v'),
      o: normal(d * qDim, p + 'o'),
      qNorm: cfg.family === 'qwen3' ? ones(cfg.headDim) : null,
      kNorm: cfg.family === 'qwen3' ? ones(cfg.headDim) : null,
      postAttnNorm: ones(d),
      gate: sparse ? new Float32Array(0) : normal(ff * d, p + 'gate'),
      up: sparse ? new Float32Array(0) : normal(ff * d, p + 'up'),
      down: sparse ? new Float32Array(0) : normal(d * ff, p + 'down'),
      moe: sparse ? { router: normal(E * d, p + 'router'), gateUp: normal(E * 2 * ffe * d, p + 'experts.gate_up'), down: normal(E * d * ffe, p + 'experts.down') } : null,
    });
  }
  return {
    embed: normal(cfg.vocabSize * d, 'embed'),
    layers,
    finalNorm: ones(d),
    lmHead: cfg.tieWordEmbeddings ? null : normal(cfg.vocabSize * d, 'lm_head'),
  };
}

/** Fresh LoRA parameters: each module draws A from its own stream of `settings.seed`, so keys are independent of order. */
export function createLoraParams(cfg: ModelConfig, settings: LoraSettings): LoraParams {
  validateLoraSettings(settings);
  const params: LoraParams = new Map();
  for (const { key, inDim, outDim, rank } of adaptedModules(cfg, settings)) {
    const bound = 1 / Math.sqrt(inDim);
    const A = new Prng(settings.seed, 'lora.' + key).fillUniform(new Float32Array(rank * inDim), -bound, bound);
    params.set(key, { A, B: new Float32Array(outDim * rank), inDim, outDim });
  }
  return params;
}

/** A new trainable adapter: fresh parameters, zero gradients and moments, step 0. */
export function createAdapterState(cfg: ModelConfig, settings: LoraSettings): AdapterState {
  const params = createLoraParams(cfg, settings);
  return { settings: { ...settings }, params, grads: zerosLike(params), adamM: zerosLike(params), adamV: zerosLike(params), step: 0 };
}

function validateLoraSettings(s: LoraSettings): void {
  if (!Number.isInteger(s.rank) || s.rank < 1) throw new EngineUserError(`LoRA rank must be a positive integer, got ${s.rank}`);
  if (!Number.isFinite(s.alpha)) throw new EngineUserError(`LoRA alpha must be a finite number, got ${s.alpha}`);
  if (!Number.isFinite(s.seed)) throw new EngineUserError(`LoRA seed must be a finite number, got ${s.seed}`);
  if (!s.trainAttn && !s.trainMlp && !s.trainUnembed) {
    throw new EngineUserError('LoRA must train at least one of attention, MLP or unembedding');
  }
}

/** A small model config for tests and benchmarks (Llama-style unless overridden). */
export function smallModelConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return {
    family: 'llama', vocabSize: 64, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 4, headDim: 8,
    rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, maxPositionEmbeddings: 256, tieWordEmbeddings: false,
    bosTokenId: null, eosTokenIds: [], ...overrides,
  };
}
