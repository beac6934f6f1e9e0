import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CostMeter } from './cost-meter.js';
import { pricesFor } from './prices.js';
import { logprobGapWarning, sampleTrainMetrics } from './rl-metrics.js';

test('sampleTrainMetrics: KL estimates, gap, ratio and entropy over the action tokens only', () => {
  const m = sampleTrainMetrics([
    // The first position is the prompt (mask 0): its made-up logprobs must not count.
    { sampling: [-9, -1, -2], training: [0, -1.1, -1.8], mask: [0, 1, 1] },
    { sampling: [-0.5], training: [-0.5], mask: [1] },
  ]);
  const d = [0.1, -0.2, 0];
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
  close(m['optim/kl_sample_train_v1'], (0.1 - 0.2 + 0) / 3);
  close(m['optim/kl_sample_train_v2'], (0.5 * (0.01 + 0.04)) / 3);
  close(m['optim/entropy'], (1 + 2 + 0.5) / 3);
  close(m['optim/logprob_gap_mean'], 0.3 / 3);
  close(m['optim/logprob_gap_max'], 0.2);
  const ratios = d.map((x) => Math.exp(-x));
  close(m['optim/ratio_mean'], ratios.reduce((a, b) => a + b) / 3);
  close(m['optim/ratio_min'], Math.exp(-0.1));
  close(m['optim/ratio_max'], Math.exp(0.2));
  close(m['optim/ratio_clipped_fraction'], 1 / 3); // exp(0.2) = 1.221 > 1.2
  assert.equal(m['optim/action_tokens'], 3);
  assert.throws(() => sampleTrainMetrics([{ sampling: [0], training: [0, 0], mask: [1, 1] }]), /differ in length/);
});

test('logprobGapWarning speaks only above the threshold', () => {
  const same = sampleTrainMetrics([{ sampling: [-1, -2], training: [-1, -2], mask: [1, 1] }]);
  assert.equal(logprobGapWarning(same), undefined);
  const off = sampleTrainMetrics([{ sampling: [-1, -2], training: [-1.3, -2.2], mask: [1, 1] }]);
  assert.match(logprobGapWarning(off) ?? '', /differ by 0\.2500 nats per token on average \(max 0\.3000/);
  assert.equal(logprobGapWarning(off, 0.3), undefined);
});

test('CostMeter: hosted prices per million tokens, cumulative across steps and a resume; zero on a local server', () => {
  const hosted = pricesFor('Qwen/Qwen3-8B:peft:32768', 'https://tinker.thinkingmachines.dev/services/tinker-prod');
  assert.deepEqual(hosted, { prefill: 0.195, cachedPrefill: 0.039, sample: 0.6, train: 0.44 });
  const meter = new CostMeter(hosted);
  const a = meter.record({ train: 1_000_000, prefill: 2_000_000, sample: 500_000 });
  assert.ok(Math.abs(a['cost/step_usd']! - (0.44 + 0.39 + 0.3)) < 1e-12);
  const b = meter.record({ train: 1_000_000 });
  assert.equal(b['tokens/train_total'], 2_000_000);
  assert.ok(Math.abs(b['cost/total_usd']! - (1.13 + 0.44)) < 1e-12);
  const resumed = new CostMeter(hosted, b).record({ train: 0 });
  assert.equal(resumed['tokens/train_total'], 2_000_000);
  assert.deepEqual(pricesFor('Qwen/Qwen3-8B', 'http://127.0.0.1:8000'), { prefill: 0, cachedPrefill: 0, sample: 0, train: 0 });
  assert.equal(new CostMeter(pricesFor('Qwen/Qwen3-8B', undefined)).record({ train: 1e9 })['cost/total_usd'], 0);
});
