// On-policy distillation (the cookbook's distillation recipe): the student samples replies to the
// prompts from its current weights, the teacher scores the same tokens (computeLogprobs of its
// sampling client), and each sampled token's advantage is −klCoef · (student − teacher logprob),
// the per-token reverse KL (optionally summed over the following tokens with a discount), trained
// with importance_sampling. The reverse KL per token on each step's samples (`teacher_kl`, as the
// cookbook logs it) is what falls as the student matches the teacher.
import { ValidationError, type SamplingClient, type ServiceClient } from '@tinker-ts/sdk';
import { DEFAULT_LOGPROB_GAP_THRESHOLD } from '../rl-metrics.js';
import { submitPolicyGradientStep } from './rl.js';
import type { Message } from '../renderers/message.js';
import { readPrompts } from './jsonl-data.js';
import { trajectoryToData, type PolicyGradientDatum } from './rl-rollouts.js';
import { batchAt } from './shuffle.js';
import { runStepLoop, type StepLoopResult } from './step-loop.js';
import { learningRateOf, recipeRenderer } from './supervised.js';
import { openTrainingRun, type RecipeRunConfig } from './training-run.js';

export interface OnPolicyDistillationConfig extends RecipeRunConfig {
  /** Prompts, or `dataFile` (JSONL, see readPrompts). */
  prompts?: readonly Message[][];
  dataFile?: string | URL;
  /** The teacher: sampler weights, or a base model. */
  teacherModelPath?: string;
  teacherBaseModel?: string;
  /** Prompts per step (default 8) and samples per prompt (default 4). */
  batchSize?: number;
  groupSize?: number;
  /** Default one pass over the prompts. */
  steps?: number;
  learningRate?: number;
  maxTokens?: number;
  temperature?: number;
  /** Weight of the reverse-KL advantage (default 1). */
  klCoef?: number;
  /** 0 (default): each token's advantage is its own −KL; γ > 0: the discounted sum of the −KL of it and the tokens after it. */
  klDiscountFactor?: number;
  renderer?: string;
  logprobGapThreshold?: number;
}

export interface OnPolicyDistillationResult extends StepLoopResult {}

export async function trainOnPolicyDistillation(service: ServiceClient, config: OnPolicyDistillationConfig): Promise<OnPolicyDistillationResult> {
  const prompts = config.prompts ?? (config.dataFile !== undefined ? readPrompts(config.dataFile) : undefined);
  if (!prompts || prompts.length === 0) throw new ValidationError('distillation: give prompts or a dataFile with at least one', { field: 'dataFile' });
  if ((config.teacherModelPath === undefined) === (config.teacherBaseModel === undefined)) {
    throw new ValidationError('distillation: give exactly one of teacherModelPath or teacherBaseModel', { field: 'teacherModelPath' });
  }
  const batchSize = Math.min(config.batchSize ?? 8, prompts.length);
  const groupSize = config.groupSize ?? 4;
  if (!Number.isInteger(groupSize) || groupSize < 1) throw new ValidationError(`groupSize: must be a positive integer, got ${groupSize}`, { field: 'groupSize' });
  const totalSteps = config.steps ?? Math.floor(prompts.length / batchSize);
  const learningRate = learningRateOf(config);
  const klCoef = config.klCoef ?? 1;
  const discount = config.klDiscountFactor ?? 0;
  if (!(discount >= 0 && discount <= 1)) throw new ValidationError(`klDiscountFactor: must be in [0, 1], got ${discount}`, { field: 'klDiscountFactor' });

  const run = await openTrainingRun(service, config);
  const teacher: SamplingClient = await service.createSamplingClient(
    config.teacherModelPath !== undefined ? { modelPath: config.teacherModelPath } : { baseModel: config.teacherBaseModel! },
  );
  const renderer = recipeRenderer(config.renderer, config.baseModel, await run.training.getTokenizer());

  return runStepLoop({
    run,
    label: 'distillation',
    totalSteps,
    saveEvery: config.saveEvery ?? 0,
    progressKeys: ['teacher_kl', 'optim/logprob_gap_mean', 'tokens/sample', 'cost/total_usd', 'time/step_s'],
    submit: async (step) => {
      const student = await run.training.saveWeightsAndGetSamplingClient();
      const batch = batchAt(prompts, batchSize, step, config.seed ?? 0);
      const scored = await Promise.all(
        batch.map(async (prompt, p) => {
          const observation = renderer.buildGenerationPrompt(prompt);
          const samples = await student.sample({
            prompt: observation,
            numSamples: groupSize,
            samplingParams: {
              maxTokens: config.maxTokens ?? 256,
              temperature: config.temperature ?? 1,
              stop: renderer.stopSequences(),
              ...(config.seed !== undefined ? { seed: (config.seed * 100_003 + step) * 1_000 + p } : {}),
            },
          });
          return Promise.all(
            samples.sequences
              .filter((s) => s.tokens.length > 0)
              .map(async (s) => {
                if (!s.logprobs || s.logprobs.length !== s.tokens.length) throw new ValidationError('the sampler returned no logprobs for its tokens', { field: 'logprobs' });
                const teacherLp = await teacher.computeLogprobs([...observation, ...s.tokens]);
                const reverseKl = s.tokens.map((_, k) => s.logprobs![k]! - (teacherLp[observation.length + k] ?? 0));
                return { observation, action: s.tokens, logprobs: s.logprobs, reverseKl };
              }),
          );
        }),
      );

      const items: PolicyGradientDatum[] = [];
      let klSum = 0;
      let tokenCount = 0;
      let prefill = 0;
      for (const s of scored.flat()) {
        klSum += s.reverseKl.reduce((a, b) => a + b, 0);
        tokenCount += s.reverseKl.length;
        prefill += s.observation.length * 2 + s.action.length;
        const trajectory = { transitions: [{ observation: s.observation, action: s.action, actionLogprobs: s.logprobs, reward: 0, episodeDone: true, metrics: {} }] };
        items.push(...trajectoryToData(trajectory, 0, [discountedFutureSum(s.reverseKl.map((kl) => -klCoef * kl), discount)]));
      }
      const base = { teacher_kl: tokenCount > 0 ? klSum / tokenCount : NaN, learning_rate: learningRate, num_datums: items.length };
      const tokens = { sample: tokenCount, prefill };
      return submitPolicyGradientStep(run.training, items, learningRate, base, tokens, config.logprobGapThreshold ?? DEFAULT_LOGPROB_GAP_THRESHOLD);
    },
  });
}

/** x_t + γ·x_{t+1} + γ²·x_{t+2} + …, for each t (x itself when γ = 0). */
export function discountedFutureSum(x: readonly number[], gamma: number): number[] {
  const out = new Array<number>(x.length);
  let acc = 0;
  for (let t = x.length - 1; t >= 0; t--) {
    acc = x[t]! + gamma * acc;
    out[t] = acc;
  }
  return out;
}
