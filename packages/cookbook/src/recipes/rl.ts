// Reinforcement learning on environments (the cookbook's rl train loop and rl_loop): each step
// samples every group of the batch from exactly the weights being trained, centres each group's
// rewards into advantages (groups whose rewards are all equal teach nothing and are dropped),
// and trains with the importance_sampling loss on the sampler's logprobs. Every step also
// reports how far the sampler's logprobs are from the trainer's for the same tokens, and warns
// past a threshold.
import { ValidationError, type ServiceClient, type TrainingClient } from '@tinker-ts/sdk';
import type { StepTokens } from '../cost-meter.js';
import { DEFAULT_LOGPROB_GAP_THRESHOLD, logprobGapWarning, sampleTrainMetrics } from '../rl-metrics.js';
import { centeredAdvantages, doGroupRollout, trajectoryToData, type PolicyGradientDatum } from './rl-rollouts.js';
import type { RLDataset } from './rl-types.js';
import type { StepMetrics } from './metrics-log.js';
import { runStepLoop, type StepLoopResult, type StepOutcome, type SubmittedStep } from './step-loop.js';
import { inputTokens, learningRateOf } from './supervised.js';
import { openTrainingRun, type RecipeRunConfig } from './training-run.js';

export interface RlConfig extends RecipeRunConfig {
  dataset: RLDataset;
  /** Steps (batches) of the whole run; default one pass over the dataset. */
  steps?: number;
  /**
   * Default getLr(baseModel): the cookbook's LoRA rates (1e-3 for Qwen3-8B-sized models, 3e-4
   * for larger), the order its RL recipes use.
   */
  learningRate?: number;
  temperature?: number;
  /** Tokens per turn when the env's stop condition gives none (default 256). */
  maxTokens?: number;
  /** Mean sampler/trainer logprob gap (nats per token) above which a step warns. */
  logprobGapThreshold?: number;
}

export interface RlResult extends StepLoopResult {}

export async function trainRl(service: ServiceClient, config: RlConfig): Promise<RlResult> {
  const dataset = config.dataset;
  if (!dataset || typeof dataset.getBatch !== 'function') throw new ValidationError('rl: a dataset with getBatch(index) is required', { field: 'dataset' });
  const totalSteps = config.steps ?? dataset.length;
  const learningRate = learningRateOf(config);
  const threshold = config.logprobGapThreshold ?? DEFAULT_LOGPROB_GAP_THRESHOLD;
  const run = await openTrainingRun(service, config);

  return runStepLoop({
    run,
    label: 'rl',
    totalSteps,
    saveEvery: config.saveEvery ?? 0,
    progressKeys: ['env/reward_mean', 'env/groups_skipped', 'optim/kl_sample_train_v1', 'optim/logprob_gap_mean', 'tokens/sample', 'cost/total_usd', 'time/step_s'],
    submit: async (step) => {
      // Ordered after the previous optim_step: the samples come from the current weights.
      const sampler = await run.training.saveWeightsAndGetSamplingClient();
      const builders = await dataset.getBatch(step);
      const groups = await Promise.all(
        builders.map((b, g) =>
          doGroupRollout(b, sampler, {
            maxTokens: config.maxTokens ?? 256,
            ...(config.temperature !== undefined ? { temperature: config.temperature } : {}),
            ...(config.seed !== undefined ? { seed: (config.seed * 100_003 + step) * 1_000 + g * 10 } : {}),
          }),
        ),
      );

      const items: PolicyGradientDatum[] = [];
      const envMetrics = new Map<string, { sum: number; n: number }>();
      let rewardSum = 0;
      let episodes = 0;
      let turns = 0;
      let skipped = 0;
      let sampledTokens = 0;
      let promptTokens = 0;
      for (const group of groups) {
        for (const [i, t] of group.trajectories.entries()) {
          rewardSum += group.totalRewards[i]!;
          episodes++;
          turns += t.transitions.length;
          for (const x of t.transitions) {
            sampledTokens += x.action.length;
            promptTokens += x.observation.length;
            for (const [k, v] of Object.entries(x.metrics)) {
              const m = envMetrics.get(k) ?? { sum: 0, n: 0 };
              m.sum += v;
              m.n++;
              envMetrics.set(k, m);
            }
          }
        }
        const advantages = centeredAdvantages(group.totalRewards);
        if (advantages.every((a) => a === 0)) {
          skipped++;
          continue;
        }
        group.trajectories.forEach((t, i) => items.push(...trajectoryToData(t, advantages[i]!)));
      }

      const base: Record<string, number> = {
        'env/reward_mean': rewardSum / Math.max(1, episodes),
        'env/episodes': episodes,
        'env/turns_mean': turns / Math.max(1, episodes),
        'env/groups_skipped': skipped,
        learning_rate: learningRate,
        num_datums: items.length,
      };
      for (const [k, m] of envMetrics) base[`env/${k}`] = m.sum / m.n;
      const tokens = { sample: sampledTokens, prefill: promptTokens };
      return submitPolicyGradientStep(run.training, items, learningRate, base, tokens, threshold);
    },
  });
}

/**
 * One importance_sampling step on `items` (pipelined: forwardBackward and optimStep are queued
 * now); its outcome adds the sampler/trainer diagnostics of rl-metrics.ts to `base`, and the gap
 * warning when the gap exceeds `threshold`. No items: nothing is sent.
 */
export function submitPolicyGradientStep(
  training: TrainingClient, items: readonly PolicyGradientDatum[], learningRate: number,
  base: StepMetrics, tokens: StepTokens, threshold: number,
): SubmittedStep {
  if (items.length === 0) return { outcome: Promise.resolve<StepOutcome>({ metrics: base, tokens }) };
  const data = items.map((x) => x.datum);
  const fwdBwd = training.forwardBackward(data, 'importance_sampling');
  const optim = training.optimStep({ learningRate, beta1: 0.9, beta2: 0.95, eps: 1e-8 });
  const outcome = (async (): Promise<StepOutcome> => {
    const result = await fwdBwd;
    await optim;
    // The trainer's logprobs of the sampled tokens, before this step's update: the same weights the sampler used.
    const diagnostics = sampleTrainMetrics(
      items.map((x, i) => ({ sampling: x.samplingLogprobs, training: result.lossFnOutputs[i]!['logprobs']!.toArray(), mask: x.mask })),
    );
    const warning = logprobGapWarning(diagnostics, threshold);
    return { metrics: { ...base, ...diagnostics }, tokens: { ...tokens, train: inputTokens(data) }, ...(warning ? { warnings: [warning] } : {}) };
  })();
  return { outcome };
}
