import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Datum } from '@tinker-ts/protocol';
import { Engine } from './engine.js';
import { EngineUserError } from './errors.js';
import { Tokenizer } from './tokenizer.js';

const MODEL = 'tinker-ts/tiny-qwen3';
const logs: string[] = [];
const engine = new Engine({ log: (l) => logs.push(l) });
const tok = Tokenizer.fromFiles(engine.tokenizerFiles(MODEL));
const prompt = tok.encode('Q: What is the secret word?\nA:');
const answer = [...tok.encode(' banana split'), tok.tokenId('<|im_end|>')!];

function datum(): Datum {
  const seq = [...prompt, ...answer];
  return {
    model_input: { chunks: [{ type: 'encoded_text', tokens: seq.slice(0, -1) }] },
    loss_fn_inputs: {
      target_tokens: { data: seq.slice(1), dtype: 'int64', shape: [seq.length - 1] },
      weights: { data: seq.slice(1).map((_, i) => (i + 1 >= prompt.length ? 1 : 0)), dtype: 'float32', shape: [seq.length - 1] },
    },
  };
}
const greedy = { max_tokens: answer.length + 2, temperature: 0 };

test('stand-ins are listed, flagged and logged when loaded', () => {
  const models = engine.listModels();
  for (const name of ['Qwen/Qwen3-8B', 'Qwen/Qwen3-30B-A3B-Instruct-2507', 'Qwen/Qwen3-4B-Instruct-2507', 'meta-llama/Llama-3.2-1B', 'meta-llama/Llama-3.1-8B-Instruct', MODEL, 'tinker-ts/tiny-llama3']) {
    const m = models.find((x) => x.model_name === name);
    assert.ok(m, name);
    assert.equal(m.stand_in, true);
  }
  assert.equal(engine.hasModel('Qwen/Qwen3-8B'), true);
  assert.equal(engine.hasModel('nope/nope'), false);
  engine.createAdapter('probe', MODEL, { rank: 4, train_attn: true, train_mlp: true, train_unembed: false });
  assert.ok(logs.some((l) => l.includes(MODEL) && l.includes('stand-in')), logs.join('\n'));
  engine.dropAdapter('probe');
  assert.throws(() => engine.adapterInfo('probe'), EngineUserError);
});

test('a few dozen LoRA steps on a stand-in lower the loss and make greedy sampling produce the answer', () => {
  engine.createAdapter('a', MODEL, { rank: 8, seed: 1, train_attn: true, train_mlp: true, train_unembed: true });
  const before = engine.sample({ baseModel: MODEL, adapterId: 'a' }, { prompt, num_samples: 1, sampling_params: greedy, prompt_logprobs: false, topk_prompt_logprobs: 0 });
  assert.notDeepEqual(before.sequences[0].tokens.slice(0, answer.length), answer);
  const losses: number[] = [];
  // At 5e-3 the loss falls smoothly (~0.1 after 30 steps). At 1e-2 it spikes (35 → 54 → … → 5),
  // and where it ends depended on the last bits of the GEMM kernels' rounding.
  for (let step = 0; step < 30; step++) {
    const out = engine.forwardBackward('a', [datum()], 'cross_entropy', null, false);
    losses.push(out.metrics['loss:sum']);
    engine.optimStep('a', { learning_rate: 5e-3 });
  }
  assert.equal(engine.adapterInfo('a').step, 30);
  assert.ok(losses.at(-1)! < losses[0] * 0.2, `loss ${losses[0]} -> ${losses.at(-1)}`);
  const after = engine.sample({ baseModel: MODEL, adapterId: 'a' }, { prompt, num_samples: 2, sampling_params: greedy, prompt_logprobs: false, topk_prompt_logprobs: 0 });
  assert.deepEqual(after.sequences[0].tokens, answer);
  assert.equal(after.sequences[0].stop_reason, 'stop');
  assert.equal(tok.decode(after.sequences[0].tokens), ' banana split<|im_end|>');
  // The sampled tokens' logprobs match what forward gives for them.
  const fwd = engine.forwardBackward('a', [datum()], 'cross_entropy', null, true);
  const lp = fwd.loss_fn_outputs[0].logprobs.data.slice(prompt.length - 1);
  after.sequences[0].logprobs!.forEach((x, i) => assert.ok(Math.abs(x - lp[i]) <= 1e-4, `${x} vs ${lp[i]}`));
});

test('saved state and sampler weights reproduce the trained adapter', () => {
  const root = mkdtempSync(join(tmpdir(), 'engine-'));
  engine.saveState('a', join(root, 'state'), true);
  engine.saveSamplerWeights('a', join(root, 'sampler'));
  assert.deepEqual(engine.readStateInfo(join(root, 'state')), { base_model: MODEL, lora_rank: 8, train_mlp: true, train_attn: true, train_unembed: true, has_optimizer: true });
  assert.equal(engine.readStateInfo(join(root, 'sampler')).has_optimizer, false);
  const cfg = JSON.parse(readFileSync(join(root, 'sampler', 'adapter_config.json'), 'utf8'));
  assert.equal(cfg.base_model_name_or_path, MODEL);
  const req = { prompt, num_samples: 1, sampling_params: greedy, prompt_logprobs: true, topk_prompt_logprobs: 0 };
  const live = engine.sample({ baseModel: MODEL, adapterId: 'a' }, req);
  const fromDir = engine.sample({ baseModel: MODEL, samplerDir: join(root, 'sampler') }, req);
  assert.deepEqual(fromDir, live);
  engine.createAdapter('b', MODEL, { rank: 8, seed: 2, train_attn: true, train_mlp: true, train_unembed: true });
  engine.loadState('b', join(root, 'state'), true);
  assert.equal(engine.adapterInfo('b').step, 30);
  assert.deepEqual(engine.sample({ baseModel: MODEL, adapterId: 'b' }, req), live);
  // Continue training from exported sampler weights.
  engine.createAdapter('c', MODEL, { rank: 8, train_attn: true, train_mlp: true, train_unembed: true });
  engine.loadState('c', join(root, 'sampler'), false);
  assert.deepEqual(engine.sample({ baseModel: MODEL, adapterId: 'c' }, req), live);
  engine.createAdapter('d', MODEL, { rank: 4, train_attn: true, train_mlp: true, train_unembed: true });
  assert.throws(() => engine.loadState('d', join(root, 'state'), true), (e: Error) => e instanceof EngineUserError && /rank 8/.test(e.message));
  for (const id of ['b', 'c', 'd']) engine.dropAdapter(id);
});

test('stop strings use the model tokenizer; bad requests are user errors', () => {
  const r = engine.sample({ baseModel: MODEL, adapterId: 'a' }, { prompt, num_samples: 1, sampling_params: { ...greedy, stop: ['nana'] }, prompt_logprobs: false, topk_prompt_logprobs: 0 });
  assert.equal(r.sequences[0].stop_reason, 'stop');
  assert.ok(tok.decode(r.sequences[0].tokens).endsWith('nana'));
  const bad = (f: () => unknown, re: RegExp) => assert.throws(f, (e: Error) => e instanceof EngineUserError && re.test(e.message), re.source);
  bad(() => engine.sample({ baseModel: 'nope' }, { prompt, num_samples: 1, sampling_params: {}, prompt_logprobs: false, topk_prompt_logprobs: 0 }), /unknown base model/);
  bad(() => engine.sample({ baseModel: MODEL }, { prompt, num_samples: 1, sampling_params: { max_tokens: 40000 }, prompt_logprobs: false, topk_prompt_logprobs: 0 }), /context length/);
  bad(() => engine.sample({ baseModel: MODEL }, { prompt, num_samples: 1, sampling_params: { top_p: 2 }, prompt_logprobs: false, topk_prompt_logprobs: 0 }), /top_p/);
  bad(() => engine.forwardBackward('a', [datum()], 'nope', null, false), /unknown loss/);
  const long = { model_input: { chunks: [{ type: 'encoded_text' as const, tokens: new Array(32769).fill(5) }] }, loss_fn_inputs: {} };
  bad(() => engine.forwardBackward('a', [long], 'cross_entropy', null, false), /32769 tokens but .* at most 32768/);
  bad(() => engine.forwardBackward('zz', [datum()], 'cross_entropy', null, false), /unknown model id/);
  bad(() => engine.createAdapter('a', MODEL, { rank: 8, train_attn: true, train_mlp: true, train_unembed: true }), /already exists/);
  bad(() => engine.createAdapter('x', MODEL, { rank: 0, train_attn: true, train_mlp: true, train_unembed: true }), /rank/);
  bad(() => engine.loadState('a', '/nonexistent/dir', false), /no checkpoint/);
});
