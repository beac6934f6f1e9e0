import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Datum } from '@tinker-ts/protocol';
import { Engine } from './engine.js';
import { Tokenizer } from './tokenizer.js';

const MODEL = 'tinker-ts/tiny-qwen3-moe';

test('the MoE stand-in through the Engine: training lowers the loss, metrics carry the router load, sampler weights are a loadable PEFT adapter', () => {
  const engine = new Engine({ log: () => {} });
  const tok = Tokenizer.fromFiles(engine.tokenizerFiles(MODEL));
  const seq = [...tok.encode('Q: the secret word?\nA: banana split'), tok.tokenId('<|im_end|>')!];
  const datum: Datum = {
    model_input: { chunks: [{ type: 'encoded_text', tokens: seq.slice(0, -1) }] },
    loss_fn_inputs: { target_tokens: { data: seq.slice(1), dtype: 'int64', shape: [seq.length - 1] } },
  };
  assert.equal(engine.listModels().find((m) => m.model_name === MODEL)?.stand_in, true);
  engine.createAdapter('m', MODEL, { rank: 4, seed: 1, train_attn: true, train_mlp: true, train_unembed: false });
  const losses: number[] = [];
  for (let step = 0; step < 8; step++) {
    const out = engine.forwardBackward('m', [datum], 'cross_entropy', null, false);
    losses.push(out.metrics['loss:sum']);
    assert.ok(Math.abs(out.metrics['moe/expert_load:mean'] - 2 / 8) < 1e-12, JSON.stringify(out.metrics));
    assert.ok(out.metrics['moe/expert_load:max'] > out.metrics['moe/expert_load:min']);
    engine.optimStep('m', { learning_rate: 5e-3 });
  }
  assert.ok(losses.at(-1)! < losses[0], `loss ${losses[0]} -> ${losses.at(-1)}`);
  const root = mkdtempSync(join(tmpdir(), 'engine-moe-'));
  try {
    engine.saveSamplerWeights('m', join(root, 'sampler'));
    const config = JSON.parse(readFileSync(join(root, 'sampler', 'adapter_config.json'), 'utf8'));
    assert.deepEqual(config.target_parameters, ['mlp.experts.gate_up_proj', 'mlp.experts.down_proj']);
    const req = { prompt: seq.slice(0, 8), num_samples: 2, sampling_params: { max_tokens: 6, temperature: 1, seed: 4 }, prompt_logprobs: true, topk_prompt_logprobs: 0 };
    const live = engine.sample({ baseModel: MODEL, adapterId: 'm' }, req);
    assert.deepEqual(engine.sample({ baseModel: MODEL, samplerDir: join(root, 'sampler') }, req), live);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
