/**
 * The Tinker loss functions, per token, sum-reduced as the hosted service does (never normalised
 * per sequence). t = learner logprob of the target, s = sampler logprob (`logprobs` input),
 * A = `advantages`, r = exp(t − s):
 *
 *   cross_entropy        −w·t  (with (N,K) targets/weights: one term per target)
 *   importance_sampling  −r·A
 *   ppo                  −min(r·A, clamp(r, lo, hi)·A)          lo/hi default 0.8/1.2
 *   cispo                −stopgrad(clamp(r, lo, hi))·t·A          lo/hi default 0.0/4.0
 *   dro                  −(t·A − ½·beta·(t − s)²)                 beta required
 *
 * A TokenLoss evaluates the per-element loss and dL/dt over a range of elements, so the model can
 * take the gradient chunk by chunk while the head's logits are at hand.
 */
import { LOSS_CONFIG_DEFAULTS, LOSS_FN_TYPES, type LossFnType } from '@tinker-ts/protocol';
import { EngineUserError } from './errors.js';

/** The loss names and config defaults are the wire's: one table, in the protocol package. */
export const LOSS_NAMES = LOSS_FN_TYPES;
export type LossName = LossFnType;

export function isLossName(name: string): name is LossName {
  return (LOSS_NAMES as readonly string[]).includes(name);
}

/** loss_fn_inputs each loss reads besides target_tokens. */
export const LOSS_INPUT_KEYS: Record<LossName, readonly ('weights' | 'logprobs' | 'advantages')[]> = {
  cross_entropy: ['weights'],
  importance_sampling: ['logprobs', 'advantages'],
  ppo: ['logprobs', 'advantages'],
  cispo: ['logprobs', 'advantages'],
  dro: ['logprobs', 'advantages'],
};

/** Per-element inputs aligned with the packed batch ([T*K] for weights, [T] otherwise; K > 1 only for cross_entropy). */
export interface LossInputs {
  weights?: Float32Array;
  samplerLogprobs?: Float32Array;
  advantages?: Float32Array;
}

export interface TokenLoss {
  readonly name: LossName;
  /**
   * For elements start .. start+t.length−1: loss[i] = per-element loss, and (if given) dt[i] = dL/dt.
   * Statistics for `metrics()` accumulate across calls.
   */
  evaluate(start: number, t: Float32Array, loss: Float32Array, dt: Float32Array | null): void;
  /** Metrics over everything evaluated so far, each named `name:reduction`. */
  metrics(): Record<string, number>;
}

/** Validates the config against the loss and fills defaults. */
export function resolveLossConfig(name: LossName, config: Record<string, number> | null | undefined): Record<string, number> {
  const defaults = LOSS_CONFIG_DEFAULTS[name];
  const resolved: Record<string, number> = {};
  for (const key of Object.keys(config ?? {})) {
    if (!(key in defaults)) {
      const allowed = Object.keys(defaults);
      throw new EngineUserError(`loss_fn_config key '${key}' is not used by ${name}` +
        (allowed.length > 0 ? ` (it accepts ${allowed.join(', ')})` : ' (it takes no config)'));
    }
  }
  for (const [key, def] of Object.entries(defaults)) {
    const value = config?.[key] ?? def;
    if (value === undefined) throw new EngineUserError(`${name} requires loss_fn_config.${key}`);
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new EngineUserError(`loss_fn_config.${key} must be a finite number, got ${value}`);
    resolved[key] = value;
  }
  if ('clip_low_threshold' in resolved && resolved.clip_low_threshold > resolved.clip_high_threshold) {
    throw new EngineUserError(`clip_low_threshold (${resolved.clip_low_threshold}) is above clip_high_threshold (${resolved.clip_high_threshold})`);
  }
  return resolved;
}

function need(buf: Float32Array | undefined, what: string, loss: LossName): Float32Array {
  if (buf === undefined) throw new EngineUserError(`${loss} requires loss_fn_inputs.${what}`);
  return buf;
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/** Builds the TokenLoss for `name`; `config` as returned by resolveLossConfig. */
export function createTokenLoss(name: LossName, inputs: LossInputs, config: Record<string, number>): TokenLoss {
  let lossSum = 0;
  switch (name) {
    case 'cross_entropy': {
      const w = need(inputs.weights, 'weights', name);
      return {
        name,
        evaluate(start, t, loss, dt) {
          for (let i = 0; i < t.length; i++) {
            const wi = w[start + i];
            loss[i] = -wi * t[i];
            lossSum += loss[i];
            if (dt !== null) dt[i] = -wi;
          }
        },
        metrics: () => ({ 'loss:sum': lossSum }),
      };
    }
    case 'importance_sampling': {
      const s = need(inputs.samplerLogprobs, 'logprobs', name);
      const A = need(inputs.advantages, 'advantages', name);
      return {
        name,
        evaluate(start, t, loss, dt) {
          for (let i = 0; i < t.length; i++) {
            const r = Math.exp(t[i] - s[start + i]);
            const a = A[start + i];
            loss[i] = -r * a;
            lossSum += loss[i];
            if (dt !== null) dt[i] = -r * a;
          }
        },
        metrics: () => ({ 'loss:sum': lossSum }),
      };
    }
    case 'ppo':
    case 'cispo': {
      const s = need(inputs.samplerLogprobs, 'logprobs', name);
      const A = need(inputs.advantages, 'advantages', name);
      const lo = config.clip_low_threshold;
      const hi = config.clip_high_threshold;
      // clip_fraction counts tokens that carry an advantage (A ≠ 0) and whose ratio falls outside [lo, hi].
      let active = 0;
      let clipped = 0;
      const ppo = name === 'ppo';
      return {
        name,
        evaluate(start, t, loss, dt) {
          for (let i = 0; i < t.length; i++) {
            const r = Math.exp(t[i] - s[start + i]);
            const a = A[start + i];
            const rc = clamp(r, lo, hi);
            if (a !== 0) {
              active++;
              if (rc !== r) clipped++;
            }
            if (ppo) {
              const unclippedObjective = r * a;
              const clippedObjective = rc * a;
              // The min picks the clipped branch only when the ratio is outside [lo, hi]; its gradient is then 0.
              const useUnclipped = unclippedObjective <= clippedObjective;
              loss[i] = -(useUnclipped ? unclippedObjective : clippedObjective);
              if (dt !== null) dt[i] = useUnclipped ? -r * a : 0;
            } else {
              loss[i] = -rc * t[i] * a;
              if (dt !== null) dt[i] = -rc * a;
            }
            lossSum += loss[i];
          }
        },
        metrics: () => ({ 'loss:sum': lossSum, 'clip_fraction:mean': active === 0 ? 0 : clipped / active }),
      };
    }
    case 'dro': {
      const s = need(inputs.samplerLogprobs, 'logprobs', name);
      const A = need(inputs.advantages, 'advantages', name);
      const beta = config.beta;
      return {
        name,
        evaluate(start, t, loss, dt) {
          for (let i = 0; i < t.length; i++) {
            const a = A[start + i];
            const diff = t[i] - s[start + i];
            loss[i] = -(t[i] * a - 0.5 * beta * diff * diff);
            lossSum += loss[i];
            if (dt !== null) dt[i] = -(a - beta * diff);
          }
        },
        metrics: () => ({ 'loss:sum': lossSum }),
      };
    }
  }
}
