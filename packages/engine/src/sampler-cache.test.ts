import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from './engine.js';
import type { LoraParams, LoraSettings } from './model-types.js';
import { SamplerCache } from './sampler-cache.js';

const MODEL = 'tinker-ts/tiny-qwen3';
const settings: LoraSettings = { rank: 1, alpha: 32, seed: 0, trainAttn: true, trainMlp: false, trainUnembed: false };

/** Weights of exactly `bytes` bytes (one pair). */
function weights(bytes: number, mtimeMs = 1) {
  const params: LoraParams = new Map([['w', { A: new Float32Array(bytes / 8), B: new Float32Array(bytes / 8), inDim: 1, outDim: 1 }]]);
  return { mtimeMs, baseModel: MODEL, params, settings };
}

test('the sampler cache drops the least recently used weights once over its budget', () => {
  const cache = new SamplerCache(3000);
  cache.put('a', weights(1000));
  cache.put('b', weights(1000));
  cache.put('c', weights(1000));
  assert.ok(cache.get('a', 1, MODEL), 'a is used again: b is now the oldest');
  cache.put('d', weights(1000));
  assert.equal(cache.get('b', 1, MODEL), null);
  assert.deepEqual(cache.info(), { entries: 3, bytes: 3000, budgetBytes: 3000 });
  // One entry larger than the budget stays (it is about to be sampled from); all others go.
  cache.put('huge', weights(8000));
  assert.deepEqual(cache.info(), { entries: 1, bytes: 8000, budgetBytes: 3000 });
  // Rewritten files (another mtime) and released directories are misses.
  assert.equal(cache.get('huge', 2, MODEL), null);
  cache.put('e', weights(1000));
  assert.equal(cache.release('e'), true);
  assert.deepEqual(cache.info(), { entries: 0, bytes: 0, budgetBytes: 3000 });
});

test('the engine keeps sampler weights within its budget, reloads evicted ones from disk, and releases them', () => {
  const root = mkdtempSync(join(tmpdir(), 'tinker-sampler-cache-'));
  try {
    const engine = new Engine({ samplerCacheBytes: 1 }); // room for the one in use only
    engine.createAdapter('m', MODEL, { rank: 2, seed: 3, train_attn: true, train_mlp: true, train_unembed: false });
    const dirs = ['s0', 's1', 's2'].map((d) => join(root, d));
    for (const dir of dirs) engine.saveSamplerWeights('m', dir);
    const req = { prompt: [1, 2, 3], num_samples: 1, sampling_params: { max_tokens: 4, temperature: 0 }, prompt_logprobs: false, topk_prompt_logprobs: 0 };
    const first = engine.sample({ baseModel: MODEL, samplerDir: dirs[0] }, req);
    engine.sample({ baseModel: MODEL, samplerDir: dirs[1] }, req);
    engine.sample({ baseModel: MODEL, samplerDir: dirs[2] }, req);
    assert.equal(engine.memoryInfo().samplerCache.entries, 1);
    // s0 was evicted: sampling from it reads it again and gives the same greedy tokens.
    assert.deepEqual(engine.sample({ baseModel: MODEL, samplerDir: dirs[0] }, req).sequences, first.sequences);
    assert.equal(engine.releaseSamplerWeights(dirs), 1);
    engine.dropAdapter('m');
    assert.deepEqual(engine.memoryInfo(), { adapters: 0, samplerCache: { entries: 0, bytes: 0, budgetBytes: 1 } });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
