/**
 * The optimizer step: torch.optim.AdamW over every LoRA tensor of an adapter, after optional
 * clipping of the global gradient norm (torch.nn.utils.clip_grad_norm_), then the gradients are
 * zeroed for the next accumulation.
 */
import type { Kernels } from './kernels.js';
import type { AdapterState } from './model-types.js';
import { EngineUserError } from './errors.js';
import { ADAM_PARAMS_DEFAULTS, type AdamParams } from '@tinker-ts/protocol';

export type { AdamParams };

/** The Tinker SDK's defaults. */
export const DEFAULT_ADAM_PARAMS: AdamParams = ADAM_PARAMS_DEFAULTS;

function validateAdamParams(p: AdamParams): void {
  const check = (ok: boolean, what: string, value: number): void => {
    if (!ok) throw new EngineUserError(`adam_params.${what} ${value} is invalid`);
  };
  const finite = (x: number): boolean => typeof x === 'number' && Number.isFinite(x);
  check(finite(p.learning_rate) && p.learning_rate >= 0, 'learning_rate', p.learning_rate);
  check(finite(p.beta1) && p.beta1 >= 0 && p.beta1 < 1, 'beta1', p.beta1);
  check(finite(p.beta2) && p.beta2 >= 0 && p.beta2 < 1, 'beta2', p.beta2);
  check(finite(p.eps) && p.eps >= 0, 'eps', p.eps);
  check(finite(p.weight_decay) && p.weight_decay >= 0, 'weight_decay', p.weight_decay);
  check(finite(p.grad_clip_norm) && p.grad_clip_norm >= 0, 'grad_clip_norm', p.grad_clip_norm);
}

/** L2 norm over all of the adapter's accumulated gradients. */
export function globalGradNorm(k: Kernels, adapter: AdapterState): number {
  let sum = 0;
  for (const g of adapter.grads.values()) sum += k.sumOfSquares(g.A) + k.sumOfSquares(g.B);
  return Math.sqrt(sum);
}

/** One AdamW step on the adapter; returns metrics (`grad_norm:mean` is the norm before clipping). */
export function optimStep(k: Kernels, adapter: AdapterState, adam: AdamParams): Record<string, number> {
  validateAdamParams(adam);
  const gradNorm = clipGradients(k, adapter, adam.grad_clip_norm);
  adapter.step += 1;
  for (const [key, p] of adapter.params) {
    const g = adapter.grads.get(key)!;
    const m = adapter.adamM.get(key)!;
    const v = adapter.adamV.get(key)!;
    k.adamw(p.A, g.A, m.A, v.A, adam.learning_rate, adam.beta1, adam.beta2, adam.eps, adam.weight_decay, adapter.step);
    k.adamw(p.B, g.B, m.B, v.B, adam.learning_rate, adam.beta1, adam.beta2, adam.eps, adam.weight_decay, adapter.step);
  }
  zeroGradients(adapter);
  return { 'grad_norm:mean': gradNorm, 'learning_rate:mean': adam.learning_rate, 'step:max': adapter.step };
}

/**
 * The gradients' global norm (before clipping), after scaling them down to `clipNorm` when they
 * exceed it (0 = no clipping). A NaN/Inf gradient would silently destroy the adapter: the step
 * is refused and the gradients dropped. Every optimizer starts its step with this.
 */
export function clipGradients(k: Kernels, adapter: AdapterState, clipNorm: number): number {
  const gradNorm = globalGradNorm(k, adapter);
  if (!Number.isFinite(gradNorm)) {
    zeroGradients(adapter);
    throw new EngineUserError(`gradient norm is ${gradNorm}; the step was skipped and the gradients discarded`);
  }
  if (clipNorm > 0) {
    const coef = Math.min(1, clipNorm / (gradNorm + 1e-6));
    if (coef < 1) for (const g of adapter.grads.values()) { k.scale(g.A, coef); k.scale(g.B, coef); }
  }
  return gradNorm;
}

export function zeroGradients(adapter: AdapterState): void {
  for (const g of adapter.grads.values()) { g.A.fill(0); g.B.fill(0); }
}
