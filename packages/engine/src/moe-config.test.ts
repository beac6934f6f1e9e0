import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { referenceKernels as k } from './reference-kernels.js';
import { createAdapterState, randomModelWeights } from './init.js';
import { runTrainingPass } from './model.js';
import { packSequences } from './packed-batch.js';
import { modelConfigFromHf, modelConfigToHf, readHfConfig } from './hf-config.js';
import { hfTensorsOf, readHfWeights, writeHfWeights } from './hf-weights.js';
import { readPeftAdapter, writePeftAdapter } from './peft.js';
import { loadTrainingState, saveTrainingState, STATE_TENSORS_FILE } from './checkpoint.js';
import { readSafetensorsFile } from './safetensors.js';
import { ModelRegistry } from './model-registry.js';
import { runForwardBackward } from './training.js';
import { writeSafetensorsFile, type NamedTensor } from './safetensors.js';
import { EngineUserError } from './errors.js';
import { Prng } from './prng.js';
import { toBf16 } from './weight-dtype.js';
import type { ModelConfig } from './model-types.js';

const moe: ModelConfig = {
  family: 'qwen3', vocabSize: 60, hiddenSize: 16, intermediateSize: 24, numLayers: 3, numHeads: 2, numKvHeads: 1, headDim: 8,
  rmsNormEps: 1e-6, ropeTheta: 1e6, ropeScaling: null, maxPositionEmbeddings: 256, tieWordEmbeddings: false, bosTokenId: null, eosTokenIds: [5],
  moe: { numExperts: 4, numExpertsPerTok: 2, moeIntermediateSize: 8, normTopkProb: true, decoderSparseStep: 1, mlpOnlyLayers: [2] },
};
const hf = modelConfigToHf(moe);
const tokens = [1, 7, 22, 3, 41, 9, 15];

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'moe-config-'));
}

test('a Qwen3-MoE config.json round-trips, including transformers 5 rope_parameters', () => {
  assert.deepEqual(modelConfigFromHf(hf), moe);
  const v5 = { ...hf, rope_theta: undefined, rope_parameters: { rope_theta: 5e5, rope_type: 'default' } };
  assert.equal(modelConfigFromHf(v5).ropeTheta, 5e5);
  assert.equal(modelConfigFromHf({ ...hf, architectures: undefined }).moe?.numExperts, 4, 'model_type qwen3_moe alone is enough');
});

test('Qwen3-MoE config fields the engine does not compute are refused by name', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ output_router_logits: true }, /output_router_logits/],
    [{ use_sliding_window: true }, /use_sliding_window/],
    [{ num_experts_per_tok: 5 }, /num_experts_per_tok/],
    [{ mlp_only_layers: [3] }, /mlp_only_layers/],
    [{ decoder_sparse_step: 0 }, /decoder_sparse_step/],
    [{ shared_expert_intermediate_size: 32 }, /shared experts/],
    [{ moe_intermediate_size: undefined }, /moe_intermediate_size/],
  ];
  for (const [patch, msg] of bad) {
    assert.throws(() => modelConfigFromHf({ ...hf, ...patch }), (e: unknown) => e instanceof EngineUserError && msg.test(e.message), JSON.stringify(patch));
  }
});

test('Qwen3-MoE weights load from per-expert tensors (as transformers saves them) and from stacked ones, alike', () => {
  const w = randomModelWeights(moe, 4, { std: 0.3 });
  const dir = tmp();
  const stackedDir = tmp();
  try {
    writeFileSync(join(dir, 'config.json'), JSON.stringify(hf));
    writeHfWeights(dir, moe, w);
    const cfg = readHfConfig(dir);
    const back = readHfWeights(dir, cfg);
    assert.deepEqual(back.layers[0].moe, w.layers[0].moe);
    assert.equal(back.layers[2].moe, null);
    assert.deepEqual(back.layers[2].gate, w.layers[2].gate);
    // Stacked layout: experts.gate_up_proj [E, 2·ffe, d] and experts.down_proj [E, d, ffe].
    const stacked = new Map<string, NamedTensor>();
    for (const [name, t] of hfTensorsOf(moe, w)) if (!/experts\.\d+\./.test(name)) stacked.set(name, t);
    for (const l of [0, 1]) {
      stacked.set(`model.layers.${l}.mlp.experts.gate_up_proj`, { data: w.layers[l].moe!.gateUp, shape: [4, 16, 16] });
      stacked.set(`model.layers.${l}.mlp.experts.down_proj`, { data: w.layers[l].moe!.down, shape: [4, 16, 8] });
    }
    writeSafetensorsFile(join(stackedDir, 'model.safetensors'), stacked);
    const fromStacked = readHfWeights(stackedDir, cfg);
    const batch = packSequences(cfg, [{ tokens: tokens.slice(0, -1), targets: tokens.slice(1) }], 1);
    const lp = runTrainingPass(k, { name: 'a', config: cfg, weights: back }, null, batch);
    assert.deepEqual(runTrainingPass(k, { name: 'b', config: cfg, weights: fromStacked }, null, batch), lp);
    // In bf16 both layouts load the same bits, straight into bf16 storage.
    const bf16 = readHfWeights(dir, cfg, 'bf16');
    const bf16Stacked = readHfWeights(stackedDir, cfg, 'bf16');
    assert.ok(bf16.layers[0].moe!.gateUp instanceof Uint16Array && bf16.layers[0].moe!.down instanceof Uint16Array);
    assert.deepEqual(bf16Stacked.layers[0].moe, bf16.layers[0].moe);
    assert.deepEqual(bf16.layers[0].moe!.gateUp, toBf16(w.layers[0].moe!.gateUp), 'rounded once, from the stored values');
    const missing = new Map(hfTensorsOf(moe, w));
    missing.delete('model.layers.1.mlp.experts.3.up_proj.weight');
    writeSafetensorsFile(join(stackedDir, 'model.safetensors'), missing);
    assert.throws(() => readHfWeights(stackedDir, cfg), /experts\.3\.up_proj/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(stackedDir, { recursive: true, force: true });
  }
});

test('expert adapters export as PEFT stacked tensors and read back unchanged', () => {
  const adapter = createAdapterState(moe, { rank: 2, alpha: 4, seed: 1, trainAttn: true, trainMlp: true, trainUnembed: false });
  const rng = new Prng(3);
  for (const p of adapter.params.values()) rng.fillNormal(p.B, 0, 0.5);
  const dir = tmp();
  try {
    writePeftAdapter(dir, { baseModel: 'm', settings: adapter.settings, params: adapter.params }, moe);
    const config = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
    assert.deepEqual(config.target_modules, ['q_proj', 'k_proj', 'v_proj', 'o_proj']);
    assert.deepEqual(config.target_parameters, ['mlp.experts.gate_up_proj', 'mlp.experts.down_proj']);
    assert.deepEqual(config.rank_pattern, { '.*\\.gate_up_proj': 4 });
    const back = readPeftAdapter(dir, moe);
    assert.equal(back.settings.trainMlp, true);
    assert.deepEqual([...back.params.keys()].sort(), [...adapter.params.keys()].sort());
    for (const [key, p] of adapter.params) assert.deepEqual(back.params.get(key), p, key);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('training state with expert adapters (gate_up at rank 2r) saves and loads with its optimizer moments', () => {
  const settings = { rank: 3, alpha: 6, seed: 2, trainAttn: true, trainMlp: true, trainUnembed: false };
  const state = createAdapterState(moe, settings);
  const rng = new Prng(4);
  for (const group of [state.params, state.adamM, state.adamV]) for (const p of group.values()) { rng.fillNormal(p.A, 0, 1); rng.fillNormal(p.B, 0, 1); }
  state.step = 3;
  const dir = tmp();
  try {
    saveTrainingState(dir, 'm', state, true);
    const gateUp = readSafetensorsFile(join(dir, STATE_TENSORS_FILE)).tensors.get('lora.layers.0.experts.1.gate_up.A');
    assert.deepEqual(gateUp?.shape, [6, 16]);
    const target = createAdapterState(moe, settings);
    loadTrainingState(dir, 'm', target, true);
    assert.equal(target.step, 3);
    for (const [key, p] of state.params) assert.deepEqual(target.params.get(key), p, key);
    for (const [key, p] of state.adamV) assert.deepEqual(target.adamV.get(key), p, key);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the tiny MoE stand-in trains through forward_backward and reports its router load', () => {
  const registry = new ModelRegistry({ log: () => {} });
  const model = registry.load('tinker-ts/tiny-qwen3-moe');
  assert.equal(model.config.moe?.numExperts, 8);
  const adapter = createAdapterState(model.config, { rank: 4, alpha: 8, seed: 0, trainAttn: true, trainMlp: true, trainUnembed: false });
  const datum = {
    model_input: { chunks: [{ type: 'encoded_text' as const, tokens: tokens.slice(0, -1) }] },
    loss_fn_inputs: { target_tokens: { data: tokens.slice(1), dtype: 'int64' as const, shape: [6] } },
  };
  const out = runForwardBackward(k, model, adapter, [datum], 'cross_entropy', null, false);
  const m = out.metrics;
  assert.ok(Math.abs(m['moe/expert_load:mean'] - 2 / 8) < 1e-12, JSON.stringify(m));
  assert.ok(m['moe/expert_load:max'] >= 0.25 && m['moe/expert_load:min'] <= 0.25 && m['moe/expert_load:max'] <= 1);
  const gradNorm = [...adapter.grads.entries()].filter(([key]) => key.includes('.experts.'))
    .reduce((s, [, g]) => s + g.B.reduce((a, x) => a + x * x, 0), 0);
  assert.ok(gradNorm > 0, 'the expert adapters receive gradients');
});

