import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Datum } from '@tinker-ts/protocol';
import type { AdapterState, LoadedModel, ModelConfig } from './model-types.js';
import { referenceKernels as k } from './reference-kernels.js';
import { createAdapterState, randomModelWeights, smallModelConfig } from './init.js';
import { evaluateLossProgram, type LossProgram, type LossStep } from './loss-graph.js';
import { runTrainingPass } from './model.js';
import { packSequences } from './packed-batch.js';
import { Prng } from './prng.js';
import { runForwardBackward } from './training.js';

const cfg: ModelConfig = smallModelConfig({ family: 'qwen3', vocabSize: 48, hiddenSize: 32, intermediateSize: 64, numHeads: 4, numKvHeads: 2, headDim: 8, maxPositionEmbeddings: 32 });
const model: LoadedModel = { name: 'tiny-qwen3', config: cfg, weights: randomModelWeights(cfg, 5) };
const freshAdapter = (): AdapterState => createAdapterState(cfg, { rank: 4, alpha: 8, seed: 3, trainAttn: true, trainMlp: true, trainUnembed: true });

const REFS = [-30, -31, -20, -22];
const BETA = 0.5;

/** DPO over pairs (0,1), (2,3): mean of -logsigmoid(β·((c·w − ref_c) − (r·w − ref_r))). */
function dpoProgram(): LossProgram {
  const steps: LossStep[] = [{ op: 'input', name: 'logprobs', rank: 1 }, { op: 'input', name: 'weights', rank: 1 }, { op: 'input', name: 'ref', rank: 0 }];
  const push = (s: LossStep) => steps.push(s) - 1;
  const rel = (i: number) => {
    const lp = push({ op: 'item', x: 0, index: i });
    const w = push({ op: 'item', x: 1, index: i });
    const ref = push({ op: 'item', x: 2, index: i });
    return push({ op: 'binary', fn: 'sub', a: push({ op: 'dot', a: lp, b: w }), b: push({ op: 'sum', x: ref }) });
  };
  const beta = push({ op: 'const', value: BETA });
  const terms = [0, 2].map((c) => {
    const margin = push({ op: 'binary', fn: 'mul', a: push({ op: 'binary', fn: 'sub', a: rel(c), b: rel(c + 1) }), b: beta });
    return push({ op: 'unary', fn: 'neg', x: push({ op: 'unary', fn: 'logsigmoid', x: margin }) });
  });
  const loss = push({ op: 'mean', x: push({ op: 'stack', xs: push({ op: 'list', items: terms }) }) });
  return { steps, loss, metrics: {} };
}

/** Chosen/rejected completions after a shared prompt (input = seq[:-1], targets = seq[1:]); weights mask the completion. */
function preferenceData(withDpoInputs: boolean): Datum[] {
  const prompt = [7, 8, 9];
  return [[40, 41, 42], [30, 31, 32], [20, 21], [10, 11, 12, 13]].map((completion, i) => {
    const seq = [...prompt, ...completion];
    const n = seq.length - 1;
    const weights = Array.from({ length: n }, (_, j) => (j + 1 >= prompt.length ? 1 : 0));
    const inputs: Datum['loss_fn_inputs'] = { target_tokens: { data: seq.slice(1), dtype: 'int64' }, weights: { data: weights, dtype: 'float32' } };
    if (withDpoInputs) inputs.ref = { data: [REFS[i]!], dtype: 'float32', shape: [] };
    return { model_input: { chunks: [{ type: 'encoded_text', tokens: seq.slice(0, n) }] }, loss_fn_inputs: inputs };
  });
}

function flatGrads(a: AdapterState): Float32Array {
  const parts: number[] = [];
  for (const g of a.grads.values()) parts.push(...g.A, ...g.B);
  return Float32Array.from(parts);
}

function assertClose(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length);
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    norm += b[i]! * b[i]!;
    assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-5 + 1e-4 * Math.abs(b[i]!), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
  assert.ok(norm > 1e-8, `${what}: gradient is ~0`);
}

describe('custom loss programs in the training pass (reference kernels)', () => {
  it('a batch-coupled loss gradient gives the per-chunk gradients, with one head chunk or several', () => {
    const rng = new Prng(2);
    const seqs = [5, 7, 3].map((n) => {
      const t = Array.from({ length: n + 1 }, () => Math.floor(rng.uniform() * cfg.vocabSize));
      return { tokens: t.slice(0, n), targets: t.slice(1) };
    });
    const batch = packSequences(cfg, seqs, 1);
    const c = rng.fillNormal(new Float32Array(batch.tokens.length), 0, 1);
    const perChunk = freshAdapter();
    runTrainingPass(k, model, perChunk, batch, { headChunkRows: 4, lossGradient: (r0, n, _lp, dlp) => dlp.set(c.subarray(r0, r0 + n)) });
    for (const rows of [4, 64]) {
      const coupled = freshAdapter();
      let calls = 0;
      runTrainingPass(k, model, coupled, batch, {
        headChunkRows: rows,
        batchLossGradient: (lp, dlp) => {
          calls++;
          assert.ok(lp.every((x) => x < 0), 'every logprob is known when the gradient is taken');
          dlp.set(c);
        },
      });
      assert.equal(calls, 1);
      assertClose(flatGrads(coupled), flatGrads(perChunk), `head chunks of ${rows} rows`);
    }
  });

  it('a custom DPO loss trains like cross_entropy with weights = -dLoss/dlogprobs, in one pass', () => {
    const program = dpoProgram();
    const custom = freshAdapter();
    const out = runForwardBackward(k, model, custom, preferenceData(true), 'custom', null, false, program);

    // The two-pass equivalent: logprobs first, then cross_entropy with weights = -g.
    const ref = freshAdapter();
    const forward = runForwardBackward(k, model, ref, preferenceData(false), 'cross_entropy', null, true);
    const lps = forward.loss_fn_outputs.map((o) => o.logprobs.data);
    const data = preferenceData(true);
    const evaluated = evaluateLossProgram(program, { logprobs: lps, weights: data.map((d) => d.loss_fn_inputs.weights!.data), ref: REFS.map((r) => [r]) }, true);
    const backward = preferenceData(false).map((d, i) => ({ ...d, loss_fn_inputs: { ...d.loss_fn_inputs, weights: { data: Array.from(evaluated.dlogprobs![i]!, (g) => -g), dtype: 'float32' as const } } }));
    runForwardBackward(k, model, ref, backward, 'cross_entropy', null, false);

    assert.ok(Math.abs(out.metrics['loss:sum']! - evaluated.loss) < 1e-6, `${out.metrics['loss:sum']} vs ${evaluated.loss}`);
    out.loss_fn_outputs.forEach((o, i) => assert.deepEqual(o.logprobs.data, lps[i]));
    assertClose(flatGrads(custom), flatGrads(ref), 'LoRA gradients');
  });

  it('the custom loss gradient matches finite differences of the loss in the LoRA weights', () => {
    const program = dpoProgram();
    const adapter = freshAdapter();
    const data = preferenceData(true);
    // B = 0 at init makes A's gradient vanish: move B off zero first.
    const rng = new Prng(9);
    for (const p of adapter.params.values()) rng.fillNormal(p.B, 0, 0.05);
    runForwardBackward(k, model, adapter, data, 'custom', null, false, program);
    const loss = () => runForwardBackward(k, model, adapter, data, 'custom', null, true, program).metrics['loss:sum']!;
    let checked = 0;
    for (const [key, p] of adapter.params) {
      const g = adapter.grads.get(key)!;
      for (const [param, grad, what] of [[p.A, g.A, `${key}.A`], [p.B, g.B, `${key}.B`]] as const) {
        const gradNorm = Math.sqrt(grad.reduce((s, x) => s + x * x, 0));
        if (gradNorm < 1e-4) continue;
        // Along the gradient direction: the change of the loss is eps·|g|.
        const eps = 1e-2 / Math.max(1, gradNorm);
        const saved = param.slice();
        const step = (sign: number) => {
          for (let i = 0; i < param.length; i++) param[i] = saved[i]! + (sign * eps * grad[i]!) / gradNorm;
          return loss();
        };
        const fd = (step(1) - step(-1)) / (2 * eps);
        param.set(saved);
        const tol = 1e-3 + 2e-2 * gradNorm;
        assert.ok(Math.abs(fd - gradNorm) <= tol, `${what}: finite difference ${fd} vs |g| ${gradNorm}`);
        checked++;
      }
      if (checked >= 6) break;
    }
    assert.ok(checked >= 4, `checked ${checked} parameter blocks`);
  });
});
