import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getLr, loraParamCount, transformerWeightShapes } from './hyperparams.js';

test('getLr gives the sweep’s LoRA rate, ten times lower for full fine-tuning, and refuses unknown models', () => {
  assert.equal(getLr('Qwen/Qwen3-8B'), 1e-3);
  assert.equal(getLr('openai/gpt-oss-120b:peft:131072', { lora: true }), 3e-4);
  assert.equal(getLr('deepseek-ai/DeepSeek-V3.1', { lora: false }), 4e-5);
  assert.throws(() => getLr('tinker-ts/tiny-qwen3'), /no calibrated learning rate for "tinker-ts\/tiny-qwen3"/);
});

test('loraParamCount: rank · Σ(rows + cols) over adapted matrices, Llama-3.2-1B at rank 32', () => {
  // meta-llama/Llama-3.2-1B config.json: tied embeddings, so no lm_head.
  const shapes = transformerWeightShapes({
    hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 16, num_attention_heads: 32,
    num_key_value_heads: 8, head_dim: 64, vocab_size: 128256, tie_word_embeddings: true,
  });
  // Per layer: q (2048+2048) + k (512+2048) + v (512+2048) + o (2048+2048) + 3 MLP (8192+2048).
  const perLayer = 4096 + 2560 + 2560 + 4096 + 3 * 10240;
  assert.deepEqual(loraParamCount(shapes), { expertParams: 0, nonExpertParams: 32 * 16 * perLayer, totalParams: 32 * 16 * perLayer });
  assert.equal(loraParamCount(shapes, { rank: 1 }).totalParams, 16 * perLayer);
});

test('loraParamCount: experts share the outer dimension, routers are not adapted', () => {
  const shapes: Record<string, number[]> = { 'model.layers.0.mlp.gate.weight': [4, 16] };
  for (let e = 0; e < 2; e++) {
    shapes[`model.layers.0.mlp.experts.${e}.gate_proj.weight`] = [8, 16];
    shapes[`model.layers.0.mlp.experts.${e}.up_proj.weight`] = [8, 16];
    shapes[`model.layers.0.mlp.experts.${e}.down_proj.weight`] = [16, 8];
  }
  // Inner dims 8 per matrix per expert (6 · 8) + outer dims 16 once for each of the 3 kinds.
  assert.deepEqual(loraParamCount(shapes, { rank: 1 }), { expertParams: 48 + 48, nonExpertParams: 0, totalParams: 96 });
  assert.equal(loraParamCount(shapes, { rank: 1, sharedExpertOuterLoras: false }).totalParams, 6 * 24);
  assert.equal(loraParamCount(shapes, { rank: 1, includeExperts: false }).totalParams, 0);
});
