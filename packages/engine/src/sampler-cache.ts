/**
 * Sampler weights (PEFT adapters read from disk) kept loaded between sample calls, by directory.
 * An RL loop saves new sampler weights every iteration and never comes back to the old ones, so
 * the cache holds at most `budgetBytes` of weights: past it the least recently used go first.
 * Dropping an entry loses nothing, since the weights are still on disk and the next sample from
 * that directory reads them again.
 */
import type { LoraParams, LoraSettings } from './model-types.js';

/** Default memory budget: a few adapters of a 0.6B-sized model, or ~50 of a stand-in's. */
export const DEFAULT_SAMPLER_CACHE_BYTES = 256 * 1024 * 1024;

export interface SamplerWeights {
  /** The weights file's mtime when read: a rewrite under the same directory invalidates the entry. */
  mtimeMs: number;
  baseModel: string;
  params: LoraParams;
  settings: LoraSettings;
}

export interface SamplerCacheInfo {
  entries: number;
  bytes: number;
  budgetBytes: number;
}

function paramBytes(params: LoraParams): number {
  let n = 0;
  for (const p of params.values()) n += p.A.byteLength + p.B.byteLength;
  return n;
}

export class SamplerCache {
  /** Map order is recency order: the first entry is the least recently used. */
  private readonly entries = new Map<string, { weights: SamplerWeights; bytes: number }>();
  private bytes = 0;

  constructor(readonly budgetBytes: number = DEFAULT_SAMPLER_CACHE_BYTES) {
    if (!(budgetBytes >= 0)) throw new RangeError(`sampler cache budget must be a non-negative number of bytes, got ${budgetBytes}`);
  }

  /** The cached weights of `dir` if still current (same file mtime and base model); marks them most recent. */
  get(dir: string, mtimeMs: number, baseModel: string): SamplerWeights | null {
    const hit = this.entries.get(dir);
    if (!hit) return null;
    if (hit.weights.mtimeMs !== mtimeMs || hit.weights.baseModel !== baseModel) {
      this.release(dir);
      return null;
    }
    this.entries.delete(dir);
    this.entries.set(dir, hit);
    return hit.weights;
  }

  /** Caches `weights` for `dir`, then evicts the least recently used others while over budget. */
  put(dir: string, weights: SamplerWeights): void {
    this.release(dir);
    const bytes = paramBytes(weights.params);
    this.entries.set(dir, { weights, bytes });
    this.bytes += bytes;
    // The entry just added stays even when it alone exceeds the budget: it is about to be used.
    for (const key of this.entries.keys()) {
      if (this.bytes <= this.budgetBytes || key === dir) break;
      this.release(key);
    }
  }

  /** Forgets `dir` (its files are being deleted, or its owner is done with it). */
  release(dir: string): boolean {
    const hit = this.entries.get(dir);
    if (!hit) return false;
    this.entries.delete(dir);
    this.bytes -= hit.bytes;
    return true;
  }

  info(): SamplerCacheInfo {
    return { entries: this.entries.size, bytes: this.bytes, budgetBytes: this.budgetBytes };
  }
}
