/**
 * The optimizer a training model is created with (fixed for its life) and the per-step
 * parameters of the non-Adam family, as the official SDK's `types/optimizer.py` names them.
 * AdamParams stays in types.ts, where it has been since 0.25.
 */

/** The family an `OptimizerConfig` selects, by its `type`. */
export type OptimizerKind = 'adamw' | 'dimuon';

export interface AdamOptimizerConfig {
  type: 'adamw';
}

/** "Dimuon identity retained by full-state resume." */
export interface DimuonOptimizerConfig {
  type: 'dimuon';
  version: 1;
}

/** create_model's `optimizer_config`; absent (SDKs before 0.38) means AdamW. */
export type OptimizerConfig = AdamOptimizerConfig | DimuonOptimizerConfig;

export const ADAM_OPTIMIZER_CONFIG: Readonly<AdamOptimizerConfig> = Object.freeze({ type: 'adamw' });
export const DIMUON_OPTIMIZER_CONFIG: Readonly<DimuonOptimizerConfig> = Object.freeze({ type: 'dimuon', version: 1 });

/** The config that selects `kind` (the wire form a server reports back). */
export function optimizerConfigOf(kind: OptimizerKind): OptimizerConfig {
  return kind === 'dimuon' ? { ...DIMUON_OPTIMIZER_CONFIG } : { ...ADAM_OPTIMIZER_CONFIG };
}

/** Readable name of a family, for messages. */
export function optimizerName(kind: OptimizerKind): string {
  return kind === 'dimuon' ? 'Dimuon' : 'AdamW';
}

/**
 * One Dimuon step's hyper-parameters. Omitted fields take their defaults on every step:
 * an override of one step does not carry to the next.
 */
export interface DimuonParams {
  type: 'dimuon';
  /** Applied to a direction with Frobenius norm sqrt(rank); >= 0, required. */
  learning_rate: number;
  /** Max global gradient norm; 0 or less disables clipping. */
  grad_clip_norm: number;
  /** Momentum EMA coefficient, in [0, 1). */
  beta1: number;
  /** > 0; smooths the row and column preconditioner. */
  damping: number;
  /** Learning-rate correction (rank / 32) ^ exponent; 0 disables it. */
  rank_lr_correction_exponent: number;
}

export const DIMUON_PARAMS_DEFAULTS: Readonly<Omit<DimuonParams, 'type' | 'learning_rate'>> = Object.freeze({
  grad_clip_norm: 0.0,
  beta1: 0.9,
  damping: 1e-4,
  rank_lr_correction_exponent: 0.175,
});

/** Dimuon params as sent: everything but `type` and `learning_rate` may be left out. */
export type DimuonParamsInput = Pick<DimuonParams, 'learning_rate'> & Partial<DimuonParams>;
