// Diagnostics of the sampler/trainer match on an RL step, named as the cookbook names them. The
// sampler's logprobs (recorded when the tokens were drawn) and the trainer's logprobs for the same
// tokens (from the forward-backward) should agree when both run the same weights; a gap means the
// two compute different numbers (kernels, precision, stale weights) and the importance ratio
// silently corrects, or fails to correct, for it.

export interface SampledTokenLogprobs {
  /** The sampler's logprob of each target token (0 where not sampled). */
  sampling: ArrayLike<number>;
  /** The trainer's logprob of the same targets. */
  training: ArrayLike<number>;
  /** > 0 on the sampled (action) tokens; only those count. */
  mask: ArrayLike<number>;
}

export interface SampleTrainMetricsOptions {
  /** The importance ratio counts as clipped outside [1 − ε, 1 + ε] (PPO's ε; default 0.2). */
  clipEpsilon?: number;
}

export interface SampleTrainMetrics {
  /** mean(sampling − training): first-order estimate of KL(sampler ‖ trainer). */
  'optim/kl_sample_train_v1': number;
  /** ½ mean((sampling − training)²): second-order estimate. */
  'optim/kl_sample_train_v2': number;
  /** −mean(sampling): the sampler's entropy estimate per token. */
  'optim/entropy': number;
  /** mean |sampling − training|: the logprob gap for the same tokens. */
  'optim/logprob_gap_mean': number;
  'optim/logprob_gap_max': number;
  /** Importance ratio exp(training − sampling) over the action tokens. */
  'optim/ratio_mean': number;
  'optim/ratio_min': number;
  'optim/ratio_max': number;
  /** Share of action tokens whose ratio lies outside [1 − ε, 1 + ε]. */
  'optim/ratio_clipped_fraction': number;
  'optim/action_tokens': number;
}

export function sampleTrainMetrics(items: readonly SampledTokenLogprobs[], opts: SampleTrainMetricsOptions = {}): SampleTrainMetrics {
  const eps = opts.clipEpsilon ?? 0.2;
  let n = 0;
  let diffSum = 0;
  let sqSum = 0;
  let sampleSum = 0;
  let absSum = 0;
  let absMax = 0;
  let ratioSum = 0;
  let ratioMin = Infinity;
  let ratioMax = -Infinity;
  let clipped = 0;
  for (const { sampling, training, mask } of items) {
    if (sampling.length !== training.length || mask.length !== training.length) {
      throw new RangeError(`sampling, training and mask logprobs differ in length (${sampling.length}, ${training.length}, ${mask.length})`);
    }
    for (let i = 0; i < mask.length; i++) {
      if (!(mask[i]! > 0)) continue;
      const d = sampling[i]! - training[i]!;
      const ratio = Math.exp(-d);
      n++;
      diffSum += d;
      sqSum += d * d;
      sampleSum += sampling[i]!;
      absSum += Math.abs(d);
      absMax = Math.max(absMax, Math.abs(d));
      ratioSum += ratio;
      ratioMin = Math.min(ratioMin, ratio);
      ratioMax = Math.max(ratioMax, ratio);
      if (ratio < 1 - eps || ratio > 1 + eps) clipped++;
    }
  }
  const mean = (x: number) => (n > 0 ? x / n : NaN);
  return {
    'optim/kl_sample_train_v1': mean(diffSum),
    'optim/kl_sample_train_v2': mean(0.5 * sqSum),
    'optim/entropy': mean(-sampleSum),
    'optim/logprob_gap_mean': mean(absSum),
    'optim/logprob_gap_max': n > 0 ? absMax : NaN,
    'optim/ratio_mean': mean(ratioSum),
    'optim/ratio_min': n > 0 ? ratioMin : NaN,
    'optim/ratio_max': n > 0 ? ratioMax : NaN,
    'optim/ratio_clipped_fraction': mean(clipped),
    'optim/action_tokens': n,
  };
}

/** Default threshold of the mean per-token logprob gap (nats) above which a step warns. */
export const DEFAULT_LOGPROB_GAP_THRESHOLD = 0.05;

/** A warning line when sampler and trainer disagree by more than `threshold` nats per token on average. */
export function logprobGapWarning(m: SampleTrainMetrics, threshold = DEFAULT_LOGPROB_GAP_THRESHOLD): string | undefined {
  const gap = m['optim/logprob_gap_mean'];
  if (!(gap > threshold)) return undefined;
  return (
    `sampler and trainer logprobs differ by ${gap.toFixed(4)} nats per token on average (max ${m['optim/logprob_gap_max'].toFixed(4)}; ` +
    `kl_sample_train_v1 ${m['optim/kl_sample_train_v1'].toExponential(2)}, v2 ${m['optim/kl_sample_train_v2'].toExponential(2)}), above ${threshold}: ` +
    'the sampler does not compute what the trainer computes for the same weights'
  );
}
