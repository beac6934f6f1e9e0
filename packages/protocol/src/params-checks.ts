/**
 * Semantic checks of optimizer and sampling parameters, shared by the SDK
 * (before sending) and the server. Each returns the parameters with the
 * SDK's defaults filled in.
 */

import { ValidationError } from './errors.js';
import { finiteNumber as finite, joinPath as join } from './check-primitives.js';
import type { AdamParams, SamplingParams } from './types.js';
import { ADAM_PARAMS_DEFAULTS, SAMPLING_PARAMS_DEFAULTS } from './types.js';

/** AdamW hyper-parameters within the ranges torch.optim.AdamW accepts. */
export function checkAdamParams(params: Partial<AdamParams> | null | undefined, path = 'adam_params'): AdamParams {
  const p = { ...ADAM_PARAMS_DEFAULTS, ...stripUndefined(params ?? {}) };
  const lr = finite(p.learning_rate, join(path, 'learning_rate'));
  if (lr < 0) throw new ValidationError(`must be >= 0, got ${lr}`, join(path, 'learning_rate'));
  for (const key of ['beta1', 'beta2'] as const) {
    const b = finite(p[key], join(path, key));
    if (b < 0 || b >= 1) throw new ValidationError(`must be in [0, 1), got ${b}`, join(path, key));
  }
  for (const key of ['eps', 'weight_decay', 'grad_clip_norm'] as const) {
    const v = finite(p[key], join(path, key));
    if (v < 0) throw new ValidationError(`must be >= 0, got ${v}`, join(path, key));
  }
  return {
    learning_rate: p.learning_rate,
    beta1: p.beta1,
    beta2: p.beta2,
    eps: p.eps,
    weight_decay: p.weight_decay,
    grad_clip_norm: p.grad_clip_norm,
  };
}

export interface ResolvedSamplingParams {
  max_tokens: number | null;
  seed: number | null;
  /** Stop strings or stop token ids (never both). */
  stop: string[] | number[];
  temperature: number;
  top_k: number;
  top_p: number;
}

export interface CheckSamplingOptions {
  /** When set, max_tokens may not exceed it. */
  maxTokensLimit?: number;
}

/**
 * max_tokens >= 1 when set, temperature >= 0 (0 = greedy), top_p in (0, 1],
 * top_k = -1 (off) or >= 1, seed a non-negative integer, stop a string, a
 * list of strings or a list of non-negative token ids.
 */
export function checkSamplingParams(
  params: SamplingParams,
  path = 'sampling_params',
  opts: CheckSamplingOptions = {},
): ResolvedSamplingParams {
  if (typeof params !== 'object' || params === null) {
    throw new ValidationError(`expected an object, got ${JSON.stringify(params)}`, path);
  }
  const maxTokens = params.max_tokens ?? null;
  if (maxTokens !== null) {
    if (!Number.isInteger(maxTokens) || maxTokens < 1) {
      throw new ValidationError(`must be an integer >= 1, got ${maxTokens}`, join(path, 'max_tokens'));
    }
    if (opts.maxTokensLimit !== undefined && maxTokens > opts.maxTokensLimit) {
      throw new ValidationError(`must be <= ${opts.maxTokensLimit}, got ${maxTokens}`, join(path, 'max_tokens'));
    }
  }
  const seed = params.seed ?? null;
  if (seed !== null && (!Number.isInteger(seed) || seed < 0)) {
    throw new ValidationError(`must be a non-negative integer, got ${seed}`, join(path, 'seed'));
  }
  const temperature = finite(params.temperature ?? SAMPLING_PARAMS_DEFAULTS.temperature, join(path, 'temperature'));
  if (temperature < 0) throw new ValidationError(`must be >= 0, got ${temperature}`, join(path, 'temperature'));
  const topP = finite(params.top_p ?? SAMPLING_PARAMS_DEFAULTS.top_p, join(path, 'top_p'));
  if (!(topP > 0 && topP <= 1)) throw new ValidationError(`must be in (0, 1], got ${topP}`, join(path, 'top_p'));
  const topK = params.top_k ?? SAMPLING_PARAMS_DEFAULTS.top_k;
  if (!Number.isInteger(topK) || (topK !== -1 && topK < 1)) {
    throw new ValidationError(`must be -1 (no limit) or an integer >= 1, got ${topK}`, join(path, 'top_k'));
  }
  return { max_tokens: maxTokens, seed, stop: checkStop(params.stop, join(path, 'stop')), temperature, top_k: topK, top_p: topP };
}

function checkStop(stop: SamplingParams['stop'], path: string): string[] | number[] {
  if (stop == null) return [];
  if (typeof stop === 'string') {
    if (stop.length === 0) throw new ValidationError('stop string must not be empty', path);
    return [stop];
  }
  if (!Array.isArray(stop)) throw new ValidationError(`expected a string or a list, got ${typeof stop}`, path);
  if (stop.length === 0) return [];
  if (typeof stop[0] === 'string') {
    stop.forEach((s, i) => {
      if (typeof s !== 'string' || s.length === 0) {
        throw new ValidationError(`expected a non-empty string, got ${JSON.stringify(s)}`, `${path}[${i}]`);
      }
    });
    return stop as string[];
  }
  stop.forEach((t, i) => {
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0) {
      throw new ValidationError(`expected a non-negative token id, got ${JSON.stringify(t)}`, `${path}[${i}]`);
    }
  });
  return stop as number[];
}

function stripUndefined<T extends object>(obj: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
