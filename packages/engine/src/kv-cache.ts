// The sampler's key/value cache: per layer, [nSeq, capacity, KVH, hd] keys and values and each
// sequence's cached length.
import type { ModelConfig } from './model-types.js';
import { EngineUserError } from './errors.js';

export interface KvCache {
  nSeq: number;
  capacity: number;
  k: Float32Array[]; // per layer [nSeq, capacity, KVH, hd]
  v: Float32Array[];
  lengths: Int32Array;
}

export function createKvCache(cfg: ModelConfig, nSeq: number, capacity: number): KvCache {
  if (!Number.isInteger(nSeq) || nSeq < 1) throw new RangeError(`KV cache needs at least one sequence, got ${nSeq}`);
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`KV cache capacity must be a positive integer, got ${capacity}`);
  if (capacity > cfg.maxPositionEmbeddings) {
    throw new EngineUserError(`KV cache capacity ${capacity} exceeds the model's ${cfg.maxPositionEmbeddings} positions`);
  }
  const size = nSeq * capacity * cfg.numKvHeads * cfg.headDim;
  const k: Float32Array[] = [];
  const v: Float32Array[] = [];
  for (let l = 0; l < cfg.numLayers; l++) {
    k.push(new Float32Array(size));
    v.push(new Float32Array(size));
  }
  return { nSeq, capacity, k, v, lengths: new Int32Array(nSeq) };
}

