/**
 * cos/sin tables for rotary embeddings, [positions, headDim/2], as Hugging Face computes them:
 * inv_freq in float32 (with the Llama 3 frequency rescaling when configured), angle = pos·inv_freq
 * rounded to float32, then cos/sin. Tables grow on demand and are cached per config object.
 */
import type { ModelConfig, RopeScaling } from './model-types.js';
import { EngineUserError } from './errors.js';

export interface RopeTables {
  /** Number of positions the tables cover. */
  length: number;
  cos: Float32Array;
  sin: Float32Array;
}

/** Rotary inverse frequencies, headDim/2 of them, float32-rounded as HF does. */
export function ropeInverseFrequencies(headDim: number, theta: number, scaling: RopeScaling | null): Float32Array {
  const half = headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(theta, Math.fround((2 * i) / headDim));
  if (scaling !== null) applyLlama3Scaling(inv, scaling);
  return inv;
}

/** Llama 3.1 scheme: long wavelengths divided by `factor`, short kept, a smooth blend between. */
function applyLlama3Scaling(inv: Float32Array, s: RopeScaling): void {
  const lowFreqWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highFreqWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  for (let i = 0; i < inv.length; i++) {
    const f = inv[i];
    const wavelen = (2 * Math.PI) / f;
    if (wavelen > lowFreqWavelen) {
      inv[i] = f / s.factor;
    } else if (wavelen >= highFreqWavelen) {
      const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      inv[i] = (1 - smooth) * (f / s.factor) + smooth * f;
    }
  }
}

export function buildRopeTables(cfg: ModelConfig, length: number): RopeTables {
  const half = cfg.headDim / 2;
  const inv = ropeInverseFrequencies(cfg.headDim, cfg.ropeTheta, cfg.ropeScaling);
  const cos = new Float32Array(length * half);
  const sin = new Float32Array(length * half);
  for (let p = 0; p < length; p++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(p * inv[i]);
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { length, cos, sin };
}

const cache = new WeakMap<ModelConfig, RopeTables>();

/** Tables covering at least `positions` positions (grown by doubling, capped at maxPositionEmbeddings). */
export function ropeTablesFor(cfg: ModelConfig, positions: number): RopeTables {
  if (positions > cfg.maxPositionEmbeddings) {
    throw new EngineUserError(`sequence needs ${positions} positions but the model supports at most ${cfg.maxPositionEmbeddings}`);
  }
  const have = cache.get(cfg);
  if (have !== undefined && have.length >= positions) return have;
  let length = Math.max(256, have?.length ?? 0);
  while (length < positions) length *= 2;
  const tables = buildRopeTables(cfg, Math.min(length, cfg.maxPositionEmbeddings));
  cache.set(cfg, tables);
  return tables;
}
