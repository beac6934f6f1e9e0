// The optimizer a training client is created with (fixed for its life, AdamW by default) and
// the parameters of each optimStep, matched against it before anything is sent.
import * as protocol from '@tinker-ts/protocol';
import type * as wire from '@tinker-ts/protocol';
import { ValidationError } from './errors.js';
import { adamParamsToWire, protocolCheck, type AdamParams } from './types.js';

/** `{ type: 'adamw' }` (the default) or `{ type: 'dimuon', version: 1 }`. */
export type OptimizerConfig = wire.OptimizerConfig;
export type OptimizerKind = wire.OptimizerKind;

/** One Dimuon step. Omitted fields take their defaults on every step (an override does not carry over). */
export interface DimuonParams {
  type: 'dimuon';
  /** Applied to a direction with Frobenius norm √rank; required, >= 0. */
  learningRate: number;
  /** Max global gradient norm; 0 (default) or less = no clipping. */
  gradClipNorm?: number;
  /** Momentum coefficient in [0, 1); default 0.9. */
  beta1?: number;
  /** Smooths the row and column preconditioner; > 0, default 1e-4. */
  damping?: number;
  /** Learning-rate correction (rank / 32)^exponent; default 0.175, 0 disables it. */
  rankLrCorrectionExponent?: number;
}

/** What optimStep takes: AdamParams for an AdamW client, DimuonParams for a Dimuon one. */
export type OptimParams = AdamParams | DimuonParams;

export const ADAM_OPTIMIZER: Readonly<OptimizerConfig> = protocol.ADAM_OPTIMIZER_CONFIG;
export const DIMUON_OPTIMIZER: Readonly<OptimizerConfig> = protocol.DIMUON_OPTIMIZER_CONFIG;

/** A checked optimizer choice in its wire form (absent = AdamW). */
export function checkOptimizer(config: OptimizerConfig | undefined, field = 'optimizer'): OptimizerConfig {
  return protocol.optimizerConfigOf(protocolCheck(() => protocol.checkOptimizerConfig(config, field)));
}

function isDimuon(params: OptimParams | undefined): params is DimuonParams {
  return typeof params === 'object' && params !== null && (params as { type?: unknown }).type === 'dimuon';
}

/**
 * The optim_step body fields for `params` on a client created with `optimizer`: AdamW's as
 * `adam_params` (the wire of every SDK), Dimuon's as `optimizer_params` (as 0.38 sends them).
 * `optimizer` null (not known here) leaves the match to the server.
 */
export function optimStepFields(optimizer: OptimizerConfig | null, params: OptimParams = {}): Pick<wire.OptimStepRequest, 'adam_params' | 'optimizer_params'> {
  const given: OptimizerKind = isDimuon(params) ? 'dimuon' : 'adamw';
  if (optimizer !== null && given !== optimizer.type) {
    const want = optimizer.type === 'dimuon' ? "DimuonParams ({ type: 'dimuon', learningRate, ... })" : 'AdamParams';
    throw new ValidationError(
      `this training client was created with the ${protocol.optimizerName(optimizer.type)} optimizer, so optimStep takes ${want}; ` +
        `got ${protocol.optimizerName(given)} parameters. The optimizer is chosen at createLoraTrainingClient({ optimizer }) and fixed.`,
      { field: given === 'dimuon' ? 'optimizer_params' : 'adam_params' },
    );
  }
  if (!isDimuon(params)) {
    const { type: _type, ...adam } = params as AdamParams & { type?: unknown };
    return { adam_params: protocolCheck(() => protocol.checkAdamParams(adamParamsToWire(adam))) };
  }
  const raw: Record<string, unknown> = { type: 'dimuon', learning_rate: params.learningRate };
  if (params.gradClipNorm !== undefined) raw.grad_clip_norm = params.gradClipNorm;
  if (params.beta1 !== undefined) raw.beta1 = params.beta1;
  if (params.damping !== undefined) raw.damping = params.damping;
  if (params.rankLrCorrectionExponent !== undefined) raw.rank_lr_correction_exponent = params.rankLrCorrectionExponent;
  return { optimizer_params: protocolCheck(() => protocol.checkDimuonParams(raw, 'optimizer_params')) };
}
